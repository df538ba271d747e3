// A worker thread of the FileReaderPool (fileReader.ts): reads files and byte ranges with
// blocking calls and hashes what it read, off the thread that drives the requests. Bundled on its
// own as dist/fileReaderWorker.js; under tsx (tests) this file runs as is.
import { createHash } from 'node:crypto';
import { closeSync, fstatSync, openSync, readSync, type Stats } from 'node:fs';
import { parentPort } from 'node:worker_threads';
import { crc32c } from './checksums';
import type { ReadReply, ReadTask } from './fileReaderProtocol';

parentPort!.on('message', (tasks: ReadTask[]) => {
  const replies: ReadReply[] = [];
  const transfer: ArrayBuffer[] = [];
  for (const task of tasks) {
    const reply = run(task);
    replies.push(reply);
    if ('buffer' in reply && reply.buffer) transfer.push(reply.buffer);
  }
  parentPort!.postMessage(replies, transfer);
});

function run(task: ReadTask): ReadReply {
  let fd: number | undefined;
  try {
    fd = openSync(task.path, 'r');
    const before = version(fstatSync(fd));
    // A whole file read to the size it has now; a range to the length asked for.
    const length = task.offset === undefined ? before.size : task.length;
    if (task.offset === undefined && length > task.maxBytes) return { id: task.id, tooLarge: true, before, buffer: task.buffer };
    const buffer = task.buffer ?? new ArrayBuffer(length);
    const bytes = new Uint8Array(buffer, 0, length);
    let done = 0;
    while (done < length) {
      const n = readSync(fd, bytes, done, length - done, (task.offset ?? 0) + done);
      if (n === 0) break; // the file is shorter than it was: the caller sees bytesRead < length
      done += n;
    }
    const after = version(fstatSync(fd));
    const data = bytes.subarray(0, done);
    return {
      id: task.id,
      buffer,
      bytesRead: done,
      before,
      after,
      md5: createHash('md5').update(data).digest('base64'),
      crc32c: task.crc32c ? crc32c(data) : undefined,
    };
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    // A buffer lent for this read is dropped with it: the engine frees its bytes in the budget.
    return { id: task.id, error: { message: e.message, code: e.code, syscall: e.syscall, path: e.path } };
  } finally {
    if (fd !== undefined) closeQuietly(fd);
  }
}

function closeQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // Nothing was written through it: a failed close loses nothing.
  }
}

function version(stats: Stats): { size: number; mtimeMs: number } {
  return { size: stats.size, mtimeMs: stats.mtimeMs };
}

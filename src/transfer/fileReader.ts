import { availableParallelism } from 'node:os';
import type { Worker } from 'node:worker_threads';
import { AbortWatch } from '../core/abortWatch';
import { throwIfAborted } from '../core/progress';
import type { FileVersion, ReadReply, ReadTask } from './fileReaderProtocol';
import { startWorkerThread } from './workerThread';

export type { FileVersion } from './fileReaderProtocol';

export interface FileRead {
  /** The bytes read: a view of the lent buffer, or of one the worker made. */
  readonly data: Buffer;
  /** fstat when the file was opened and after the read. */
  readonly before: FileVersion;
  readonly after: FileVersion;
  readonly md5: Buffer;
  readonly crc32c?: number;
}

/** A whole file bigger than the bytes reserved for it: it grew since it was scanned. */
export interface TooLarge {
  readonly tooLarge: true;
  readonly before: FileVersion;
  /** The lent buffer, back unused. */
  readonly buffer?: Buffer;
}

/** A reply that is not an error: an error rejects the read instead. */
type ReadOutcome = Exclude<ReadReply, { error: unknown }>;

/** A batch holds reads up to this many bytes (or one larger read), so big reads spread over the workers. */
const BATCH_BYTES = 4 * 1024 * 1024;

interface Pending {
  readonly resolve: (reply: ReadReply) => void;
  readonly reject: (err: Error) => void;
}

/**
 * Reads files and byte ranges in worker threads and hashes them there (MD5, and CRC32C when
 * asked), so the thread that signs and sends requests does neither. On a two-core login node
 * that thread was the limit: reading and hashing took half of its time for small files, and
 * hashing 8 MiB parts held big uploads near 290 MB/s. Blocking reads in a worker also keep a
 * slow network file system from stalling requests already in flight.
 *
 * A worker takes one batch of tasks at a time, as one message.
 */
export class FileReaderPool {
  private workers: Worker[] = [];
  /** Whether each worker has a batch it has not answered yet. */
  private readonly busy: boolean[] = [];
  private readonly queued: ReadTask[] = [];
  private readonly pending = new Map<number, Pending>();
  private readonly watch = new AbortWatch<number>((id, reason) => {
    this.pending.get(id)?.reject(reason as Error);
    this.pending.delete(id);
  });
  private nextId = 1;
  private dispatchScheduled = false;
  private failure?: Error;

  constructor(private readonly size = Math.min(4, Math.max(2, availableParallelism()))) {}

  /**
   * The whole file, if it holds at most `maxBytes`; else its size, to reserve more and ask
   * again. Read into `buffer` when one is lent (at least `maxBytes`; see readRange).
   */
  async readWhole(path: string, maxBytes: number, options: { crc32c: boolean; buffer?: Buffer; signal?: AbortSignal }): Promise<FileRead | TooLarge> {
    const lent = options.buffer && ownArrayBuffer(options.buffer, maxBytes);
    const reply = await this.submit({ path, length: 0, maxBytes, buffer: lent, crc32c: options.crc32c }, options.signal);
    if ('tooLarge' in reply) return { tooLarge: true, before: reply.before, buffer: reply.buffer && Buffer.from(reply.buffer) };
    return toFileRead(reply);
  }

  /**
   * `length` bytes from `offset`, into `buffer` (lent to the worker until this settles; use the
   * returned data, not `buffer`, which is empty meanwhile). Fewer bytes than asked means the
   * file shrank.
   */
  async readRange(path: string, offset: number, length: number, buffer: Buffer, options: { crc32c: boolean; signal?: AbortSignal }): Promise<FileRead> {
    const reply = await this.submit({ path, offset, length, maxBytes: length, buffer: ownArrayBuffer(buffer, length), crc32c: options.crc32c }, options.signal);
    if ('tooLarge' in reply) throw new Error('unreachable: a range is never too large');
    return toFileRead(reply);
  }

  /** Stops the workers; reads still running fail. */
  destroy(): void {
    const workers = this.workers;
    this.workers = [];
    this.fail(readerFailed('The file reader was closed.'));
    for (const worker of workers) void worker.terminate();
  }

  private submit(task: Omit<ReadTask, 'id'>, signal?: AbortSignal): Promise<ReadOutcome> {
    throwIfAborted(signal);
    if (this.failure) return Promise.reject(this.failure);
    this.start();
    const id = this.nextId++;
    this.queued.push({ ...task, id });
    this.schedule();
    if (this.pending.size === 0) for (const worker of this.workers) worker.ref();
    return new Promise<ReadOutcome>((resolve, reject) => {
      // A cancelled job does not wait for a read stuck on a slow disk; its reply is dropped.
      this.watch.add(signal, id);
      this.pending.set(id, {
        resolve: (reply) => {
          this.watch.delete(signal, id);
          if ('error' in reply) reject(Object.assign(new Error(reply.error.message), reply.error));
          else resolve(reply);
        },
        reject,
      });
    });
  }

  private start(): void {
    if (this.workers.length) return;
    for (let i = 0; i < this.size; i++) {
      const worker = startWorkerThread('fileReaderWorker');
      const index = i;
      worker.on('message', (replies: ReadReply[]) => {
        this.busy[index] = false;
        this.dispatch();
        for (const reply of replies) {
          const waiter = this.pending.get(reply.id);
          this.pending.delete(reply.id);
          waiter?.resolve(reply);
        }
        // Idle workers must not keep a finished command line alive.
        if (this.pending.size === 0) for (const w of this.workers) w.unref();
      });
      worker.on('error', (err) => this.fail(readerFailed(`A file reader thread failed: ${err.message}`, err)));
      // A thread that ends without an error event (killed, out of memory) must not leave reads waiting.
      worker.on('exit', (code) => this.fail(readerFailed(`A file reader thread stopped (exit code ${code}).`)));
      this.workers.push(worker);
      this.busy.push(false);
    }
  }

  /**
   * Gives each idle worker a batch of the queued tasks: a worker has one batch at a time, so
   * reads that come in while it works wait and go together in its next batch (posting a
   * message costs more than reading a small file). A batch stops at BATCH_BYTES, so parts to
   * hash are spread over the workers.
   */
  private dispatch(): void {
    for (let worker = 0; worker < this.workers.length && this.queued.length; worker++) {
      if (this.busy[worker]) continue;
      let bytes = 0;
      let count = 0;
      while (count < this.queued.length && (count === 0 || bytes < BATCH_BYTES)) bytes += this.queued[count++].maxBytes;
      const tasks = this.queued.splice(0, count);
      const transfers = tasks.flatMap((task) => (task.buffer ? [task.buffer] : []));
      this.busy[worker] = true;
      this.workers[worker].postMessage(tasks, transfers);
    }
  }

  /** Dispatches once this turn's tasks are all queued. */
  private schedule(): void {
    if (this.dispatchScheduled) return;
    this.dispatchScheduled = true;
    setImmediate(() => {
      this.dispatchScheduled = false;
      this.dispatch();
    });
  }

  private fail(err: Error): void {
    if (this.failure) return;
    this.failure = err;
    this.queued.length = 0;
    for (const waiter of this.pending.values()) waiter.reject(err);
    this.pending.clear();
  }
}

/** The buffer's memory, to transfer: it must be a whole ArrayBuffer, not a view into a shared one. */
function ownArrayBuffer(buffer: Buffer, length: number): ArrayBuffer {
  if (buffer.byteOffset !== 0 || buffer.buffer.byteLength < length) throw new RangeError('a lent buffer must have an ArrayBuffer of its own, of at least the bytes to read');
  return buffer.buffer as ArrayBuffer;
}

/**
 * The pool cannot read any more: every file of the job would fail the same way, so the job
 * stops on it (uploadJob's settleFailure).
 */
function readerFailed(message: string, cause?: unknown): Error {
  return Object.assign(new Error(message, { cause }), { name: 'ReaderFailed', code: 'ReaderFailed' });
}

function toFileRead(reply: Extract<ReadOutcome, { bytesRead: number }>): FileRead {
  return {
    data: Buffer.from(reply.buffer, 0, reply.bytesRead),
    before: reply.before,
    after: reply.after,
    md5: Buffer.from(reply.md5, 'base64'),
    crc32c: reply.crc32c,
  };
}

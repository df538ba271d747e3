import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { AbortWatch } from '../core/abortWatch';
import { throwIfAborted } from '../core/progress';
import type { FileVersion, ReadReply, ReadTask } from './fileReaderProtocol';

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
}

/** A reply that is not an error: an error rejects the read instead. */
type ReadOutcome = Exclude<ReadReply, { error: unknown }>;

/** A turn's reads totalling this much are spread over the workers, to hash in parallel. */
const SPREAD_BYTES = 4 * 1024 * 1024;

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
 * Tasks posted in one turn of the event loop go to a worker as one message.
 */
export class FileReaderPool {
  private workers: Worker[] = [];
  /** Tasks posted to each worker and not answered yet. */
  private readonly load: number[] = [];
  private queued: ReadTask[] = [];
  private transfers: ArrayBuffer[] = [];
  private queuedBytes = 0;
  private readonly pending = new Map<number, Pending>();
  private readonly watch = new AbortWatch<number>((id, reason) => {
    this.pending.get(id)?.reject(reason as Error);
    this.pending.delete(id);
  });
  private nextId = 1;
  private flushScheduled = false;
  private failure?: Error;

  constructor(private readonly size = Math.min(4, Math.max(2, availableParallelism()))) {}

  /** The whole file, if it holds at most `maxBytes`; else its size, to reserve more and ask again. */
  async readWhole(path: string, maxBytes: number, options: { crc32c: boolean; signal?: AbortSignal }): Promise<FileRead | TooLarge> {
    const reply = await this.submit({ id: 0, path, length: 0, maxBytes, crc32c: options.crc32c }, options.signal);
    if ('tooLarge' in reply) return { tooLarge: true, before: reply.before };
    return toFileRead(reply);
  }

  /**
   * `length` bytes from `offset`, into `buffer` (lent to the worker until this settles; use the
   * returned data, not `buffer`, which is empty meanwhile). Fewer bytes than asked means the
   * file shrank.
   */
  async readRange(path: string, offset: number, length: number, buffer: Buffer, options: { crc32c: boolean; signal?: AbortSignal }): Promise<FileRead> {
    if (buffer.byteOffset !== 0 || buffer.buffer.byteLength < length) throw new RangeError('readRange needs a buffer of its own ArrayBuffer, of at least length bytes');
    const reply = await this.submit({ id: 0, path, offset, length, maxBytes: length, buffer: buffer.buffer as ArrayBuffer, crc32c: options.crc32c }, options.signal);
    if ('tooLarge' in reply) throw new Error('unreachable: a range is never too large');
    return toFileRead(reply);
  }

  /** Stops the workers; reads still running fail. */
  destroy(): void {
    const workers = this.workers;
    this.workers = [];
    this.fail(new Error('The file reader was closed.'));
    for (const worker of workers) void worker.terminate();
  }

  private submit(task: ReadTask, signal?: AbortSignal): Promise<ReadOutcome> {
    throwIfAborted(signal);
    if (this.failure) return Promise.reject(this.failure);
    this.start();
    const id = this.nextId++;
    this.queued.push({ ...task, id });
    if (task.buffer) this.transfers.push(task.buffer);
    this.queuedBytes += task.length || task.maxBytes;
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
      const worker = startWorker();
      const index = i;
      worker.on('message', (replies: ReadReply[]) => {
        this.load[index] -= replies.length;
        for (const reply of replies) {
          const waiter = this.pending.get(reply.id);
          this.pending.delete(reply.id);
          waiter?.resolve(reply);
        }
        // Idle workers must not keep a finished command line alive.
        if (this.pending.size === 0) for (const w of this.workers) w.unref();
      });
      worker.on('error', (err) => this.fail(new Error(`A file reader thread failed: ${err.message}`, { cause: err })));
      this.workers.push(worker);
      this.load.push(0);
    }
  }

  private leastLoaded(): number {
    let best = 0;
    for (let i = 1; i < this.load.length; i++) if (this.load[i] < this.load[best]) best = i;
    return best;
  }

  /**
   * Posts the tasks of this turn. Small files go to one worker as one message (posting costs
   * more than reading them); a turn with megabytes to hash is spread over the workers.
   */
  private schedule(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      const tasks = this.queued;
      const transfers = this.transfers;
      const spread = this.queuedBytes >= SPREAD_BYTES && tasks.length > 1;
      this.queued = [];
      this.transfers = [];
      this.queuedBytes = 0;
      if (!this.workers.length) return;
      if (!spread) {
        this.post(this.leastLoaded(), tasks, transfers);
        return;
      }
      const batches = this.workers.map(() => ({ tasks: [] as ReadTask[], transfers: [] as ArrayBuffer[] }));
      tasks.forEach((task, i) => {
        const batch = batches[i % batches.length];
        batch.tasks.push(task);
        if (task.buffer) batch.transfers.push(task.buffer);
      });
      batches.forEach((batch, worker) => batch.tasks.length && this.post(worker, batch.tasks, batch.transfers));
    });
  }

  private post(worker: number, tasks: ReadTask[], transfers: ArrayBuffer[]): void {
    this.load[worker] += tasks.length;
    this.workers[worker].postMessage(tasks, transfers);
  }

  private fail(err: Error): void {
    this.failure ??= err;
    for (const waiter of this.pending.values()) waiter.reject(err);
    this.pending.clear();
  }
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

/** A worker on the bundled script beside dist/extension.js and dist/cli.js, or on the sources under tsx. */
function startWorker(): Worker {
  // dirname(__filename), not __dirname: tsx, loading this module from ESM, sets only the former right.
  const here = dirname(__filename);
  if (!__filename.endsWith('.ts')) return new Worker(join(here, 'fileReaderWorker.js'));
  // Tests and the benchmark run the TypeScript sources: a worker's entry file does not pass
  // through the --import tsx hooks, so the worker registers tsx before loading its script.
  return new Worker(`require('tsx/cjs'); require(${JSON.stringify(join(here, 'fileReaderWorker.ts'))});`, { eval: true });
}

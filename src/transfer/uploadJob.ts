import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  HeadObjectCommand,
  ListPartsCommand,
  type S3Client,
  type ServerSideEncryption,
} from '@aws-sdk/client-s3';
import { setMaxListeners } from 'node:events';
import { stat } from 'node:fs/promises';
import { gzipSync } from 'node:zlib';
import { errorCode, explainAwsError, isCredentialOrAccessError, isTransient, UserError } from '../aws/errors';
import { CancelledError, isCancellation, type ProgressSink } from '../core/progress';
import { bareEtag, compositeCrc32c, crc32cBase64, multipartEtag } from './checksums';
import { ConcurrencyController } from './concurrency';
import { FileReaderPool, type FileVersion } from './fileReader';
import type { Journal, OpenUpload } from './journal';
import { BufferPool, ByteBudget, RequestLimiter } from './limits';
import { contentType, hashedKey, isCompressible, MTIME_METADATA, objectHeaders, type ObjectOptions } from './objectHeaders';
import type { ObjectWriter, WriteResult } from './objectWriter';
import { multipartThreshold, partSizeFor, MiB } from './plan';
import { withRetries } from './retry';
import { describeFsError, type LocalFile } from './scan';

export interface UploadDestination {
  readonly bucket: string;
  /** Key prefix, '' or ending in '/'. */
  readonly prefix: string;
}

export interface EngineOptions extends ObjectOptions {
  readonly partSize?: number;
  /** Pins the requests in flight; otherwise the controller finds the knee. */
  readonly concurrency?: number;
  readonly maxConcurrency?: number;
  /** The most memory the job uses: file data read and not yet sent, and the engine's own (see dataBudget). */
  readonly memoryBudget?: number;
  readonly maxAttempts?: number;
  /** Spread keys by a hash of the path, and write a manifest of path → key. */
  readonly hashedPrefixes?: boolean;
}

export interface EngineRuntime {
  /** SDK client for the bucket's region: create, complete, abort, list parts, head. */
  readonly s3: S3Client;
  /** The lean data path for PutObject and UploadPart. */
  readonly writer: ObjectWriter;
  readonly journal: Journal;
  /** 'md5' verifies by ETag (S3-compatible stores); 'crc32c' by S3's stored checksum. */
  readonly checksum: 'md5' | 'crc32c';
  readonly profile?: string;
  readonly signal?: AbortSignal;
  readonly progress?: ProgressSink;
  /** Lines for the job's log: retries, re-sends, concurrency changes. */
  readonly log?: (line: string) => void;
  readonly now?: () => number;
}

export interface UploadFailure {
  readonly path: string;
  readonly error: Error;
}

export interface UploadResult {
  readonly files: number;
  readonly bytes: number;
  /** Files a resumed job found finished already. */
  readonly alreadyDone: number;
  readonly failed: UploadFailure[];
  /** Path → key, when hashed prefixes are on. */
  readonly manifest?: Map<string, string>;
  readonly peakBufferedBytes: number;
  readonly finalConcurrency: number;
  readonly requests: number;
  readonly retries: number;
}

/** How many times a file that changes while it is read is read again before it is reported. */
const CHANGED_FILE_ATTEMPTS = 3;
/** How many times an object stored with the wrong checksum is sent before it is reported. */
const CORRUPT_OBJECT_ATTEMPTS = 3;
/**
 * Files and parts read and waiting for a request slot, beyond those in flight. Enough to keep
 * every slot busy; more would only fill memory (reads take well under a request's time).
 */
const READ_AHEAD = 4;
/** Memory a job uses besides file data; the budget covers it (dataBudget). */
const ENGINE_OVERHEAD = 64 * MiB;
/** Files larger than this are read into pooled buffers, as parts are; smaller ones into memory of their own. */
const POOLED_FROM = 1 * MiB;

/**
 * Uploads files to S3 through one pool of requests in flight shared by whole files and parts,
 * bounded in memory, with the pool's size found by measurement. Every object is verified
 * against what the server stored; every finished file and part is written to the journal so an
 * interrupted job resumes without re-sending them. A cancelled job keeps its multipart uploads
 * open for Resume; `discardJob` aborts them.
 */
export async function runUpload(files: readonly LocalFile[], destination: UploadDestination, options: EngineOptions, runtime: EngineRuntime): Promise<UploadResult> {
  const job = new UploadRun(files, destination, options, runtime);
  return job.run();
}

class UploadRun {
  private readonly limiter: RequestLimiter;
  /** Files and parts holding data: the requests in flight plus READ_AHEAD. */
  private readonly holders: RequestLimiter;
  /**
   * Files started and not finished: a few more than hold data. More only waited, and their
   * promises, kept alive, made each young-generation collection copy more.
   */
  private readonly fileSlots: RequestLimiter;
  private readonly budget: ByteBudget;
  private readonly buffers: BufferPool;
  private readonly reader = new FileReaderPool();
  private readonly controller: ConcurrencyController;
  /** Stops every request when the job must stop (cancel, or an error every file would meet). */
  private readonly stopper = new AbortController();
  private stopReason?: Error;
  private readonly now: () => number;
  private readonly failed: UploadFailure[] = [];
  private readonly manifest?: Map<string, string>;
  private filesDone = 0;
  private bytesDone = 0;
  private alreadyDone = 0;
  private requests = 0;
  private retries = 0;
  private lastReport = 0;
  private readonly bytesTotal: number;

  constructor(
    private readonly files: readonly LocalFile[],
    private readonly destination: UploadDestination,
    private readonly options: EngineOptions,
    private readonly runtime: EngineRuntime,
  ) {
    this.now = runtime.now ?? (() => performance.now());
    const max = options.maxConcurrency ?? 64;
    this.controller = new ConcurrencyController({ initial: options.concurrency ?? 16, max, pinned: options.concurrency }, this.now());
    this.limiter = new RequestLimiter(this.controller.concurrency);
    this.holders = new RequestLimiter(this.controller.concurrency + READ_AHEAD);
    this.fileSlots = new RequestLimiter(this.controller.concurrency + 2 * READ_AHEAD);
    this.budget = new ByteBudget(dataBudget(options.memoryBudget ?? 512 * MiB));
    this.buffers = new BufferPool(this.budget);
    this.manifest = options.hashedPrefixes ? new Map() : undefined;
    this.bytesTotal = files.reduce((n, f) => n + f.size, 0);
    // Queues share a listener each (AbortWatch), but every request waiting out a backoff has
    // its own: under throttling, hundreds is by design.
    setMaxListeners(0, this.stopper.signal);
    runtime.signal?.addEventListener('abort', () => this.stop(new CancelledError()), { once: true });
    if (runtime.signal?.aborted) this.stop(new CancelledError());
  }

  async run(): Promise<UploadResult> {
    const tasks: Promise<void>[] = [];
    try {
      for (const file of this.files) {
        if (this.stopper.signal.aborted) break;
        const release = await this.fileSlots.acquire(this.stopper.signal).catch(() => undefined);
        if (!release) break;
        tasks.push(this.uploadFile(file).finally(release));
      }
      await Promise.all(tasks);
    } finally {
      this.reader.destroy();
    }
    await this.runtime.journal.flush();
    this.report(true);
    if (this.stopReason) throw this.stopReason;
    return {
      files: this.filesDone,
      bytes: this.bytesDone,
      alreadyDone: this.alreadyDone,
      failed: this.failed,
      manifest: this.manifest,
      peakBufferedBytes: this.budget.peak,
      finalConcurrency: this.controller.concurrency,
      requests: this.requests,
      retries: this.retries,
    };
  }

  private stop(reason: Error): void {
    if (this.stopReason) return;
    this.stopReason = reason;
    this.stopper.abort(reason);
  }

  private keyFor(file: LocalFile): string {
    if (!this.manifest) return this.destination.prefix + file.relativePath;
    const key = hashedKey(this.destination.prefix, file.relativePath);
    this.manifest.set(file.relativePath, key);
    return key;
  }

  private async uploadFile(file: LocalFile): Promise<void> {
    const key = this.keyFor(file);
    try {
      // Only a resumed job has files finished already; a new one spares the stat.
      const done = this.runtime.journal.finished.get(file.relativePath);
      if (done) {
        const current = await stat(file.path);
        if (done.size === current.size && done.mtimeMs === current.mtimeMs) {
          this.alreadyDone++;
          this.count(current.size);
          return;
        }
      }
      const partSize = partSizeFor(file.size, this.options.partSize);
      const sent = file.size < multipartThreshold(partSize) && (await this.uploadSingle(file, key, partSize));
      if (!sent) await this.uploadMultipart(file, key);
    } catch (err) {
      this.settleFailure(file, key, err);
    }
  }

  /**
   * One PUT of the file, read whole within the budget. False when the file has grown past the
   * multipart threshold since it was scanned: it goes as a multipart upload instead.
   */
  private async uploadSingle(file: LocalFile, key: string, partSize: number): Promise<boolean> {
    const signal = this.stopper.signal;
    let expected = file.size;
    for (let attempt = 1; ; attempt++) {
      const releaseSlot = await this.holders.acquire(signal);
      const memory = await this.wholeFileMemory(expected, partSize, signal).catch((err: unknown) => {
        releaseSlot();
        throw err;
      });
      let returned: Buffer | undefined;
      try {
        const read = await this.reader.readWhole(file.path, memory.capacity, { crc32c: this.runtime.checksum === 'crc32c', buffer: memory.buffer, signal });
        if (memory.buffer) returned = 'tooLarge' in read ? read.buffer : Buffer.from(read.data.buffer);
        if ('tooLarge' in read) {
          // It grew since the scan: past the threshold it goes in parts, else read it again with room.
          if (read.before.size >= multipartThreshold(partSize)) return false;
          expected = read.before.size;
        }
        if ('tooLarge' in read || !sameVersion(read.before, read.after) || read.data.length !== read.after.size) {
          if (attempt < CHANGED_FILE_ATTEMPTS) continue;
          throw new UserError(`${file.path} kept changing while it was read; it was not uploaded. Upload it again once it is finished.`, 'FileChanged');
        }
        const raw = read.data;
        const gzipped = !!this.options.gzip && isCompressible(file.relativePath) && raw.length > 0;
        // A gzipped body is not what the reader hashed: the writer hashes it.
        const body = gzipped ? gzipSync(raw) : raw;
        const digests = gzipped ? {} : { md5: read.md5, crc32c: read.crc32c };
        const headers = objectHeaders(file.relativePath, read.after.mtimeMs, this.options, gzipped);
        const result = await this.request(body.length, () =>
          this.runtime.writer.putObject({ bucket: this.destination.bucket, key, body, headers, signal, ...digests }),
        );
        if (!this.storedIntact(result)) {
          if (attempt < CORRUPT_OBJECT_ATTEMPTS) {
            this.runtime.log?.(`s3://${this.destination.bucket}/${key} was stored with ETag ${result.etag}, not the MD5 of ${file.path}; sending it again.`);
            continue;
          }
          throw new UserError(`s3://${this.destination.bucket}/${key} was stored with ETag ${result.etag}, not the MD5 of ${file.path}, ${CORRUPT_OBJECT_ATTEMPTS} times; the object in S3 is not what is on disk. Check the endpoint or proxy, then upload it again.`, 'ChecksumMismatch');
        }
        this.runtime.journal.fileDone(file.relativePath, { size: read.after.size, mtimeMs: read.after.mtimeMs, etag: result.etag });
        this.count(read.after.size);
        return true;
      } finally {
        memory.release(returned);
        releaseSlot();
      }
    }
  }

  /**
   * Memory to read a whole file into: a pooled buffer for a mid-sized file (below the multipart
   * threshold, so one of two sizes fits it), or bytes of the budget for a small one, whose
   * buffer the reader thread makes.
   */
  private async wholeFileMemory(size: number, partSize: number, signal: AbortSignal): Promise<{ capacity: number; buffer?: Buffer; release: (returned?: Buffer) => void }> {
    if (size <= POOLED_FROM) {
      return { capacity: size, release: await this.budget.acquire(size, signal) };
    }
    const capacity = size <= partSize ? partSize : multipartThreshold(partSize);
    const lease = await this.buffers.lease(capacity, signal);
    return { capacity, buffer: lease.buffer, release: (returned) => this.buffers.giveBack(lease, returned) };
  }

  /**
   * A server that checks Content-MD5 (all do) has already refused a corrupted body; comparing
   * the ETag catches a store that does not, except under SSE-KMS, whose ETag is not an MD5.
   */
  private storedIntact(result: WriteResult): boolean {
    if (this.runtime.checksum !== 'md5' || this.options.encryption?.type === 'aws:kms') return true;
    return bareEtag(result.etag) === result.md5.toString('hex');
  }

  private async uploadMultipart(file: LocalFile, key: string): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      const before = await stat(file.path);
      const upload = await this.openUpload(file, key, partSizeFor(before.size, this.options.partSize), before);
      const { changed, counted } = await this.sendParts(file, upload, before);
      if (changed) {
        this.bytesDone -= counted;
        await this.abortUpload(file.relativePath, upload);
        if (attempt < CHANGED_FILE_ATTEMPTS) {
          this.runtime.log?.(`${file.path} changed while it was uploaded; starting it again.`);
          continue;
        }
        throw new UserError(`${file.path} kept changing while it was uploaded; it was not uploaded. Upload it again once it is finished.`, 'FileChanged');
      }
      await this.completeUpload(file, upload, before);
      this.count(0); // the bytes were counted part by part
      return;
    }
  }

  /** Reuses the journal's open upload for this file when the file is unchanged, else starts one. */
  private async openUpload(file: LocalFile, key: string, partSize: number, current: FileVersion): Promise<OpenUpload> {
    const journal = this.runtime.journal;
    const previous = journal.openUploads.get(file.relativePath);
    if (previous) {
      const unchanged = previous.key === key && previous.size === current.size && previous.mtimeMs === current.mtimeMs;
      if (unchanged && (await this.confirmParts(previous))) return previous;
      await this.abortUpload(file.relativePath, previous);
    }
    const encryption = this.options.encryption;
    const reply = await this.request(0, () =>
      this.runtime.s3.send(
        new CreateMultipartUploadCommand({
          Bucket: this.destination.bucket,
          Key: key,
          Metadata: { [MTIME_METADATA]: String(Math.round(current.mtimeMs)) },
          ContentType: contentType(file.relativePath, this.options),
          StorageClass: this.options.storageClass && this.options.storageClass !== 'STANDARD' ? this.options.storageClass : undefined,
          ServerSideEncryption: encryption?.type as ServerSideEncryption | undefined,
          SSEKMSKeyId: encryption?.type === 'aws:kms' ? encryption.keyId : undefined,
          ChecksumAlgorithm: this.runtime.checksum === 'crc32c' ? 'CRC32C' : undefined,
        }),
        { abortSignal: this.stopper.signal },
      ),
    );
    if (!reply.UploadId) throw new UserError(`The server started no multipart upload for s3://${this.destination.bucket}/${key}.`, 'NoUploadId');
    const upload = { key, uploadId: reply.UploadId, partSize, size: current.size, mtimeMs: current.mtimeMs };
    await journal.uploadStarted(file.relativePath, upload);
    return journal.openUploads.get(file.relativePath)!;
  }

  /**
   * Parts the journal calls finished must still be on the server, with the same ETags. False
   * when the upload itself is gone (a lifecycle rule or a person aborted it).
   */
  private async confirmParts(upload: OpenUpload): Promise<boolean> {
    const onServer = new Map<number, string>();
    let marker: string | undefined;
    do {
      let page;
      try {
        page = await this.request(0, () =>
          this.runtime.s3.send(
            new ListPartsCommand({ Bucket: this.destination.bucket, Key: upload.key, UploadId: upload.uploadId, PartNumberMarker: marker }),
            { abortSignal: this.stopper.signal },
          ),
        );
      } catch (err) {
        if (errorCode(err) === 'NoSuchUpload') return false;
        throw err;
      }
      for (const part of page.Parts ?? []) if (part.PartNumber && part.ETag) onServer.set(part.PartNumber, bareEtag(part.ETag));
      marker = page.IsTruncated ? page.NextPartNumberMarker : undefined;
    } while (marker);
    for (const [number, part] of upload.parts) {
      if (onServer.get(number) !== bareEtag(part.etag)) upload.parts.delete(number);
    }
    return true;
  }

  /**
   * Sends the parts not yet finished. Says whether the file changed under the upload, and how
   * many bytes it counted as done (taken back if the file must start over).
   */
  private async sendParts(file: LocalFile, upload: OpenUpload, version: FileVersion): Promise<{ changed: boolean; counted: number }> {
    const signal = this.stopper.signal;
    const crc32c = this.runtime.checksum === 'crc32c';
    const count = Math.max(1, Math.ceil(upload.size / upload.partSize));
    let changed = false;
    let counted = 0;
    let failure: unknown;
    const sends: Promise<void>[] = [];
    for (let number = 1; number <= count && !changed && failure === undefined && !signal.aborted; number++) {
      const offset = (number - 1) * upload.partSize;
      const length = Math.min(upload.partSize, upload.size - offset);
      if (upload.parts.has(number)) {
        counted += length;
        this.count(length, false);
        continue;
      }
      // A part is read only when a request slot will soon be free for it, so read-ahead holds
      // a few parts, not the whole budget.
      const releaseSlot = await this.holders.acquire(signal).catch(() => undefined);
      if (!releaseSlot) break;
      const lease = await this.buffers.lease(upload.partSize, signal).catch(() => undefined);
      if (!lease) {
        releaseSlot();
        break;
      }
      sends.push(
        (async () => {
          let returned: Buffer | undefined;
          try {
            const read = await this.reader.readRange(file.path, offset, length, lease.buffer, { crc32c, signal });
            returned = Buffer.from(read.data.buffer);
            if (read.data.length !== length || !sameVersion(version, read.after)) {
              changed = true;
              return;
            }
            const result = await this.request(length, () =>
              this.runtime.writer.uploadPart({
                bucket: this.destination.bucket, key: upload.key, uploadId: upload.uploadId, partNumber: number,
                body: read.data, md5: read.md5, crc32c: read.crc32c, signal,
              }),
            );
            this.runtime.journal.partDone(file.relativePath, number, { etag: result.etag, md5: result.md5.toString('hex'), crc32c: result.crc32c });
            counted += length;
            this.count(length, false);
          } finally {
            // The request has settled (sent, failed or aborted): nothing reads the buffer now.
            this.buffers.giveBack(lease, returned);
            releaseSlot();
          }
        })().catch((err: unknown) => {
          // A failed part stops the reading of further ones; its error is thrown below.
          failure ??= err;
        }),
      );
    }
    await Promise.all(sends);
    if (failure !== undefined) throw failure;
    if (signal.aborted) throw signal.reason;
    const after = await stat(file.path);
    return { changed: changed || !sameVersion(version, after), counted };
  }

  private async completeUpload(file: LocalFile, upload: OpenUpload, version: FileVersion): Promise<void> {
    const numbers = [...upload.parts.keys()].sort((a, b) => a - b);
    const crcMode = this.runtime.checksum === 'crc32c';
    const reply = await this.request(0, () =>
      this.completeOnce(upload, version, () => this.runtime.s3.send(
        new CompleteMultipartUploadCommand({
          Bucket: this.destination.bucket,
          Key: upload.key,
          UploadId: upload.uploadId,
          MultipartUpload: {
            Parts: numbers.map((n) => {
              const part = upload.parts.get(n)!;
              return { PartNumber: n, ETag: part.etag, ...(crcMode && part.crc32c !== undefined && { ChecksumCRC32C: crc32cBase64(part.crc32c) }) };
            }),
          },
        }),
        { abortSignal: this.stopper.signal },
      )),
    );
    this.runtime.journal.uploadEnded(file.relativePath);
    const parts = numbers.map((n) => upload.parts.get(n)!);
    if (crcMode) {
      const expected = compositeCrc32c(parts.map((p) => p.crc32c ?? 0));
      if (reply.ChecksumCRC32C && reply.ChecksumCRC32C !== expected) {
        throw new UserError(`s3://${this.destination.bucket}/${upload.key} was stored with checksum ${reply.ChecksumCRC32C}, not ${expected} computed from ${file.path}.`, 'ChecksumMismatch');
      }
    } else if (this.options.encryption?.type !== 'aws:kms') {
      // Some stores (Ceph RGW 16) answer Complete with an empty ETag: ask HEAD for the real one.
      const etag = bareEtag(reply.ETag) ? reply.ETag : (await this.request(0, () => this.runtime.s3.send(new HeadObjectCommand({ Bucket: this.destination.bucket, Key: upload.key }), { abortSignal: this.stopper.signal }))).ETag;
      const expected = multipartEtag(parts.map((p) => Buffer.from(p.md5, 'hex')));
      if (bareEtag(etag) !== bareEtag(expected)) {
        throw new UserError(`s3://${this.destination.bucket}/${upload.key} was stored with ETag ${etag}, not ${expected} computed from ${file.path}.`, 'ChecksumMismatch');
      }
    }
    this.runtime.journal.fileDone(file.relativePath, { size: version.size, mtimeMs: version.mtimeMs, etag: reply.ETag ?? '' });
  }

  /**
   * CompleteMultipartUpload can succeed while its reply is lost; the retry then meets
   * NoSuchUpload. An object of the right size is taken as that success, and its ETag is then
   * checked against the parts like any other (in CRC32C mode, S3 checked each part already).
   */
  private async completeOnce(upload: OpenUpload, version: FileVersion, complete: () => Promise<CompletedUpload>): Promise<CompletedUpload> {
    try {
      return await complete();
    } catch (err) {
      if (errorCode(err) !== 'NoSuchUpload') throw err;
      const head = await this.runtime.s3.send(new HeadObjectCommand({ Bucket: this.destination.bucket, Key: upload.key }), { abortSignal: this.stopper.signal }).catch(() => undefined);
      if (head?.ContentLength !== version.size) throw err;
      this.runtime.log?.(`s3://${this.destination.bucket}/${upload.key}: the reply to Complete was lost; the object is there.`);
      return { ETag: head.ETag };
    }
  }

  private async abortUpload(path: string, upload: OpenUpload): Promise<void> {
    await abortMultipartUpload(this.runtime.s3, this.destination.bucket, upload).catch(() => undefined);
    this.runtime.journal.uploadEnded(path);
  }

  /**
   * One request through the shared pool, with retries. Its latency and bytes feed the
   * concurrency controller; throttling and timeouts make it back off.
   */
  private async request<T>(bytes: number, send: () => Promise<T>): Promise<T> {
    return withRetries(
      async () => {
        const release = await this.limiter.acquire(this.stopper.signal);
        const started = this.now();
        try {
          this.requests++;
          const result = await send();
          this.controller.recordSuccess(bytes, this.now() - started);
          return result;
        } finally {
          release();
          this.adjustConcurrency();
        }
      },
      {
        maxAttempts: this.options.maxAttempts ?? 6,
        signal: this.stopper.signal,
        onTransient: (err) => {
          this.retries++;
          const code = errorCode(err);
          if (code === 'SlowDown' || code === 'TimeoutError' || code === 'RequestTimeout' || code === 'Throttling') this.controller.recordThrottle();
          this.runtime.log?.(`retrying after ${code ?? 'a transient error'}`);
        },
      },
    );
  }

  private adjustConcurrency(): void {
    const before = this.limiter.size;
    const after = this.controller.tick(this.now());
    if (after !== before) {
      this.limiter.resize(after);
      this.holders.resize(after + READ_AHEAD);
      this.fileSlots.resize(after + 2 * READ_AHEAD);
      this.runtime.log?.(`requests in flight: ${before} → ${after}`);
    }
  }

  /** Records one file's failure, or stops the job when every other file would fail the same way. */
  private settleFailure(file: LocalFile, key: string, err: unknown): void {
    if (this.stopReason) return;
    if (isCancellation(err)) {
      this.stop(err as Error);
      return;
    }
    if (err instanceof Error && err.name === 'ReaderFailed') {
      // Every other file would meet it too: one sentence, not one failure per file.
      this.stop(new UserError(`${err.message} The upload stopped; Resume goes on from where it was.`, 'ReaderFailed', { cause: err }));
      return;
    }
    const explained = explainUploadError(err, file, this.destination.bucket, key, this.runtime.profile);
    if (isCredentialOrAccessError(err) || errorCode(err) === 'NoSuchBucket') {
      this.stop(explained);
      return;
    }
    this.failed.push({ path: file.path, error: explained });
    this.runtime.log?.(explained.message);
  }

  /** Counts finished bytes (and, for whole files, the file) and reports progress at most every 100 ms. */
  private count(bytes: number, wholeFile = true): void {
    this.bytesDone += bytes;
    if (wholeFile) this.filesDone++;
    this.report(false);
  }

  private report(final: boolean): void {
    const now = this.now();
    if (!final && now - this.lastReport < 100) return;
    this.lastReport = now;
    this.runtime.progress?.({ bytesDone: this.bytesDone, bytesTotal: this.bytesTotal, itemsDone: this.filesDone, itemsTotal: this.files.length });
  }
}

interface CompletedUpload {
  readonly ETag?: string;
  readonly ChecksumCRC32C?: string;
}

/**
 * What of the memory budget file data may hold. The rest is for what the job needs besides:
 * reader threads' heaps, sockets, small files' buffers not yet collected, the list of files.
 * Measured on the benchmark's mix of 2,000 small, 200 mid-sized and 4 large files, that was
 * about 56 MiB on top of the buffered data.
 */
export function dataBudget(memoryBudget: number): number {
  return Math.max(memoryBudget / 2, memoryBudget - ENGINE_OVERHEAD);
}

function sameVersion(a: FileVersion, b: FileVersion): boolean {
  return a.size === b.size && a.mtimeMs === b.mtimeMs;
}

export async function abortMultipartUpload(s3: S3Client, bucket: string, upload: { key: string; uploadId: string }): Promise<void> {
  try {
    await s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: upload.key, UploadId: upload.uploadId }));
  } catch (err) {
    // Already completed or aborted: nothing is left open, which is what was wanted.
    if (errorCode(err) !== 'NoSuchUpload') throw err;
  }
}

function explainUploadError(err: unknown, file: LocalFile, bucket: string, key: string, profile?: string): Error {
  if (err instanceof UserError) return err;
  const code = errorCode(err);
  if (code && code.startsWith('E') && !isTransient(err) && (err as NodeJS.ErrnoException).syscall) {
    return new UserError(`Reading ${file.path} failed: ${describeFsError(err as NodeJS.ErrnoException)}. The other files go on.`, code, { cause: err });
  }
  return explainAwsError(err, { operation: `Upload of ${file.path} to s3://${bucket}/${key}`, action: 's3:PutObject', resource: `arn:aws:s3:::${bucket}/${key}`, profile });
}

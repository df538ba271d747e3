import { GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, type S3Client, type _Object } from '@aws-sdk/client-s3';
import { randomBytes } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { lstat, mkdir, open, rename, rm, type FileHandle } from 'node:fs/promises';
import * as path from 'node:path';
import { addAbortSignal, Readable } from 'node:stream';
import { errorCode, explainAwsError, isCredentialOrAccessError, isTransient, UserError } from '../aws/errors';
import { withRetries } from '../transfer/retry';
import { ignoreProgress, throwIfAborted, type ProgressSink } from '../core/progress';
import { localPathForObject, localPathUnderFolder, UnsafeKeyError } from './keys';

/**
 * What to download: one object, saved as `<destination>/<its name>`, or every object under a
 * folder prefix, saved as `<destination>/<folder name>/…` with the structure below it kept.
 * A prefix without a trailing '/' is taken as that folder; '' is the whole bucket, saved in a
 * folder named after the bucket.
 */
export type DownloadSource =
  | { readonly bucket: string; readonly key: string }
  | { readonly bucket: string; readonly prefix: string };

/**
 * What to do when the local file already exists: replace it (atomically, once the new file is
 * complete), leave it and list the key in `skipped`, or leave it and list the key in `failed`.
 */
export type ExistingFilePolicy = 'overwrite' | 'skip' | 'fail';

export interface DownloadOptions {
  readonly signal?: AbortSignal;
  readonly progress?: ProgressSink;
  /** Requests in flight at once, for whole objects and parts alike. Default 16. */
  readonly concurrency?: number;
  /** Bytes per ranged GET of a big object. Default 8 MiB. */
  readonly partSize?: number;
  /** Objects of this size or more are fetched as parallel ranged GETs. Default 16 MiB. */
  readonly multipartThreshold?: number;
  /**
   * Default 'fail': nothing the user has is replaced or silently kept without telling, and the
   * rest of the job goes on. 'skip' makes a re-run after an interruption resume where it
   * stopped, since only complete files are ever given their final name.
   */
  readonly ifExists?: ExistingFilePolicy;
  /** Tries per request, the first included, on throttling, 5xx and dropped connections. Default 5. */
  readonly maxAttempts?: number;
  /** The profile in use, named in error messages about credentials. */
  readonly profile?: string;
}

export interface DownloadFailure {
  readonly key: string;
  /** A sentence for the user naming the object, the cause and what to do. */
  readonly error: Error;
}

export interface DownloadResult {
  /** Files saved; folders made from folder-marker keys are not counted. */
  files: number;
  /** Bytes of the files saved. */
  bytes: number;
  /** Keys whose local file already existed, with `ifExists: 'skip'`. */
  skipped: string[];
  /** Keys that could not be saved, and sources that could not be listed (under their prefix). */
  failed: DownloadFailure[];
}

const MiB = 1024 * 1024;
const DEFAULT_CONCURRENCY = 16;
const DEFAULT_PART_SIZE = 8 * MiB;
const DEFAULT_MULTIPART_THRESHOLD = 16 * MiB;
const DEFAULT_MAX_ATTEMPTS = 5;
const RETRY_BASE_DELAY_MS = 200;
const RETRY_MAX_DELAY_MS = 10_000;
const PROGRESS_INTERVAL_MS = 100;
/** Listed keys waiting for a worker. Enough that totals are known early for most jobs, few enough that millions of keys never sit in memory. */
const BACKLOG_CAPACITY = 100_000;
/** Body chunks are gathered into writes of this size: fewer system calls, little memory. */
const WRITE_BATCH_BYTES = 1 * MiB;
const TEMP_MARKER = '.rcpart-';

/**
 * Downloads objects into `destination`. Every file is written to a temporary file beside it and
 * renamed into place only when complete, so a file under its final name is always whole. Keys
 * that cannot be saved safely, missing objects and the like are listed in `failed` while the
 * rest goes on; errors that would fail every key (access denied, bad or expired credentials, a
 * full disk) stop the job and reject. On cancel, temporary files are removed and the promise
 * rejects with the signal's reason (a CancelledError when it has none).
 */
export async function downloadToFolder(
  s3: S3Client,
  sources: readonly DownloadSource[],
  destination: string,
  options: DownloadOptions = {},
): Promise<DownloadResult> {
  throwIfAborted(options.signal);
  const settings = resolveSettings(options);
  const stopper = new AbortController();
  // Every request and body in flight listens to this signal.
  setMaxListeners(0, stopper.signal);
  const cancel = () => stopper.abort(options.signal?.reason);
  options.signal?.addEventListener('abort', cancel, { once: true });

  const job = createJob(s3, settings, stopper, options.progress ?? ignoreProgress);
  const backlog = new Backlog<WorkItem>(BACKLOG_CAPACITY);
  stopper.signal.addEventListener('abort', () => backlog.end(), { once: true });
  try {
    await Promise.all([
      listSources(job, sources, destination, backlog).finally(() => backlog.end()),
      ...Array.from({ length: job.settings.concurrency }, () => runWorker(job, backlog)),
    ]);
  } finally {
    options.signal?.removeEventListener('abort', cancel);
    job.progress.flush();
  }
  throwIfAborted(options.signal);
  if (stopper.signal.aborted) throw stopper.signal.reason;
  return job.result;
}

interface Settings {
  readonly concurrency: number;
  readonly partSize: number;
  readonly multipartThreshold: number;
  readonly maxAttempts: number;
  readonly ifExists: ExistingFilePolicy;
  readonly profile?: string;
}

function resolveSettings(options: DownloadOptions): Settings {
  return {
    concurrency: positiveInteger('concurrency', options.concurrency, DEFAULT_CONCURRENCY),
    partSize: positiveInteger('partSize', options.partSize, DEFAULT_PART_SIZE),
    multipartThreshold: positiveInteger('multipartThreshold', options.multipartThreshold, DEFAULT_MULTIPART_THRESHOLD),
    maxAttempts: positiveInteger('maxAttempts', options.maxAttempts, DEFAULT_MAX_ATTEMPTS),
    ifExists: options.ifExists ?? 'fail',
    profile: options.profile,
  };
}

function positiveInteger(name: string, value: number | undefined, fallback: number): number {
  const chosen = value ?? fallback;
  if (!Number.isInteger(chosen) || chosen < 1) throw new RangeError(`${name} must be a positive integer, not ${value}.`);
  return chosen;
}

/** What one download job shares between its lister and its workers. */
interface Job {
  readonly s3: S3Client;
  readonly settings: Settings;
  /** Aborted when the user cancels, or when an error would fail every other key too. */
  readonly signal: AbortSignal;
  readonly stop: (reason: Error) => void;
  readonly slots: RequestSlots;
  readonly progress: ProgressTracker;
  readonly result: DownloadResult;
}

function createJob(s3: S3Client, settings: Settings, stopper: AbortController, sink: ProgressSink): Job {
  return {
    s3,
    settings,
    signal: stopper.signal,
    stop: (reason) => stopper.abort(reason),
    slots: new RequestSlots(settings.concurrency),
    progress: new ProgressTracker(sink),
    result: { files: 0, bytes: 0, skipped: [], failed: [] },
  };
}

/** One key to download and where it goes. */
interface WorkItem {
  readonly bucket: string;
  readonly key: string;
  readonly localPath: string;
  readonly kind: 'file' | 'folder';
  /** Size, ETag and date from the listing; a single selected object is asked with HEAD instead. */
  readonly listed?: ObjectVersion;
}

interface ObjectVersion {
  readonly size: number;
  readonly etag?: string;
  readonly lastModified?: Date;
}

// ---- Listing ---------------------------------------------------------------------------------

async function listSources(job: Job, sources: readonly DownloadSource[], destination: string, backlog: Backlog<WorkItem>): Promise<void> {
  for (const source of sources) {
    if (job.signal.aborted) return;
    if ('key' in source) {
      const item = planSingleObject(job, source.bucket, source.key, destination);
      if (item) await backlog.put([item]);
    } else {
      await listFolder(job, source.bucket, folderPrefix(source.prefix), destination, backlog);
    }
  }
}

function folderPrefix(prefix: string): string {
  return prefix === '' || prefix.endsWith('/') ? prefix : `${prefix}/`;
}

function planSingleObject(job: Job, bucket: string, key: string, destination: string): WorkItem | undefined {
  try {
    const localPath = localPathForObject(destination, key);
    job.progress.listed(1, 0);
    return { bucket, key, localPath, kind: key.endsWith('/') ? 'folder' : 'file' };
  } catch (err) {
    refuseKey(job, bucket, key, err);
    return undefined;
  }
}

async function listFolder(job: Job, bucket: string, prefix: string, destination: string, backlog: Backlog<WorkItem>): Promise<void> {
  try {
    for await (const page of listPages(job, bucket, prefix)) {
      const items = planListedPage(job, bucket, prefix, page, destination);
      job.progress.listed(items.length, items.reduce((sum, item) => sum + (item.listed?.size ?? 0), 0));
      await backlog.put(items);
    }
  } catch (err) {
    const explained = explainAwsError(err, {
      operation: `List s3://${bucket}/${prefix}`,
      action: 's3:ListBucket',
      resource: `arn:aws:s3:::${bucket}`,
      profile: job.settings.profile,
    });
    settleFailure(job, prefix, err, explained);
  }
}

/** ListObjectsV2 page by page, with no delimiter: every object below the prefix, at any depth. */
async function* listPages(job: Job, bucket: string, prefix: string): AsyncGenerator<_Object[]> {
  let token: string | undefined;
  do {
    const page = await withJobRetries(job, () =>
      job.s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix || undefined, ContinuationToken: token }), {
        abortSignal: job.signal,
      }),
    );
    yield page.Contents ?? [];
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
}

function planListedPage(job: Job, bucket: string, prefix: string, page: _Object[], destination: string): WorkItem[] {
  const items: WorkItem[] = [];
  for (const object of page) {
    if (object.Key === undefined) continue;
    try {
      items.push(planListedObject(bucket, prefix, object.Key, object, destination));
    } catch (err) {
      refuseKey(job, bucket, object.Key, err);
    }
  }
  return items;
}

function planListedObject(bucket: string, prefix: string, key: string, object: _Object, destination: string): WorkItem {
  const localPath = localPathUnderFolder(destination, bucket, prefix, key);
  const size = object.Size ?? 0;
  if (!key.endsWith('/')) {
    return { bucket, key, localPath, kind: 'file', listed: { size, etag: object.ETag, lastModified: object.LastModified } };
  }
  if (size > 0) throw new UnsafeKeyError('the key ends with "/" like a folder but holds data, so it cannot be saved as a file.');
  return { bucket, key, localPath, kind: 'folder' };
}

function refuseKey(job: Job, bucket: string, key: string, err: unknown): void {
  const why = err instanceof Error ? err.message : String(err);
  job.progress.listed(1, 0);
  job.progress.itemFinished();
  settleFailure(job, key, err, new UserError(`Download s3://${bucket}/${key} refused: ${why}`, 'UnsafeKey', { cause: err }));
}

// ---- Downloading -----------------------------------------------------------------------------

async function runWorker(job: Job, backlog: Backlog<WorkItem>): Promise<void> {
  for (let item = await backlog.take(); item && !job.signal.aborted; item = await backlog.take()) {
    await downloadItem(job, item);
  }
}

type Outcome = 'saved' | 'skipped' | 'folder';

async function downloadItem(job: Job, item: WorkItem): Promise<void> {
  job.progress.starting(item.key);
  const counter = new ObjectBytes(job.progress, item.listed?.size ?? 0);
  try {
    const outcome = await fetchItem(job, item, counter);
    if (outcome === 'saved') {
      job.result.files++;
      job.result.bytes += counter.expected;
    } else if (outcome === 'skipped') {
      job.result.skipped.push(item.key);
      counter.takeBack();
    }
  } catch (err) {
    counter.takeBack();
    settleFailure(job, item.key, err, explainDownloadError(err, item.bucket, item.key, job.settings.profile));
  } finally {
    job.progress.itemFinished();
  }
}

async function fetchItem(job: Job, item: WorkItem, counter: ObjectBytes): Promise<Outcome> {
  if (item.kind === 'folder') {
    await mkdir(item.localPath, { recursive: true });
    return 'folder';
  }
  if (!(await mayWrite(job, item))) return 'skipped';
  const version = item.listed ?? (await headObject(job, item));
  if (!item.listed) counter.expect(version.size);
  return saveFile(job, item, version, counter);
}

/** Applies the ifExists policy: true when the file may be written, false to skip it. */
async function mayWrite(job: Job, item: WorkItem): Promise<boolean> {
  if (job.settings.ifExists === 'overwrite' || !(await pathExists(item.localPath))) return true;
  if (job.settings.ifExists === 'skip') return false;
  throw new UserError(
    `Download s3://${item.bucket}/${item.key} failed: ${item.localPath} already exists and was left untouched. Download again choosing to overwrite or to skip existing files.`,
    'FileExists',
  );
}

async function headObject(job: Job, item: WorkItem): Promise<ObjectVersion> {
  const head = await job.slots.run(() =>
    withJobRetries(job, () => job.s3.send(new HeadObjectCommand({ Bucket: item.bucket, Key: item.key }), { abortSignal: job.signal })),
  );
  return { size: head.ContentLength ?? 0, etag: head.ETag, lastModified: head.LastModified };
}

/** Writes the object to a temporary file beside its destination, then renames it into place. */
async function saveFile(job: Job, item: WorkItem, version: ObjectVersion, counter: ObjectBytes): Promise<Outcome> {
  await mkdir(path.dirname(item.localPath), { recursive: true });
  const temp = temporaryPath(item.localPath);
  const file = await open(temp, 'wx');
  try {
    try {
      await fetchContent(job, item, version, file, counter);
      await finishFile(file, version);
    } finally {
      await file.close();
    }
    // Checked again: another key of this job may map to the same file (`a//b` and `a/b`).
    if (!(await mayWrite(job, item))) {
      await rm(temp, { force: true });
      return 'skipped';
    }
    await rename(temp, item.localPath);
    return 'saved';
  } catch (err) {
    await rm(temp, { force: true });
    throw err;
  }
}

function temporaryPath(localPath: string): string {
  // A few characters of the name tell a user what a leftover temporary file was; all of it could pass the name length limit.
  const hint = Array.from(path.basename(localPath)).slice(0, 40).join('');
  return path.join(path.dirname(localPath), `.${hint}${TEMP_MARKER}${randomBytes(4).toString('hex')}`);
}

async function finishFile(file: FileHandle, version: ObjectVersion): Promise<void> {
  const { size } = await file.stat();
  if (size !== version.size) throw new Error(`the file written has ${size} bytes where the object has ${version.size}.`);
  // The object's date, so that a later sync can tell an unchanged file from a changed one.
  if (version.lastModified) await file.utimes(new Date(), version.lastModified);
  // On disk before the rename, so that after a power cut a file under its final name is whole.
  await file.sync();
}

function fetchContent(job: Job, item: WorkItem, version: ObjectVersion, file: FileHandle, counter: ObjectBytes): Promise<void> {
  if (version.size < job.settings.multipartThreshold) {
    return job.slots.run(() => fetchPart(job, item, version, file, { start: 0, end: version.size }, counter));
  }
  return fetchParts(job, item, version, file, counter);
}

/** A byte range of an object; `range` is the header, absent for the whole object. */
interface Part {
  readonly start: number;
  /** Exclusive. */
  readonly end: number;
  readonly range?: string;
}

function nthPart(size: number, partSize: number, index: number): Part {
  const start = index * partSize;
  const end = Math.min(size, start + partSize);
  return { start, end, range: `bytes=${start}-${end - 1}` };
}

/**
 * Fetches a big object as ranged GETs written at their offsets in one file. Lanes take the next
 * part only once they hold a request slot, so a 40 TB object never has more parts waiting in
 * memory than the job has slots, and its parts share the slots fairly with other objects.
 */
async function fetchParts(job: Job, item: WorkItem, version: ObjectVersion, file: FileHandle, counter: ObjectBytes): Promise<void> {
  const partCount = Math.ceil(version.size / job.settings.partSize);
  let next = 0;
  let failure: { error: unknown } | undefined;
  const fetchNextPart = (): Promise<boolean> =>
    job.slots.run(async () => {
      if (failure || next >= partCount || job.signal.aborted) return false;
      await fetchPart(job, item, version, file, nthPart(version.size, job.settings.partSize, next++), counter);
      return true;
    });
  const lane = async (): Promise<void> => {
    try {
      let more = true;
      while (more) more = await fetchNextPart();
    } catch (error) {
      failure ??= { error };
    }
  };
  await Promise.all(Array.from({ length: Math.min(partCount, job.settings.concurrency) }, lane));
  if (failure) throw failure.error;
}

/** One GET, retried; bytes of a failed attempt are taken back from the progress. */
function fetchPart(job: Job, item: WorkItem, version: ObjectVersion, file: FileHandle, part: Part, counter: ObjectBytes): Promise<void> {
  return withJobRetries(job, async () => {
    let received = 0;
    try {
      await getInto(job, item, version, file, part, (bytes) => {
        received += bytes;
        counter.add(bytes);
      });
    } catch (err) {
      counter.add(-received);
      throw err;
    }
  });
}

async function getInto(
  job: Job,
  item: WorkItem,
  version: ObjectVersion,
  file: FileHandle,
  part: Part,
  onBytes: (bytes: number) => void,
): Promise<void> {
  // IfMatch on every GET: an object replaced mid-download fails with 412 instead of giving a mixed file.
  const command = new GetObjectCommand({ Bucket: item.bucket, Key: item.key, Range: part.range, IfMatch: version.etag });
  const response = await job.s3.send(command, { abortSignal: job.signal });
  if (!(response.Body instanceof Readable)) throw new Error('the response had no readable body.');
  const body = response.Body;
  const expected = part.end - part.start;
  if (response.ContentLength !== undefined && response.ContentLength !== expected) {
    body.destroy();
    throw new Error(`the server sent ${response.ContentLength} bytes where ${expected} were asked for; it may not support ranged downloads.`);
  }
  await writeBody(body, new PositionalWriter(file, part.start), part, onBytes, job.signal);
}

/** Streams a body to its place in the file, counting bytes as they arrive so progress moves smoothly. */
async function writeBody(body: Readable, writer: PositionalWriter, part: Part, onBytes: (bytes: number) => void, signal: AbortSignal): Promise<void> {
  // Destroys the socket on cancel even when no data is coming.
  addAbortSignal(signal, body);
  for await (const chunk of body as AsyncIterable<Uint8Array>) {
    if (writer.end + chunk.length > part.end) throw new Error('the server sent more bytes than were asked for.');
    onBytes(chunk.length);
    await writer.add(chunk);
  }
  await writer.flush();
  if (writer.end < part.end) throw new IncompleteBodyError(writer.end - part.start, part.end - part.start);
}

/** A body that ended early: a dropped connection, worth another try. */
class IncompleteBodyError extends Error {
  constructor(received: number, expected: number) {
    super(`the connection ended after ${received} of ${expected} bytes.`);
  }
}

/** Gathers chunks into writes of about WRITE_BATCH_BYTES at increasing offsets of one file. */
class PositionalWriter {
  private pending: Uint8Array[] = [];
  private pendingBytes = 0;

  constructor(
    private readonly file: FileHandle,
    private position: number,
  ) {}

  /** The offset after the last byte added. */
  get end(): number {
    return this.position + this.pendingBytes;
  }

  async add(chunk: Uint8Array): Promise<void> {
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    if (this.pendingBytes >= WRITE_BATCH_BYTES) await this.flush();
  }

  async flush(): Promise<void> {
    const data = concatenate(this.pending, this.pendingBytes);
    this.pending = [];
    this.pendingBytes = 0;
    // A positional write may write less than asked; go on from where it stopped.
    for (let offset = 0; offset < data.length; ) {
      const { bytesWritten } = await this.file.write(data, offset, data.length - offset, this.position);
      offset += bytesWritten;
      this.position += bytesWritten;
    }
  }
}

function concatenate(chunks: readonly Uint8Array[], length: number): Uint8Array {
  if (chunks.length === 1) return chunks[0];
  const joined = new Uint8Array(length);
  let offset = 0;
  for (const chunk of chunks) {
    joined.set(chunk, offset);
    offset += chunk.length;
  }
  return joined;
}

// ---- Retries and errors ----------------------------------------------------------------------

/** Retries one request of the job; a body cut short counts as transient too. */
function withJobRetries<T>(job: Job, attempt: () => Promise<T>): Promise<T> {
  return withRetries(attempt, { maxAttempts: job.settings.maxAttempts, signal: job.signal, isRetryable, maxDelayMs: RETRY_MAX_DELAY_MS, baseDelayMs: RETRY_BASE_DELAY_MS });
}

function isRetryable(err: unknown): boolean {
  return isTransient(err) || err instanceof IncompleteBodyError;
}

/** A full or read-only local disk fails every other file of the job too. */
const LOCAL_DISK_CODES = new Set(['ENOSPC', 'EDQUOT', 'EROFS']);

/**
 * Records one key's failure, or stops the job when the cause would fail every other key too,
 * rather than filling `failed` with thousands of copies.
 */
function settleFailure(job: Job, key: string, cause: unknown, explained: Error): void {
  // Once stopped, the errors of requests cut short say nothing; the job's reason is what the caller sees.
  if (job.signal.aborted) return;
  if (isCredentialOrAccessError(cause) || LOCAL_DISK_CODES.has(errorCode(cause) ?? '')) job.stop(explained);
  else job.result.failed.push({ key, error: explained });
}

function explainDownloadError(err: unknown, bucket: string, key: string, profile: string | undefined): Error {
  const operation = `Download s3://${bucket}/${key}`;
  const code = errorCode(err);
  const because = (why: string) => new UserError(`${operation} failed: ${why}`, code, { cause: err });
  if (code === 'PreconditionFailed') {
    return because('the object changed in S3 while it was being downloaded (it was replaced after it was listed). Download it again.');
  }
  if (code === 'InvalidObjectState') {
    return because('the object is archived (Glacier or Deep Archive). Restore it first, then download it.');
  }
  if (code === 'ENOSPC' || code === 'EDQUOT') {
    return because('the local disk is full. Free some space or choose another folder; files already saved are kept.');
  }
  return explainAwsError(err, { operation, action: 's3:GetObject', resource: `arn:aws:s3:::${bucket}/${key}`, profile });
}

async function pathExists(target: string): Promise<boolean> {
  try {
    await lstat(target);
    return true;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return false;
    throw err;
  }
}

// ---- Scheduling and progress -----------------------------------------------------------------

/** The one limit on requests in flight, shared by every whole object, part and HEAD of a job. */
class RequestSlots {
  private free: number;
  private readonly waiting: (() => void)[] = [];

  constructor(count: number) {
    this.free = count;
  }

  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.free > 0) this.free--;
    else await new Promise<void>((resolve) => this.waiting.push(resolve));
    try {
      return await work();
    } finally {
      // Hand the slot straight to the next waiter, so no newcomer can take it in between.
      const next = this.waiting.shift();
      if (next) next();
      else this.free++;
    }
  }
}

/**
 * Listed items waiting for a worker. The lister runs ahead so totals are known early, and waits
 * once `capacity` items are queued. Pages are kept whole to avoid shifting a long array.
 */
class Backlog<T> {
  private readonly pages: T[][] = [];
  private takenFromFirstPage = 0;
  private size = 0;
  private ended = false;
  private takers: (() => void)[] = [];
  private putter?: () => void;

  constructor(private readonly capacity: number) {}

  async put(page: T[]): Promise<void> {
    while (this.size >= this.capacity && !this.ended) await new Promise<void>((resolve) => (this.putter = resolve));
    if (this.ended || page.length === 0) return;
    this.pages.push(page);
    this.size += page.length;
    this.wakeTakers();
  }

  /** The next item, or undefined once the backlog has ended and is empty. */
  async take(): Promise<T | undefined> {
    while (this.size === 0 && !this.ended) await new Promise<void>((resolve) => this.takers.push(resolve));
    if (this.size === 0) return undefined;
    const page = this.pages[0];
    const item = page[this.takenFromFirstPage++];
    if (this.takenFromFirstPage === page.length) {
      this.pages.shift();
      this.takenFromFirstPage = 0;
    }
    this.size--;
    this.wakePutter();
    return item;
  }

  /** No more items will come (the listing finished, or the job stopped); wakes everyone waiting. */
  end(): void {
    this.ended = true;
    this.wakeTakers();
    this.wakePutter();
  }

  private wakeTakers(): void {
    const takers = this.takers;
    this.takers = [];
    for (const wake of takers) wake();
  }

  private wakePutter(): void {
    const putter = this.putter;
    this.putter = undefined;
    putter?.();
  }
}

/** Totals and counts of a job, sent at most every PROGRESS_INTERVAL_MS, and once more at the end. */
class ProgressTracker {
  private bytesDone = 0;
  private bytesTotal = 0;
  private itemsDone = 0;
  private itemsTotal = 0;
  private message?: string;
  private lastSent = -Infinity;

  constructor(private readonly sink: ProgressSink) {}

  listed(items: number, bytes: number): void {
    this.itemsTotal += items;
    this.bytesTotal += bytes;
    this.sendSoon();
  }

  addBytes(bytes: number): void {
    this.bytesDone += bytes;
    this.sendSoon();
  }

  starting(key: string): void {
    this.message = key;
  }

  itemFinished(): void {
    this.itemsDone++;
    this.sendSoon();
  }

  flush(): void {
    this.lastSent = performance.now();
    const { bytesDone, bytesTotal, itemsDone, itemsTotal, message } = this;
    this.sink({ bytesDone, bytesTotal, itemsDone, itemsTotal, message });
  }

  private sendSoon(): void {
    if (performance.now() - this.lastSent >= PROGRESS_INTERVAL_MS) this.flush();
  }
}

/**
 * The bytes of one object counted in the progress, so that a skipped or failed object leaves the
 * totals as if it had never been listed, and the bar still ends full.
 */
class ObjectBytes {
  private done = 0;

  constructor(
    private readonly progress: ProgressTracker,
    /** The object's size, already in the progress total. */
    public expected: number,
  ) {}

  /** For an object whose size was not listed: adds it to the total once known. */
  expect(size: number): void {
    this.expected = size;
    this.progress.listed(0, size);
  }

  add(bytes: number): void {
    this.done += bytes;
    this.progress.addBytes(bytes);
  }

  takeBack(): void {
    this.progress.addBytes(-this.done);
    this.progress.listed(0, -this.expected);
    this.done = 0;
    this.expected = 0;
  }
}

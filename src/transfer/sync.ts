import { createReadStream } from 'node:fs';
import { createHash } from 'node:crypto';
import { basename, resolve } from 'node:path';
import { HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { runPool } from '../core/pool';
import { listAllObjects, type ObjectInfo } from '../s3/listing';
import { bareEtag, multipartEtag } from './checksums';
import { MTIME_METADATA } from './objectHeaders';
import { multipartThreshold, partSizeFor } from './plan';
import type { LocalFile } from './scan';
import type { UploadDestination } from './uploadJob';

/**
 * How sync decides a file is already there, among objects of the same size:
 * - 'size-and-mtime' (default): the modification time this engine keeps in the object's
 *   metadata equals the file's; one HEAD per same-size object. Objects uploaded by other tools
 *   have no such metadata and fall back to 'size-and-time'.
 * - 'size-and-time': stored after the file last changed, as `aws s3 sync`; no extra request.
 * - 'checksum': the ETag equals the file's MD5 (or multipart ETag); reads every candidate
 *   file once, and catches same-size edits that kept an older mtime.
 */
export type SyncComparison = 'size-and-mtime' | 'size-and-time' | 'checksum';

/** HEAD requests in flight while comparing modification times. */
const COMPARE_CONCURRENCY = 32;

export interface SyncOptions {
  readonly compare?: SyncComparison;
  /** Also list remote objects under the prefix that no local file matches, for deletion. */
  readonly deleteExtra?: boolean;
  readonly partSize?: number;
  readonly signal?: AbortSignal;
}

export interface SyncPlan {
  readonly upload: LocalFile[];
  readonly unchanged: LocalFile[];
  /** Keys under the prefix with no local file; deleted only when the user confirms. */
  readonly extra: ObjectInfo[];
}

export interface SyncDestination extends UploadDestination {
  /**
   * The local files and folders synced; each lands under its own name below the prefix, and only
   * the keys below those names belong to the sync. Without them, every key under the prefix does.
   */
  readonly sources?: readonly string[];
}

export async function planSync(
  s3: S3Client,
  files: readonly LocalFile[],
  destination: SyncDestination,
  options: SyncOptions = {},
): Promise<SyncPlan> {
  const remote = new Map<string, ObjectInfo>();
  // Only the keys the sources map to: `run42` synced to `raw/` owns `raw/run42/…`, and must not
  // see `raw/run41/…` as extra (that would delete it).
  for (const root of sourceRoots(destination)) {
    for await (const page of listAllObjects(s3, destination.bucket, root, options.signal)) {
      for (const object of page) if (belongsTo(object.key, root, destination)) remote.set(object.key, object);
    }
  }
  const upload: LocalFile[] = [];
  const candidates: Array<{ file: LocalFile; object: ObjectInfo }> = [];
  for (const file of files) {
    const key = destination.prefix + file.relativePath;
    const object = remote.get(key);
    remote.delete(key);
    if (object !== undefined && object.size === file.size) candidates.push({ file, object });
    else upload.push(file);
  }
  const verdicts = await runPool(candidates, COMPARE_CONCURRENCY, ({ file, object }) => matches(s3, destination.bucket, file, object, options), { signal: options.signal });
  const unchanged: LocalFile[] = [];
  verdicts.forEach((verdict, i) => {
    if (verdict?.status === 'rejected') throw verdict.reason;
    (verdict?.value ? unchanged : upload).push(candidates[i].file);
  });
  const extra = options.deleteExtra ? [...remote.values()].filter((o) => !o.key.endsWith('/')) : [];
  return { upload, unchanged, extra };
}

/** Key of each source: a folder's objects are below `prefix + name + '/'`, a file's object is `prefix + name`. */
function sourceRoots(destination: SyncDestination): string[] {
  if (!destination.sources) return [destination.prefix];
  return [...new Set(destination.sources.map((source) => destination.prefix + basename(resolve(source))))];
}

/** Listing `raw/run4` also returns `raw/run42/…`: only the name itself and what is below it count. */
function belongsTo(key: string, root: string, destination: SyncDestination): boolean {
  return !destination.sources || key === root || key.startsWith(`${root}/`);
}

async function matches(s3: S3Client, bucket: string, file: LocalFile, object: ObjectInfo, options: SyncOptions): Promise<boolean> {
  const compare = options.compare ?? 'size-and-mtime';
  if (compare === 'checksum') return bareEtag(object.etag) === bareEtag(await localEtag(file, options.partSize));
  if (compare === 'size-and-mtime') {
    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: object.key }), { abortSignal: options.signal });
    const kept = head.Metadata?.[MTIME_METADATA];
    if (kept !== undefined) return Number(kept) === Math.round(file.mtimeMs);
  }
  // A second of slack: some stores keep LastModified in whole seconds.
  return (object.lastModified?.getTime() ?? 0) + 1000 >= file.mtimeMs;
}

/** The ETag S3 would give this file uploaded by this engine: its MD5, or the multipart form. */
export async function localEtag(file: LocalFile, preferredPartSize?: number): Promise<string> {
  const partSize = partSizeFor(file.size, preferredPartSize);
  const multipart = file.size >= multipartThreshold(partSize);
  const whole = createHash('md5');
  const parts: Buffer[] = [];
  let part = createHash('md5');
  let inPart = 0;
  for await (const chunk of createReadStream(file.path, { highWaterMark: 1024 * 1024 }) as AsyncIterable<Buffer>) {
    if (!multipart) {
      whole.update(chunk);
      continue;
    }
    let offset = 0;
    while (offset < chunk.length) {
      const take = Math.min(partSize - inPart, chunk.length - offset);
      part.update(chunk.subarray(offset, offset + take));
      inPart += take;
      offset += take;
      if (inPart === partSize) {
        parts.push(part.digest());
        part = createHash('md5');
        inPart = 0;
      }
    }
  }
  if (!multipart) return `"${whole.digest('hex')}"`;
  if (inPart > 0) parts.push(part.digest());
  return multipartEtag(parts);
}

import {
  CreateBucketCommand,
  DeleteObjectsCommand,
  GetBucketEncryptionCommand,
  GetBucketVersioningCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  type BucketLocationConstraint,
  type S3Client,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { errorCode } from '../aws/errors';
import { ignoreProgress, throwIfAborted, type ProgressSink } from '../core/progress';
import { listAllObjects } from './listing';

/** S3 deletes at most 1,000 keys per DeleteObjects request. */
const DELETE_BATCH = 1000;

export interface DeleteTarget {
  readonly bucket: string;
  /** An object key, or a prefix ending in '/' whose every object is deleted. */
  readonly key: string;
}

export interface DeleteFailure {
  readonly bucket: string;
  readonly key: string;
  readonly code?: string;
  readonly message: string;
}

export interface DeleteResult {
  readonly deleted: number;
  readonly failed: DeleteFailure[];
}

/** Every key the targets stand for, counted before asking the user to confirm a delete. */
export async function expandTargets(
  s3: S3Client,
  targets: readonly DeleteTarget[],
  signal?: AbortSignal,
): Promise<Map<string, string[]>> {
  const byBucket = new Map<string, Set<string>>();
  for (const target of targets) {
    const keys = byBucket.get(target.bucket) ?? new Set<string>();
    byBucket.set(target.bucket, keys);
    if (!target.key.endsWith('/')) {
      keys.add(target.key);
      continue;
    }
    // The listing includes the folder's own marker object when "Create folder" made one.
    for await (const page of listAllObjects(s3, target.bucket, target.key, signal)) {
      for (const o of page) keys.add(o.key);
    }
  }
  return new Map([...byBucket].map(([bucket, keys]) => [bucket, [...keys]]));
}

/**
 * Deletes keys in batches of 1,000 with DeleteObjects. S3 answers per key, so one denied key
 * does not stop the rest: failures come back in the result for the user to see.
 */
export async function deleteKeys(
  s3: S3Client,
  keysByBucket: ReadonlyMap<string, readonly string[]>,
  options: { signal?: AbortSignal; progress?: ProgressSink } = {},
): Promise<DeleteResult> {
  const progress = options.progress ?? ignoreProgress;
  const itemsTotal = [...keysByBucket.values()].reduce((n, keys) => n + keys.length, 0);
  let deleted = 0;
  const failed: DeleteFailure[] = [];
  for (const [bucket, keys] of keysByBucket) {
    for (let i = 0; i < keys.length; i += DELETE_BATCH) {
      throwIfAborted(options.signal);
      const batch = keys.slice(i, i + DELETE_BATCH);
      const reply = await s3.send(
        new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true } }),
        { abortSignal: options.signal },
      );
      const errors = reply.Errors ?? [];
      for (const e of errors) {
        failed.push({ bucket, key: e.Key ?? '?', code: e.Code, message: e.Message ?? e.Code ?? 'unknown error' });
      }
      deleted += batch.length - errors.length;
      progress({ itemsDone: deleted + failed.length, itemsTotal, bytesDone: 0 });
    }
  }
  return { deleted, failed };
}

/** A folder, as the S3 console makes one: a zero-byte object whose key ends in '/'. */
export async function createFolder(s3: S3Client, bucket: string, parentPrefix: string, name: string): Promise<string> {
  const clean = name.trim().replace(/^\/+|\/+$/g, '');
  if (!clean) throw new Error('A folder name cannot be empty.');
  const key = `${parentPrefix}${clean}/`;
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: new Uint8Array(0), ContentLength: 0 }));
  return key;
}

export async function createBucket(s3: S3Client, name: string, region: string): Promise<void> {
  // us-east-1 is the one region that rejects an explicit LocationConstraint.
  const configuration = region === 'us-east-1' ? undefined : { LocationConstraint: region as BucketLocationConstraint };
  await s3.send(new CreateBucketCommand({ Bucket: name, CreateBucketConfiguration: configuration }));
}

export interface ObjectProperties {
  readonly bucket: string;
  readonly key: string;
  readonly size: number;
  readonly lastModified?: Date;
  readonly etag?: string;
  readonly contentType?: string;
  readonly storageClass: string;
  readonly versionId?: string;
  readonly serverSideEncryption?: string;
  readonly kmsKeyId?: string;
  readonly metadata: Record<string, string>;
  readonly restore?: string;
  /** Bucket-level facts; a string explains why one could not be read (often a missing permission). */
  readonly bucketVersioning: string;
  readonly bucketEncryption: string;
}

export async function objectProperties(s3: S3Client, bucket: string, key: string): Promise<ObjectProperties> {
  const [head, versioning, encryption] = await Promise.all([
    s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key })),
    bucketVersioning(s3, bucket),
    bucketEncryption(s3, bucket),
  ]);
  return {
    bucket,
    key,
    size: head.ContentLength ?? 0,
    lastModified: head.LastModified,
    etag: head.ETag,
    contentType: head.ContentType,
    // HEAD omits the storage class for STANDARD objects.
    storageClass: head.StorageClass ?? 'STANDARD',
    versionId: head.VersionId,
    serverSideEncryption: head.ServerSideEncryption,
    kmsKeyId: head.SSEKMSKeyId,
    metadata: head.Metadata ?? {},
    restore: head.Restore,
    bucketVersioning: versioning,
    bucketEncryption: encryption,
  };
}

export async function bucketVersioning(s3: S3Client, bucket: string): Promise<string> {
  try {
    const reply = await s3.send(new GetBucketVersioningCommand({ Bucket: bucket }));
    return reply.Status ?? 'Never enabled';
  } catch (err) {
    return unreadable(err);
  }
}

export async function bucketEncryption(s3: S3Client, bucket: string): Promise<string> {
  try {
    const reply = await s3.send(new GetBucketEncryptionCommand({ Bucket: bucket }));
    const rule = reply.ServerSideEncryptionConfiguration?.Rules?.[0]?.ApplyServerSideEncryptionByDefault;
    if (!rule) return 'None';
    return rule.KMSMasterKeyID ? `${rule.SSEAlgorithm} (${rule.KMSMasterKeyID})` : `${rule.SSEAlgorithm}`;
  } catch (err) {
    if (errorCode(err) === 'ServerSideEncryptionConfigurationNotFoundError') return 'None';
    return unreadable(err);
  }
}

function unreadable(err: unknown): string {
  const code = errorCode(err);
  return code === 'AccessDenied' ? 'Unknown (not allowed to read it)' : `Unknown (${code ?? 'error'})`;
}

/** The longest expiry S3 accepts for a presigned URL signed with long-term keys: 7 days. */
export const MAX_PRESIGN_SECONDS = 7 * 24 * 3600;

/**
 * A URL that lets anyone holding it GET the object until it expires. Callers must not log or
 * persist it: it is as good as a credential for that object.
 */
export async function presignGet(s3: S3Client, bucket: string, key: string, expiresInSeconds: number): Promise<string> {
  const seconds = Math.round(expiresInSeconds);
  if (!(seconds >= 1 && seconds <= MAX_PRESIGN_SECONDS)) {
    throw new Error(`A presigned URL can last from 1 second to 7 days; ${expiresInSeconds} seconds is outside that.`);
  }
  return getSignedUrl(s3, new GetObjectCommand({ Bucket: bucket, Key: key }), { expiresIn: seconds });
}

/** Reads a whole object into memory; for the read-only editor, which guards the size first. */
export async function readObject(s3: S3Client, bucket: string, key: string, signal?: AbortSignal): Promise<Uint8Array> {
  const reply = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }), { abortSignal: signal });
  return reply.Body ? reply.Body.transformToByteArray() : new Uint8Array();
}

export async function headObject(s3: S3Client, bucket: string, key: string) {
  return s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
}

import {
  ListBucketsCommand,
  ListObjectsV2Command,
  type S3Client,
  type _Object,
} from '@aws-sdk/client-s3';

export interface BucketInfo {
  readonly name: string;
  readonly created?: Date;
}

export interface ObjectInfo {
  readonly key: string;
  readonly size: number;
  readonly lastModified?: Date;
  readonly storageClass?: string;
  readonly etag?: string;
}

/** One page of a folder-like listing: the sub-prefixes and objects directly under a prefix. */
export interface ListPage {
  readonly prefixes: string[];
  readonly objects: ObjectInfo[];
  /** Present when there is more to load; pass it back to get the next page. */
  readonly nextToken?: string;
}

export interface ListPageRequest {
  readonly bucket: string;
  /** The folder being listed, ending in '/' or '' for the bucket's top. */
  readonly prefix: string;
  /** Narrows the folder to names starting with this text; S3 filters it server-side. */
  readonly filter?: string;
  readonly continuationToken?: string;
  /** Keys per page; S3 returns at most 1,000. */
  readonly pageSize?: number;
  readonly signal?: AbortSignal;
}

export async function listBuckets(s3: S3Client, signal?: AbortSignal): Promise<BucketInfo[]> {
  const buckets: BucketInfo[] = [];
  let token: string | undefined;
  do {
    const page = await s3.send(new ListBucketsCommand({ ContinuationToken: token, MaxBuckets: 1000 }), { abortSignal: signal });
    for (const b of page.Buckets ?? []) if (b.Name) buckets.push({ name: b.Name, created: b.CreationDate });
    token = page.ContinuationToken;
  } while (token);
  return buckets.sort((a, b) => a.name.localeCompare(b.name));
}

/**
 * One page of the folder view of `prefix`. Uses the '/' delimiter so a prefix holding millions of
 * objects costs one request per page, not a scan.
 */
export async function listPage(s3: S3Client, request: ListPageRequest): Promise<ListPage> {
  const reply = await s3.send(
    new ListObjectsV2Command({
      Bucket: request.bucket,
      Prefix: request.prefix + (request.filter ?? ''),
      Delimiter: '/',
      MaxKeys: request.pageSize ?? 1000,
      ContinuationToken: request.continuationToken,
    }),
    { abortSignal: request.signal },
  );
  return {
    prefixes: (reply.CommonPrefixes ?? []).flatMap((p) => (p.Prefix ? [p.Prefix] : [])),
    // The zero-byte marker a console "Create folder" leaves is the folder itself, not a child.
    objects: (reply.Contents ?? []).filter((o) => o.Key && o.Key !== request.prefix).map(toObjectInfo),
    nextToken: reply.IsTruncated ? reply.NextContinuationToken : undefined,
  };
}

/** Every object under a prefix, recursively, a page at a time, for downloads and deletes. */
export async function* listAllObjects(
  s3: S3Client,
  bucket: string,
  prefix: string,
  signal?: AbortSignal,
): AsyncGenerator<ObjectInfo[]> {
  let token: string | undefined;
  do {
    const reply = await s3.send(
      new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }),
      { abortSignal: signal },
    );
    const objects = (reply.Contents ?? []).filter((o) => o.Key).map(toObjectInfo);
    if (objects.length) yield objects;
    token = reply.IsTruncated ? reply.NextContinuationToken : undefined;
  } while (token);
}

function toObjectInfo(o: _Object): ObjectInfo {
  return {
    key: o.Key!,
    size: o.Size ?? 0,
    lastModified: o.LastModified,
    storageClass: o.StorageClass,
    etag: o.ETag,
  };
}

export type SortOrder = 'name' | 'date' | 'size';

/**
 * Orders a folder's loaded objects. S3 lists by name only, so date and size order what has been
 * loaded so far: newest and largest first, which is what someone looking for a recent run wants.
 */
export function sortObjects(objects: readonly ObjectInfo[], order: SortOrder): ObjectInfo[] {
  const sorted = [...objects];
  if (order === 'date') sorted.sort((a, b) => (b.lastModified?.getTime() ?? 0) - (a.lastModified?.getTime() ?? 0));
  else if (order === 'size') sorted.sort((a, b) => b.size - a.size);
  else sorted.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  return sorted;
}

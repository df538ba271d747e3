import { createHash } from 'node:crypto';
import { extname } from 'node:path';
import { lookup } from 'mime-types';

export const STORAGE_CLASSES = ['STANDARD', 'INTELLIGENT_TIERING', 'STANDARD_IA', 'GLACIER_IR', 'GLACIER', 'DEEP_ARCHIVE'] as const;
export type StorageClass = (typeof STORAGE_CLASSES)[number];

export type Encryption = { readonly type: 'AES256' } | { readonly type: 'aws:kms'; readonly keyId?: string };

/** Per-object choices of an upload job. */
export interface ObjectOptions {
  readonly storageClass?: StorageClass;
  readonly encryption?: Encryption;
  /** Content-Type from the file name (default on), so browsers and notebooks open objects right. */
  readonly contentTypeFromName?: boolean;
  /** Gzip compressible files sent in one PUT, with Content-Encoding: gzip. */
  readonly gzip?: boolean;
}

/** Metadata key holding the file's modification time (ms since 1970), for sync and downloads. */
export const MTIME_METADATA = 'mtime';

/** Headers for PutObject; CreateMultipartUpload takes the same values as SDK parameters. */
export function objectHeaders(relativePath: string, mtimeMs: number, options: ObjectOptions, gzipped: boolean): Record<string, string> {
  const headers: Record<string, string> = { [`x-amz-meta-${MTIME_METADATA}`]: String(Math.round(mtimeMs)) };
  const type = contentType(relativePath, options);
  if (type) headers['content-type'] = type;
  if (gzipped) headers['content-encoding'] = 'gzip';
  if (options.storageClass && options.storageClass !== 'STANDARD') headers['x-amz-storage-class'] = options.storageClass;
  if (options.encryption) {
    headers['x-amz-server-side-encryption'] = options.encryption.type;
    if (options.encryption.type === 'aws:kms' && options.encryption.keyId) {
      headers['x-amz-server-side-encryption-aws-kms-key-id'] = options.encryption.keyId;
    }
  }
  return headers;
}

export function contentType(relativePath: string, options: ObjectOptions): string | undefined {
  if (options.contentTypeFromName === false) return undefined;
  return lookup(relativePath) || undefined;
}

/** Formats that are compressed already: gzipping them again costs CPU and saves nothing. */
const COMPRESSED_EXTENSIONS = new Set([
  '.gz', '.tgz', '.bz2', '.xz', '.zst', '.zstd', '.lz4', '.zip', '.7z', '.rar', '.br',
  '.bam', '.cram', '.bcf', '.sra', '.h5', '.hdf5', '.nc', '.parquet', '.orc', '.npz',
  '.jpg', '.jpeg', '.png', '.gif', '.webp', '.heic', '.avif', '.jp2',
  '.mp4', '.mkv', '.mov', '.avi', '.webm', '.mp3', '.ogg', '.flac', '.aac', '.m4a',
  '.pdf', '.docx', '.xlsx', '.pptx', '.odt', '.whl', '.jar',
]);

export function isCompressible(relativePath: string): boolean {
  return !COMPRESSED_EXTENSIONS.has(extname(relativePath).toLowerCase());
}

/**
 * Spreads keys over many prefixes by a hash of the path. S3 has scaled per prefix since 2018
 * (3,500 writes/s each), so this only helps past that rate; it is off by default, and a
 * manifest maps every path to its key.
 */
export function hashedKey(prefix: string, relativePath: string): string {
  return `${prefix}${createHash('sha1').update(relativePath).digest('hex').slice(0, 4)}/${relativePath}`;
}

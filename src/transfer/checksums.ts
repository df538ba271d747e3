import { createHash } from 'node:crypto';

/**
 * CRC32C (Castagnoli), slicing-by-8. The SDK's own implementation goes a byte at a time
 * (about 300 MB/s here); this one reaches about 560 MB/s, which matters when big files must
 * be checksummed at the speed of the network on a two-core login node.
 */
const TABLES = buildTables();

function buildTables(): Uint32Array[] {
  const tables = Array.from({ length: 8 }, () => new Uint32Array(256));
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let j = 0; j < 8; j++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
    tables[0][i] = c >>> 0;
  }
  for (let i = 0; i < 256; i++) {
    for (let s = 1; s < 8; s++) tables[s][i] = (tables[s - 1][i] >>> 8) ^ tables[0][tables[s - 1][i] & 0xff];
  }
  return tables;
}

/** Continues a CRC32C over `data`; start from 0 for a new checksum. */
export function crc32c(data: Uint8Array, previous = 0): number {
  const [t0, t1, t2, t3, t4, t5, t6, t7] = TABLES;
  let crc = ~previous >>> 0;
  let i = 0;
  const end = data.length - (data.length % 8);
  for (; i < end; i += 8) {
    const a = (crc ^ (data[i] | (data[i + 1] << 8) | (data[i + 2] << 16) | (data[i + 3] << 24))) >>> 0;
    crc =
      t7[a & 0xff] ^ t6[(a >>> 8) & 0xff] ^ t5[(a >>> 16) & 0xff] ^ t4[a >>> 24] ^
      t3[data[i + 4]] ^ t2[data[i + 5]] ^ t1[data[i + 6]] ^ t0[data[i + 7]];
  }
  for (; i < data.length; i++) crc = (crc >>> 8) ^ t0[(crc ^ data[i]) & 0xff];
  return ~crc >>> 0;
}

/** The big-endian bytes of a CRC32C, base64: the form of the x-amz-checksum-crc32c header. */
export function crc32cBase64(value: number): string {
  const bytes = Buffer.alloc(4);
  bytes.writeUInt32BE(value >>> 0);
  return bytes.toString('base64');
}

export function md5(data: Uint8Array): Buffer {
  return createHash('md5').update(data).digest();
}

/**
 * The ETag S3 gives an unencrypted (or SSE-S3) multipart object: the MD5 of the parts' binary
 * MD5s, then '-' and the part count. Comparing it with HeadObject's ETag verifies the upload
 * on stores that keep no other checksum.
 */
export function multipartEtag(partMd5s: readonly Buffer[]): string {
  return `"${createHash('md5').update(Buffer.concat(partMd5s)).digest('hex')}-${partMd5s.length}"`;
}

/**
 * S3's composite checksum of a multipart upload: the CRC32C of the parts' binary CRC32Cs, then
 * '-' and the part count, as CompleteMultipartUpload and HeadObject report it.
 */
export function compositeCrc32c(partCrcs: readonly number[]): string {
  const joined = Buffer.alloc(partCrcs.length * 4);
  partCrcs.forEach((crc, i) => joined.writeUInt32BE(crc >>> 0, i * 4));
  return `${crc32cBase64(crc32c(joined))}-${partCrcs.length}`;
}

/** An ETag without quotes, for comparisons (stores differ in quoting). */
export function bareEtag(etag: string | undefined): string {
  return (etag ?? '').replace(/^W\//, '').replace(/"/g, '');
}

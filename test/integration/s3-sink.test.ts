// The S3 sink that benchmarks rank upload clients on: the AWS SDK's calls round-trip through it,
// it unframes aws-chunked bodies and counts only their payload, checks multipart completions as
// AWS does, honours its added latency, and the peers (aws-cli, rclone) upload to it unaided.
import {
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  ListPartsCommand,
  PutObjectCommand,
  S3Client,
  type S3ClientConfig,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { crc32 } from 'node:zlib';
import { s3Operation, startS3Sink } from '../harness/s3-sink.mjs';

const Bucket = 'sink-test';
const MiB = 2 ** 20;
type Sink = Awaited<ReturnType<typeof startS3Sink>>;

describe('S3 sink', () => {
  let sink: Sink;
  let s3: S3Client;

  before(async () => {
    // verifyMd5 so that ETags can be checked against MD5s computed here.
    sink = await startS3Sink({ verifyMd5: true });
    s3 = client(sink.endpoint);
    await s3.send(new CreateBucketCommand({ Bucket }));
  });

  after(async () => {
    s3?.destroy();
    await sink?.stop();
  });

  it('round-trips PutObject, HeadObject and ListObjectsV2 with metadata, folders and paging', async () => {
    const body = Buffer.from('hello sink');
    const put = await s3.send(new PutObjectCommand({
      Bucket, Key: 'dir/a b+c.txt', Body: body, Metadata: { mtime: '1700000000' }, StorageClass: 'STANDARD_IA', ContentType: 'text/plain',
    }));
    assert.equal(put.ETag, `"${md5(body)}"`);
    for (const key of ['dir/sub/x', 'dir/sub/y', 'dir/z', 'top']) {
      await s3.send(new PutObjectCommand({ Bucket, Key: key, Body: key }));
    }

    const head = await s3.send(new HeadObjectCommand({ Bucket, Key: 'dir/a b+c.txt' }));
    assert.equal(head.ContentLength, body.length);
    assert.equal(head.ETag, put.ETag);
    assert.deepEqual(head.Metadata, { mtime: '1700000000' });
    assert.equal(head.StorageClass, 'STANDARD_IA');
    assert.equal(head.ContentType, 'text/plain');
    assert.ok(head.LastModified instanceof Date);

    const top = await s3.send(new ListObjectsV2Command({ Bucket, Delimiter: '/' }));
    assert.deepEqual(top.CommonPrefixes?.map((p) => p.Prefix), ['dir/']);
    assert.deepEqual(top.Contents?.map((o) => [o.Key, o.Size]), [['top', 3]]);

    // Two per page, a common prefix counting as one: [a b+c.txt, sub/], [z].
    const pages = [];
    let ContinuationToken: string | undefined;
    do {
      const page = await s3.send(new ListObjectsV2Command({ Bucket, Prefix: 'dir/', Delimiter: '/', MaxKeys: 2, ContinuationToken }));
      pages.push([...(page.Contents ?? []).map((o) => o.Key), ...(page.CommonPrefixes ?? []).map((p) => p.Prefix)]);
      ContinuationToken = page.NextContinuationToken;
    } while (ContinuationToken);
    assert.deepEqual(pages, [['dir/a b+c.txt', 'dir/sub/'], ['dir/z']]);
  });

  it('runs a multipart upload: ListParts, ListMultipartUploads, and the md5-of-md5s ETag', async () => {
    const Key = 'multi.bin';
    const parts = [Buffer.alloc(5 * MiB, 1), Buffer.alloc(1000, 2)];
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket, Key, Metadata: { origin: 'test' } }));
    const etags = [];
    for (const [i, Body] of parts.entries()) {
      const { ETag } = await s3.send(new UploadPartCommand({ Bucket, Key, UploadId, PartNumber: i + 1, Body }));
      assert.equal(ETag, `"${md5(Body)}"`);
      etags.push(ETag!);
    }
    const listed = await s3.send(new ListPartsCommand({ Bucket, Key, UploadId }));
    assert.deepEqual(listed.Parts?.map((p) => [p.PartNumber, p.Size, p.ETag]), [[1, 5 * MiB, etags[0]], [2, 1000, etags[1]]]);
    const open = await s3.send(new ListMultipartUploadsCommand({ Bucket }));
    assert.deepEqual(open.Uploads?.map((u) => [u.Key, u.UploadId]), [[Key, UploadId]]);
    assert.equal(sink.stats.openMultipartUploads, 1);

    const done = await s3.send(new CompleteMultipartUploadCommand({
      Bucket, Key, UploadId, MultipartUpload: { Parts: etags.map((ETag, i) => ({ ETag, PartNumber: i + 1 })) },
    }));
    const expected = `"${md5(Buffer.concat(parts.map((p) => createHash('md5').update(p).digest())))}-2"`;
    assert.equal(done.ETag, expected);
    const head = await s3.send(new HeadObjectCommand({ Bucket, Key }));
    assert.equal(head.ContentLength, 5 * MiB + 1000);
    assert.equal(head.ETag, expected);
    assert.deepEqual(head.Metadata, { origin: 'test' });
    assert.equal(sink.stats.openMultipartUploads, 0);
  });

  it('refuses a completion AWS would refuse', async () => {
    const Key = 'refused.bin';
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket, Key }));
    const small = await s3.send(new UploadPartCommand({ Bucket, Key, UploadId, PartNumber: 1, Body: 'small' }));
    const last = await s3.send(new UploadPartCommand({ Bucket, Key, UploadId, PartNumber: 2, Body: 'last' }));
    const complete = (Parts: { ETag?: string, PartNumber: number }[], uploadId = UploadId) => s3.send(
      new CompleteMultipartUploadCommand({ Bucket, Key, UploadId: uploadId, MultipartUpload: { Parts } }));

    await assert.rejects(complete([{ ETag: '"0123456789abcdef0123456789abcdef"', PartNumber: 1 }]), { name: 'InvalidPart' });
    await assert.rejects(complete([{ ETag: last.ETag, PartNumber: 2 }, { ETag: small.ETag, PartNumber: 1 }]), { name: 'InvalidPartOrder' });
    await assert.rejects(complete([{ ETag: small.ETag, PartNumber: 1 }, { ETag: last.ETag, PartNumber: 2 }]), { name: 'EntityTooSmall' });
    await assert.rejects(complete([{ ETag: small.ETag, PartNumber: 1 }], 'no-such-upload'), { name: 'NoSuchUpload' });
    // A single part may be small: it is the last.
    await complete([{ ETag: small.ETag, PartNumber: 1 }]);
    assert.equal((await s3.send(new HeadObjectCommand({ Bucket, Key }))).ContentLength, 5);
  });

  it('unframes the SDK\'s default aws-chunked stream and counts only its payload', async () => {
    const payload = Buffer.alloc(300_000, 7);
    const withChecksums = client(sink.endpoint, { requestChecksumCalculation: 'WHEN_SUPPORTED' });
    const before = sink.stats.bytesReceived;
    try {
      // A stream body is what makes the SDK send aws-chunked with a trailing CRC32.
      await withChecksums.send(new PutObjectCommand({ Bucket, Key: 'chunked.bin', Body: Readable.from([payload.subarray(0, 100_000), payload.subarray(100_000)]), ContentLength: payload.length }));
    } finally {
      withChecksums.destroy();
    }
    assert.equal(sink.stats.bytesReceived - before, payload.length);
    const head = await s3.send(new HeadObjectCommand({ Bucket, Key: 'chunked.bin', ChecksumMode: 'ENABLED' }));
    assert.equal(head.ContentLength, payload.length);
    assert.equal(head.ETag, `"${md5(payload)}"`);
    assert.equal(head.ChecksumCRC32, crc32Base64(payload));
  });

  it('unframes signed aws-chunked bodies split at any byte', async () => {
    const chunks = [Buffer.from('hello '), Buffer.from('chunked world')];
    const framed = Buffer.concat([
      ...chunks.flatMap((c) => [Buffer.from(`${c.length.toString(16)};chunk-signature=${'a'.repeat(64)}\r\n`), c, Buffer.from('\r\n')]),
      Buffer.from(`0;chunk-signature=${'b'.repeat(64)}\r\n\r\n`),
    ]);
    const status = await rawPut(sink.endpoint, `/${Bucket}/signed-chunked`, framed, {
      'content-encoding': 'aws-chunked',
      'x-amz-content-sha256': 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD',
      'x-amz-decoded-content-length': '19',
    });
    assert.equal(status, 200);
    const head = await s3.send(new HeadObjectCommand({ Bucket, Key: 'signed-chunked' }));
    assert.equal(head.ContentLength, 19);
    assert.equal(head.ETag, `"${md5(Buffer.from('hello chunked world'))}"`);
    assert.equal(head.ContentEncoding, undefined);
  });

  it('refuses a body whose Content-MD5 does not match when verifying', async () => {
    await assert.rejects(s3.send(new PutObjectCommand({ Bucket, Key: 'bad-md5', Body: 'abc', ContentMD5: md5Base64(Buffer.from('abd')) })), { name: 'BadDigest' });
  });

  it('serves zeros of the stored size, whole or by range', async () => {
    const whole = await s3.send(new GetObjectCommand({ Bucket, Key: 'multi.bin' }));
    const bytes = await whole.Body!.transformToByteArray();
    assert.equal(bytes.length, 5 * MiB + 1000);
    assert.ok(bytes.every((b) => b === 0));
    const ranged = await s3.send(new GetObjectCommand({ Bucket, Key: 'multi.bin', Range: 'bytes=10-19' }));
    assert.equal(ranged.ContentRange, `bytes 10-19/${5 * MiB + 1000}`);
    assert.equal((await ranged.Body!.transformToByteArray()).length, 10);
  });

  it('counts requests by operation, and reset() forgets objects and counts but keeps buckets', async () => {
    sink.reset();
    await s3.send(new PutObjectCommand({ Bucket, Key: 'counted-1', Body: 'four' }));
    await s3.send(new PutObjectCommand({ Bucket, Key: 'counted-2', Body: 'five5' }));
    await s3.send(new HeadObjectCommand({ Bucket, Key: 'counted-1' }));
    await assert.rejects(s3.send(new HeadObjectCommand({ Bucket, Key: 'missing' })), { name: 'NotFound' });
    assert.deepEqual(sink.stats.requests, { PutObject: 2, HeadObject: 2 });
    assert.deepEqual(sink.stats.errors, { NoSuchKey: 1 });
    assert.equal(sink.stats.bytesReceived, 9);
    assert.equal(sink.stats.objectBytes, 9);
    assert.equal(sink.stats.maxConcurrentRequests, 1);

    sink.reset();
    assert.deepEqual(sink.stats.requests, {});
    assert.equal(sink.stats.objects, 0);
    const listed = await s3.send(new ListObjectsV2Command({ Bucket }));
    assert.equal(listed.KeyCount, 0);
  });

  it('names operations as the AWS API does', () => {
    const cases: [string, string, Record<string, string>, string][] = [
      ['GET', '/', {}, 'ListBuckets'],
      ['PUT', '/b/k?partNumber=3&uploadId=x&x-id=UploadPart', {}, 'UploadPart'],
      ['PUT', '/b/k?partNumber=3&uploadId=x', { 'x-amz-copy-source': '/b/o' }, 'UploadPartCopy'],
      ['POST', '/b/k?uploads', {}, 'CreateMultipartUpload'],
      ['POST', '/b/k?uploadId=x', {}, 'CompleteMultipartUpload'],
      ['GET', '/b?delimiter=%2F&prefix=', {}, 'ListObjects'],
      ['GET', '/b/?list-type=2&encoding-type=url', {}, 'ListObjectsV2'],
      ['PUT', '/b/k?tagging', {}, 'PUT ?tagging'],
    ];
    for (const [method, url, headers, name] of cases) assert.equal(s3Operation(method, url, headers), name, `${method} ${url}`);
  });
});

describe('S3 sink without verifyMd5', () => {
  it('takes the ETag from Content-MD5, else makes one up that is not the MD5', async () => {
    const sink = await startS3Sink();
    const s3 = client(sink.endpoint);
    try {
      await s3.send(new CreateBucketCommand({ Bucket }));
      const body = Buffer.from('trusted');
      const sent = await s3.send(new PutObjectCommand({ Bucket, Key: 'a', Body: body, ContentMD5: md5Base64(body) }));
      assert.equal(sent.ETag, `"${md5(body)}"`);
      const made = await s3.send(new PutObjectCommand({ Bucket, Key: 'b', Body: body }));
      assert.match(made.ETag!, /^"[0-9a-f]{32}"$/);
      assert.notEqual(made.ETag, sent.ETag);
    } finally {
      s3.destroy();
      await sink.stop();
    }
  });

  it('adds latencyMs to every response, concurrently', async () => {
    const sink = await startS3Sink({ latencyMs: 200 });
    const s3 = client(sink.endpoint);
    try {
      await s3.send(new CreateBucketCommand({ Bucket }));
      const started = performance.now();
      await Promise.all(Array.from({ length: 16 }, (_, i) => s3.send(new PutObjectCommand({ Bucket, Key: `k${i}`, Body: 'x' }))));
      const elapsed = performance.now() - started;
      assert.ok(elapsed >= 200 && elapsed < 1000, `16 concurrent PUTs took ${Math.round(elapsed)} ms`);
      assert.equal(sink.stats.maxConcurrentRequests, 16);
    } finally {
      s3.destroy();
      await sink.stop();
    }
  });
});

const execFileAsync = promisify(execFile);
const AWS_CLI = '/usr/bin/aws';
const hasPeers = existsSync(AWS_CLI) && ['/usr/bin/rclone', '/usr/local/bin/rclone'].some((p) => existsSync(p));

describe('peers upload to the sink', { skip: !hasPeers && 'aws-cli v2 or rclone not installed' }, () => {
  let sink: Sink;
  let dir: string;
  const keys = ['a b+c&d.txt', 'small-1.bin', 'small-2.bin', 'sub/nested.txt', 'big.bin'];
  const BIG = 12 * MiB;

  before(async () => {
    sink = await startS3Sink();
    const s3 = client(sink.endpoint);
    await s3.send(new CreateBucketCommand({ Bucket }));
    s3.destroy();
    dir = await mkdtemp(join(tmpdir(), 'sink-peers-'));
    await mkdir(join(dir, 'sub'));
    for (const key of keys) await writeFile(join(dir, key), key === 'big.bin' ? Buffer.alloc(BIG, 3) : `body of ${key}\n`);
  });

  after(async () => {
    await sink?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const env = () => {
    // AWS_CA_BUNDLE, when the environment sets one, breaks rclone's S3 backend (TESTING.md).
    const { AWS_CA_BUNDLE: _ignored, ...rest } = process.env;
    return {
      ...rest,
      AWS_ACCESS_KEY_ID: 'sink', AWS_SECRET_ACCESS_KEY: 'sink-secret', AWS_DEFAULT_REGION: 'us-east-1',
      AWS_CONFIG_FILE: '/dev/null', AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
      RCLONE_CONFIG: '/dev/null', RCLONE_CONFIG_SINK_TYPE: 's3', RCLONE_CONFIG_SINK_PROVIDER: 'Other',
      RCLONE_CONFIG_SINK_ENDPOINT: sink.endpoint, RCLONE_CONFIG_SINK_ACCESS_KEY_ID: 'sink', RCLONE_CONFIG_SINK_SECRET_ACCESS_KEY: 'sink-secret',
    };
  };
  /** Key and size of every object under the prefix, as the SDK lists them. */
  const stored = async (prefix: string) => {
    const s3 = client(sink.endpoint);
    try {
      const listed = await s3.send(new ListObjectsV2Command({ Bucket, Prefix: prefix }));
      return Object.fromEntries((listed.Contents ?? []).map((o) => [o.Key!.slice(prefix.length), o.Size]));
    } finally {
      s3.destroy();
    }
  };
  const expected = () => Object.fromEntries(keys.map((k) => [k, k === 'big.bin' ? BIG : `body of ${k}\n`.length]));

  it('aws-cli: cp --recursive (multipart above 8 MiB), then sync finds nothing to do', async () => {
    sink.reset();
    await execFileAsync(AWS_CLI, ['--endpoint-url', sink.endpoint, 's3', 'cp', '--recursive', '--only-show-errors', dir, `s3://${Bucket}/aws/`], { env: env() });
    assert.deepEqual(await stored('aws/'), expected());
    assert.equal(sink.stats.requests.CompleteMultipartUpload, 1);
    assert.equal(sink.stats.objectBytes, sink.stats.bytesReceived);
    const { stdout } = await execFileAsync(AWS_CLI, ['--endpoint-url', sink.endpoint, 's3', 'sync', '--dryrun', dir, `s3://${Bucket}/aws/`], { env: env() });
    assert.equal(stdout.trim(), '', `sync would upload again:\n${stdout}`);
  });

  it('rclone: copy (multipart with a lowered cutoff), ETags checked, then a second copy uploads nothing', async () => {
    sink.reset();
    const copy = () => execFileAsync('rclone', ['copy', dir, `sink:${Bucket}/rclone`, '--s3-upload-cutoff', '5M', '--s3-chunk-size', '5M'], { env: env() });
    await copy();
    assert.deepEqual(await stored('rclone/'), expected());
    assert.equal(sink.stats.requests.CompleteMultipartUpload, 1);
    const puts = sink.stats.requests.PutObject;
    await copy();
    assert.equal(sink.stats.requests.PutObject, puts);
  });
});

function client(endpoint: string, options: S3ClientConfig = {}): S3Client {
  return new S3Client({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'sink', secretAccessKey: 'sink-secret' },
    forcePathStyle: true,
    maxAttempts: 1,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    ...options,
  });
}

function md5(data: Buffer): string {
  return createHash('md5').update(data).digest('hex');
}

function md5Base64(data: Buffer): string {
  return createHash('md5').update(data).digest('base64');
}

function crc32Base64(data: Buffer): string {
  const sum = Buffer.alloc(4);
  sum.writeUInt32BE(crc32(data));
  return sum.toString('base64');
}

/** A PUT written a few bytes at a time, so framing lines arrive split across reads. */
function rawPut(endpoint: string, path: string, body: Buffer, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(`${endpoint}${path}`, { method: 'PUT', headers: { ...headers, 'content-length': body.length } }, (res) => {
      res.resume();
      res.once('end', () => resolve(res.statusCode ?? 0));
    });
    req.once('error', reject);
    let offset = 0;
    const writeSome = () => {
      if (offset >= body.length) return void req.end();
      req.write(body.subarray(offset, offset + 7));
      offset += 7;
      setImmediate(writeSome);
    };
    writeSome();
  });
}

import {
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  NoSuchKey,
  S3Client,
  S3ServiceException,
  type GetObjectCommandInput,
  type ListObjectsV2CommandInput,
} from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import assert from 'node:assert/strict';
import { createHash, randomFillSync } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { UserError } from '../../src/aws/errors';
import { CancelledError, isCancellation, type ProgressReport } from '../../src/core/progress';
import { downloadToFolder } from '../../src/s3/download';
import { localPathForObject, localPathUnderFolder, UnsafeKeyError } from '../../src/s3/keys';

const BUCKET = 'lab';
const MiB = 1024 * 1024;

interface FakeObject {
  body: Uint8Array;
  etag: string;
  lastModified: Date;
  /** Listed, but gone by the time it is fetched. */
  vanished?: boolean;
}

/** What a fault hook may do to one GetObject call: fail it, or cut its body short. */
type Fault = { reject: Error } | { dropAfterBytes: number } | undefined;

/**
 * An S3 bucket behind aws-sdk-client-mock that behaves like the real one where the engine
 * depends on it: paginated listing by prefix, HEAD, GET honouring Range and IfMatch, bodies
 * streamed in chunks on later ticks. It records requests and how many GETs are in flight.
 */
class FakeBucket {
  readonly client = new S3Client({ region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
  readonly objects = new Map<string, FakeObject>();
  readonly gets: GetObjectCommandInput[] = [];
  readonly lists: ListObjectsV2CommandInput[] = [];
  pageSize = 2;
  chunkSize = 64 * 1024;
  chunkDelayMs = 0;
  inFlight = 0;
  maxInFlight = 0;
  chunksServed = 0;
  fault: (input: GetObjectCommandInput, attempt: number) => Fault = () => undefined;
  onChunk: () => void = () => undefined;
  private readonly attempts = new Map<string, number>();

  constructor() {
    const mock = mockClient(this.client);
    mock.on(ListObjectsV2Command).callsFake(async (input: ListObjectsV2CommandInput) => this.list(input));
    mock.on(HeadObjectCommand).callsFake(async (input: { Key: string }) => this.head(input.Key));
    mock.on(GetObjectCommand).callsFake(async (input: GetObjectCommandInput) => this.get(input));
  }

  put(key: string, body: Uint8Array | string, lastModified = new Date('2024-03-01T10:00:00Z')): Uint8Array {
    const bytes = typeof body === 'string' ? new TextEncoder().encode(body) : body;
    this.objects.set(key, { body: bytes, etag: `"${createHash('md5').update(bytes).digest('hex')}"`, lastModified });
    return bytes;
  }

  getsOf(key: string): GetObjectCommandInput[] {
    return this.gets.filter((input) => input.Key === key);
  }

  private list(input: ListObjectsV2CommandInput) {
    this.lists.push(input);
    const keys = [...this.objects.keys()].filter((key) => key.startsWith(input.Prefix ?? '')).sort();
    const start = input.ContinuationToken ? keys.indexOf(input.ContinuationToken) + 1 : 0;
    const page = keys.slice(start, start + this.pageSize);
    const truncated = start + this.pageSize < keys.length;
    return {
      Contents: page.map((key) => {
        const object = this.objects.get(key)!;
        return { Key: key, Size: object.body.length, ETag: object.etag, LastModified: object.lastModified };
      }),
      IsTruncated: truncated,
      NextContinuationToken: truncated ? page.at(-1) : undefined,
    };
  }

  private head(key: string) {
    const object = this.objects.get(key);
    if (!object || object.vanished) throw s3Error('NotFound', 404);
    return { ContentLength: object.body.length, ETag: object.etag, LastModified: object.lastModified };
  }

  private get(input: GetObjectCommandInput) {
    this.gets.push(input);
    const id = `${input.Key} ${input.Range ?? 'all'}`;
    const attempt = (this.attempts.get(id) ?? 0) + 1;
    this.attempts.set(id, attempt);
    const fault = this.fault(input, attempt);
    if (fault && 'reject' in fault) throw fault.reject;
    const object = this.objects.get(input.Key!);
    if (!object || object.vanished) throw new NoSuchKey({ message: 'The specified key does not exist.', $metadata: { httpStatusCode: 404 } });
    if (input.IfMatch && input.IfMatch !== object.etag) throw s3Error('PreconditionFailed', 412);
    const [start, end] = parseRange(input.Range, object.body.length);
    const slice = object.body.subarray(start, end);
    return {
      Body: this.stream(slice, fault?.dropAfterBytes),
      ContentLength: slice.length,
      ContentRange: input.Range ? `bytes ${start}-${end - 1}/${object.body.length}` : undefined,
      ETag: object.etag,
      LastModified: object.lastModified,
    };
  }

  /** A body that sends its chunks on later ticks, like a socket, and counts as in flight until closed. */
  private stream(data: Uint8Array, dropAfterBytes: number | undefined): Readable {
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    let offset = 0;
    let timer: NodeJS.Timeout | undefined;
    const stream = new Readable({
      read: () => {
        timer = setTimeout(() => {
          if (dropAfterBytes !== undefined && offset >= dropAfterBytes) {
            stream.destroy(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }));
          } else if (offset >= data.length) {
            stream.push(null);
          } else {
            this.chunksServed++;
            stream.push(data.subarray(offset, offset + this.chunkSize));
            offset += this.chunkSize;
            this.onChunk();
          }
        }, this.chunkDelayMs);
      },
      destroy: (err, callback) => {
        clearTimeout(timer);
        callback(err);
      },
    });
    stream.once('close', () => this.inFlight--);
    return stream;
  }
}

function parseRange(range: string | undefined, size: number): [number, number] {
  if (!range) return [0, size];
  const match = /^bytes=(\d+)-(\d+)$/.exec(range);
  assert.ok(match, `unexpected Range header ${range}`);
  return [Number(match[1]), Math.min(size, Number(match[2]) + 1)];
}

function s3Error(name: string, status: number): Error {
  return new S3ServiceException({ name, $fault: status >= 500 ? 'server' : 'client', $metadata: { httpStatusCode: status }, message: name });
}

/** Every entry under `dir`, as sorted '/'-separated relative paths. */
async function entries(dir: string): Promise<string[]> {
  const found = await readdir(dir, { recursive: true });
  return found.map((entry) => entry.split(path.sep).join('/')).sort();
}

function randomData(size: number): Uint8Array {
  return randomFillSync(new Uint8Array(size));
}

function digest(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

async function fileDigest(file: string): Promise<string> {
  return digest(new Uint8Array(await readFile(file)));
}

function temporaryFiles(list: string[]): string[] {
  return list.filter((entry) => entry.includes('.rcpart-'));
}

let root: string;
let dest: string;
let s3: FakeBucket;

beforeEach(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'rc-download-'));
  dest = path.join(root, 'dest');
  s3 = new FakeBucket();
});

afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('structure', () => {
  test('a folder prefix is saved as DEST/<folder>/… with its structure, across listing pages', async () => {
    const a = s3.put('data/run1/a.txt', 'alpha');
    const b = s3.put('data/run1/sub/b.txt', 'bravo');
    const c = s3.put('data/run1/sub/deep/c.txt', 'charlie');
    s3.put('data/run1/', '');
    s3.put('data/run1/empty/', '');
    s3.put('data/run10/not-mine.txt', 'x');

    const result = await downloadToFolder(s3.client, [{ bucket: BUCKET, prefix: 'data/run1' }], dest);

    assert.deepEqual(await entries(dest), ['run1', 'run1/a.txt', 'run1/empty', 'run1/sub', 'run1/sub/b.txt', 'run1/sub/deep', 'run1/sub/deep/c.txt']);
    assert.equal(await readFile(path.join(dest, 'run1/sub/deep/c.txt'), 'utf8'), 'charlie');
    assert.equal(await readFile(path.join(dest, 'run1/a.txt'), 'utf8'), 'alpha');
    assert.deepEqual(result, { files: 3, bytes: a.length + b.length + c.length, skipped: [], failed: [] });
    assert.ok(s3.lists.length >= 3, 'five keys in pages of two take three listings');
    for (const input of s3.lists) {
      assert.equal(input.Prefix, 'data/run1/');
      assert.equal(input.Delimiter, undefined);
    }
    assert.equal(s3.lists[0].ContinuationToken, undefined);
    assert.ok(s3.lists.slice(1).every((input) => typeof input.ContinuationToken === 'string'), 'later pages follow the token');
  });

  test('a single object is saved as DEST/<name>, and several sources go in one call', async () => {
    s3.put('data/run1/a.fastq', 'ACGT');
    s3.put('data/run2/x/y.csv', '1,2');

    const result = await downloadToFolder(
      s3.client,
      [
        { bucket: BUCKET, key: 'data/run1/a.fastq' },
        { bucket: BUCKET, prefix: 'data/run2/' },
      ],
      dest,
    );

    assert.deepEqual(await entries(dest), ['a.fastq', 'run2', 'run2/x', 'run2/x/y.csv']);
    assert.equal(await readFile(path.join(dest, 'a.fastq'), 'utf8'), 'ACGT');
    assert.equal(await readFile(path.join(dest, 'run2/x/y.csv'), 'utf8'), '1,2');
    assert.equal(result.files, 2);
  });

  test('the local file gets the object\'s LastModified as its mtime, for listed, single and big objects', async () => {
    const listedDate = new Date('2020-01-02T03:04:05Z');
    const singleDate = new Date('2021-06-07T08:09:10Z');
    s3.put('data/run1/small.txt', 'small', listedDate);
    s3.put('data/run1/big.bin', randomData(3 * MiB), listedDate);
    s3.put('data/elsewhere/single.txt', 'single', singleDate);

    await downloadToFolder(
      s3.client,
      [
        { bucket: BUCKET, prefix: 'data/run1/' },
        { bucket: BUCKET, key: 'data/elsewhere/single.txt' },
      ],
      dest,
      { partSize: MiB, multipartThreshold: 2 * MiB },
    );

    assert.equal((await stat(path.join(dest, 'run1/small.txt'))).mtime.getTime(), listedDate.getTime());
    assert.equal((await stat(path.join(dest, 'run1/big.bin'))).mtime.getTime(), listedDate.getTime());
    assert.equal((await stat(path.join(dest, 'single.txt'))).mtime.getTime(), singleDate.getTime());
  });
});

describe('big objects', () => {
  test('are fetched as ranged GETs, each with IfMatch, and reassembled byte for byte', async () => {
    const body = s3.put('data/big.bam', randomData(5 * MiB + 12_345));
    const etag = s3.objects.get('data/big.bam')!.etag;

    await downloadToFolder(s3.client, [{ bucket: BUCKET, key: 'data/big.bam' }], dest, { partSize: MiB, multipartThreshold: 2 * MiB });

    assert.equal(await fileDigest(path.join(dest, 'big.bam')), digest(body), 'the file equals the object');
    const ranges = s3.getsOf('data/big.bam').map((input) => {
      assert.equal(input.IfMatch, etag);
      return parseRange(input.Range, body.length);
    });
    ranges.sort((x, y) => x[0] - y[0]);
    assert.equal(ranges.length, 6);
    ranges.forEach(([start, end], index) => {
      assert.equal(start, index * MiB, 'parts follow each other with no gap or overlap');
      assert.equal(end, Math.min(body.length, start + MiB));
    });
  });

  test('transient errors (503 SlowDown, a connection dropped mid-body) are retried and the file is identical', async () => {
    const body = s3.put('data/big.bam', randomData(4 * MiB + 7));
    const slowDown = `bytes=${MiB}-${2 * MiB - 1}`;
    const dropped = `bytes=${2 * MiB}-${3 * MiB - 1}`;
    s3.fault = (input, attempt) => {
      if (attempt === 1 && input.Range === slowDown) return { reject: s3Error('SlowDown', 503) };
      if (attempt === 1 && input.Range === dropped) return { dropAfterBytes: 256 * 1024 };
      return undefined;
    };
    const reports: ProgressReport[] = [];

    const result = await downloadToFolder(s3.client, [{ bucket: BUCKET, key: 'data/big.bam' }], dest, {
      partSize: MiB,
      multipartThreshold: 2 * MiB,
      progress: (report) => reports.push(report),
    });

    assert.equal(await fileDigest(path.join(dest, 'big.bam')), digest(body));
    assert.equal(s3.getsOf('data/big.bam').filter((input) => input.Range === slowDown).length, 2);
    assert.equal(s3.getsOf('data/big.bam').filter((input) => input.Range === dropped).length, 2);
    assert.deepEqual(result.failed, []);
    const last = reports.at(-1)!;
    assert.equal(last.bytesDone, body.length, 'bytes of the failed attempts are not counted twice');
    assert.equal(last.bytesTotal, body.length);
  });

  test('an object replaced during the download fails as "changed" and leaves no file', async () => {
    s3.put('data/big.bam', randomData(4 * MiB));
    s3.chunkDelayMs = 1;
    let replaced = false;
    s3.onChunk = () => {
      if (!replaced) s3.put('data/big.bam', randomData(4 * MiB));
      replaced = true;
    };

    const result = await downloadToFolder(s3.client, [{ bucket: BUCKET, prefix: 'data/' }], dest, {
      partSize: MiB,
      multipartThreshold: 2 * MiB,
      concurrency: 1,
    });

    assert.equal(result.failed.length, 1);
    assert.equal(result.failed[0].key, 'data/big.bam');
    assert.match(result.failed[0].error.message, /s3:\/\/lab\/data\/big\.bam.*changed/);
    assert.deepEqual(await entries(dest), ['data'], 'neither the file nor a temporary file is left');
  });
});

describe('failures', () => {
  test('a missing object is listed in failed and the others complete', async () => {
    s3.put('data/run1/a.txt', 'alpha');
    s3.put('data/run1/gone.txt', 'deleted after listing');
    s3.put('data/run1/z.txt', 'zulu');
    s3.objects.get('data/run1/gone.txt')!.vanished = true;

    const result = await downloadToFolder(s3.client, [{ bucket: BUCKET, prefix: 'data/run1/' }], dest);

    assert.equal(result.files, 2);
    assert.deepEqual(result.failed.map((failure) => failure.key), ['data/run1/gone.txt']);
    assert.ok(result.failed[0].error instanceof UserError);
    assert.match(result.failed[0].error.message, /^Download s3:\/\/lab\/data\/run1\/gone\.txt failed: the object does not exist/);
    assert.deepEqual(await entries(dest), ['run1', 'run1/a.txt', 'run1/z.txt']);
  });

  test('access denied stops the whole job with a sentence naming the permission', async () => {
    for (let i = 0; i < 20; i++) s3.put(`data/run1/${i}.txt`, `file ${i}`);
    s3.fault = () => ({ reject: s3Error('AccessDenied', 403) });

    await assert.rejects(
      downloadToFolder(s3.client, [{ bucket: BUCKET, prefix: 'data/run1/' }], dest, { concurrency: 2 }),
      (err: unknown) => {
        assert.ok(err instanceof UserError);
        assert.equal(err.code, 'AccessDenied');
        assert.match(err.message, /access denied.*s3:GetObject/);
        return true;
      },
    );
    assert.ok(s3.gets.length <= 2, `stopped at the first denial, not after ${s3.gets.length} requests`);
    assert.deepEqual(temporaryFiles(await entries(dest)), []);
  });

  test('existing files fail by default, are kept with skip, and are replaced with overwrite', async () => {
    s3.put('data/run1/a.txt', 'new');
    s3.put('data/run1/b.txt', 'bravo');
    const existing = path.join(dest, 'run1/a.txt');
    await mkdir(path.dirname(existing), { recursive: true });
    await writeFile(existing, 'old');
    const source = [{ bucket: BUCKET, prefix: 'data/run1/' }];

    const failing = await downloadToFolder(s3.client, source, dest);
    assert.deepEqual(failing.failed.map((failure) => failure.key), ['data/run1/a.txt']);
    assert.match(failing.failed[0].error.message, /already exists/);
    assert.equal(await readFile(existing, 'utf8'), 'old');

    const skipping = await downloadToFolder(s3.client, source, dest, { ifExists: 'skip' });
    assert.deepEqual(skipping.skipped.sort(), ['data/run1/a.txt', 'data/run1/b.txt']);
    assert.equal(skipping.files, 0);
    assert.equal(await readFile(existing, 'utf8'), 'old');

    const overwriting = await downloadToFolder(s3.client, source, dest, { ifExists: 'overwrite' });
    assert.equal(overwriting.files, 2);
    assert.equal(await readFile(existing, 'utf8'), 'new');
    assert.deepEqual(temporaryFiles(await entries(dest)), []);
  });
});

describe('cancellation', () => {
  test('cancelling mid-way removes temporary files, leaves no partial file, and rejects with the reason', async () => {
    const objects = new Map<string, Uint8Array>();
    objects.set('data/run1/big.bam', s3.put('data/run1/big.bam', randomData(4 * MiB)));
    for (let i = 0; i < 10; i++) objects.set(`data/run1/${i}.txt`, s3.put(`data/run1/${i}.txt`, randomData(200 * 1024)));
    s3.chunkDelayMs = 2;
    const controller = new AbortController();
    const reason = new CancelledError();
    s3.onChunk = () => {
      if (s3.chunksServed === 20) controller.abort(reason);
    };

    await assert.rejects(
      downloadToFolder(s3.client, [{ bucket: BUCKET, prefix: 'data/run1/' }], dest, {
        signal: controller.signal,
        partSize: MiB,
        multipartThreshold: 2 * MiB,
        concurrency: 4,
      }),
      (err) => err === reason,
    );

    const left = await entries(dest);
    assert.deepEqual(temporaryFiles(left), []);
    assert.ok(!left.includes('run1/big.bam'), 'the big object cannot have finished');
    for (const entry of left.filter((name) => name.endsWith('.txt'))) {
      assert.equal(await fileDigest(path.join(dest, entry)), digest(objects.get(`data/${entry}`)!), `${entry} is whole`);
    }
    assert.equal(s3.inFlight, 0, 'every body was closed');
  });

  test('a signal aborted without a reason rejects with a cancellation', async () => {
    s3.put('data/big.bam', randomData(3 * MiB));
    s3.chunkDelayMs = 2;
    const controller = new AbortController();
    s3.onChunk = () => controller.abort();

    await assert.rejects(
      downloadToFolder(s3.client, [{ bucket: BUCKET, key: 'data/big.bam' }], dest, { signal: controller.signal, partSize: MiB, multipartThreshold: MiB }),
      (err) => isCancellation(err),
    );
    assert.deepEqual(await entries(dest), []);
  });
});

describe('safety of keys', () => {
  test('keys that would escape DEST or that the filesystem refuses are listed in failed; nothing is written outside', async () => {
    s3.put('data/run1/../../escape.txt', 'evil');
    s3.put('data/run1/ok.txt', 'fine');
    s3.put('data/run1/a//b.txt', 'double slash');
    s3.put('data/run1/nul\0.txt', 'nul');

    const result = await downloadToFolder(s3.client, [{ bucket: BUCKET, prefix: 'data/run1/' }], dest);

    assert.deepEqual((await readdir(root)).sort(), ['dest']);
    assert.deepEqual(await entries(dest), ['run1', 'run1/a', 'run1/a/b.txt', 'run1/ok.txt']);
    const reasons = new Map(result.failed.map((failure) => [failure.key, failure.error.message]));
    assert.deepEqual([...reasons.keys()].sort(), ['data/run1/../../escape.txt', 'data/run1/nul\0.txt']);
    assert.match(reasons.get('data/run1/../../escape.txt')!, /refused: .*outside the destination folder/);
    assert.match(reasons.get('data/run1/nul\0.txt')!, /NUL/);
  });

  test('the key mapping drops empty and "." segments, and applies Windows rules on Windows', () => {
    const base = path.resolve('/dest');
    assert.equal(localPathUnderFolder(base, BUCKET, 'p/', 'p//x/./y'), path.join(base, 'p', 'x', 'y'));
    assert.equal(localPathUnderFolder(base, BUCKET, '', 'top.txt'), path.join(base, BUCKET, 'top.txt'));
    assert.equal(localPathForObject(base, '/abs/looking.txt'), path.join(base, 'looking.txt'));
    assert.throws(() => localPathForObject(base, 'a/..'), UnsafeKeyError);
    assert.throws(() => localPathUnderFolder(base, BUCKET, '../', '../x'), UnsafeKeyError);
    assert.throws(() => localPathForObject(base, `${'n'.repeat(256)}.txt`), UnsafeKeyError);
    assert.equal(localPathForObject(base, 'a\\..\\b', 'linux'), path.join(base, 'a\\..\\b'));
    assert.throws(() => localPathForObject(base, 'a\\..\\b', 'win32'), UnsafeKeyError);
    assert.throws(() => localPathForObject(base, 'data/CON.txt', 'win32'), UnsafeKeyError);
    assert.throws(() => localPathForObject(base, 'data/c:x', 'win32'), UnsafeKeyError);
  });
});

describe('scheduling and progress', () => {
  test('requests in flight never exceed concurrency, for parts and whole objects together', async () => {
    for (let i = 0; i < 30; i++) s3.put(`data/run1/${i}.txt`, randomData(100 * 1024));
    s3.put('data/run1/big-1.bam', randomData(4 * MiB));
    s3.put('data/run1/big-2.bam', randomData(4 * MiB));
    s3.pageSize = 1000;

    const result = await downloadToFolder(s3.client, [{ bucket: BUCKET, prefix: 'data/run1/' }], dest, {
      concurrency: 4,
      partSize: MiB,
      multipartThreshold: 2 * MiB,
    });

    assert.equal(result.files, 32);
    assert.ok(s3.gets.some((input) => input.Range) && s3.gets.some((input) => !input.Range), 'both kinds of GET ran');
    assert.equal(s3.maxInFlight, 4, 'the limit is reached and never passed');
  });

  test('progress counts items and bytes up to the totals, and moves during one big file', async () => {
    const body = s3.put('data/big.bam', randomData(3 * MiB));
    s3.chunkDelayMs = 10;
    const reports: ProgressReport[] = [];

    await downloadToFolder(s3.client, [{ bucket: BUCKET, key: 'data/big.bam' }], dest, {
      partSize: MiB,
      multipartThreshold: MiB,
      progress: (report) => reports.push({ ...report }),
    });

    const midway = reports.filter((report) => report.bytesDone > 0 && report.bytesDone < body.length);
    assert.ok(midway.length >= 1, 'bytes are reported while parts are still arriving');
    for (let i = 1; i < reports.length; i++) assert.ok(reports[i].bytesDone >= reports[i - 1].bytesDone);
    assert.deepEqual(reports.at(-1), { bytesDone: body.length, bytesTotal: body.length, itemsDone: 1, itemsTotal: 1, message: 'data/big.bam' });
  });
});

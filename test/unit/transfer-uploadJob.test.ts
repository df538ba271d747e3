import { AbortMultipartUploadCommand, CompleteMultipartUploadCommand, CreateMultipartUploadCommand, HeadObjectCommand, ListPartsCommand } from '@aws-sdk/client-s3';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { UserError } from '../../src/aws/errors';
import { CancelledError, isCancellation, type ProgressReport } from '../../src/core/progress';
import { crc32c, crc32cBase64 } from '../../src/transfer/checksums';
import { Journal } from '../../src/transfer/journal';
import { hashedKey } from '../../src/transfer/objectHeaders';
import { parseS3Error } from '../../src/transfer/objectWriter';
import { MiB } from '../../src/transfer/plan';
import type { LocalFile } from '../../src/transfer/scan';
import { dataBudget, runUpload, type EngineOptions, type EngineRuntime, type UploadResult } from '../../src/transfer/uploadJob';
import { rejectionOf, s3Error, xmlError } from '../fixtures/s3';
import { FakeStore, hangUntilAborted } from '../fixtures/upload-store';

const DEST = { bucket: 'lab', prefix: 'runs/2025/' };

let dir: string;
let journalDir: string;
let store: FakeStore;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'research-cloud-upload-'));
  journalDir = join(dir, '.jobs');
  store = new FakeStore('md5');
});
afterEach(async () => {
  store.restore();
  await rm(dir, { recursive: true, force: true });
});

/** Writes a file under the temp dir and describes it as the scan would. */
async function file(relativePath: string, data: Buffer | string): Promise<LocalFile> {
  const path = join(dir, 'src', relativePath);
  await mkdir(join(path, '..'), { recursive: true });
  await writeFile(path, data);
  const info = await stat(path);
  return { path, relativePath, size: info.size, mtimeMs: info.mtimeMs };
}

/** Random content: a mix-up of parts or offsets changes every checksum. */
const content = (size: number) => randomBytes(size);

/** Most multipart tests use 5 MiB parts (the smallest S3 allows) and 11 MiB files: 5 + 5 + 1. */
const PARTS_5 = { partSize: 5 * MiB } as const;
const MP = 11 * MiB;

async function newJournal(id = 'job'): Promise<Journal> {
  return Journal.create(journalDir, { id, sources: [join(dir, 'src')], bucket: DEST.bucket, prefix: DEST.prefix, options: {} });
}

interface RunOptions {
  readonly options?: EngineOptions;
  readonly runtime?: Partial<EngineRuntime>;
  readonly journal?: Journal;
}

async function upload(files: LocalFile[], run: RunOptions = {}): Promise<{ result: UploadResult; journal: Journal; log: string[] }> {
  const journal = run.journal ?? (await newJournal());
  const log: string[] = [];
  const result = await runUpload(files, DEST, { concurrency: 4, ...run.options }, {
    s3: store.s3,
    writer: store.writer,
    journal,
    checksum: store.checksum,
    log: (line) => log.push(line),
    ...run.runtime,
  });
  return { result, journal, log };
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('runUpload: single PUTs', () => {
  test('each file goes to putObject under prefix + relative path, with its headers and bytes', async () => {
    const files = [await file('a.csv', 'x,y\n1,2\n'), await file('deep/er/b.json', '{"k":1}'), await file('empty.dat', '')];
    const { result, journal } = await upload(files);
    assert.deepEqual(store.puts.map((p) => p.key).sort(), ['runs/2025/a.csv', 'runs/2025/deep/er/b.json', 'runs/2025/empty.dat']);
    for (const f of files) {
      const object = store.objects.get(DEST.prefix + f.relativePath)!;
      assert.deepEqual(object.body, await readFile(f.path));
      assert.equal(object.headers?.['x-amz-meta-mtime'], String(Math.round(f.mtimeMs)));
    }
    assert.equal(store.objects.get('runs/2025/a.csv')!.headers?.['content-type'], 'text/csv');
    assert.equal(store.objects.get('runs/2025/deep/er/b.json')!.headers?.['content-type'], 'application/json');
    assert.equal(store.puts[0].bucket, 'lab');
    assert.deepEqual(result.failed, []);
    assert.equal(result.files, 3);
    assert.equal(result.bytes, 8 + 7);
    assert.equal(result.requests, 3);
    assert.equal(result.retries, 0);
    assert.equal(store.mock.calls().length, 0, 'no SDK call for small files');
    // Each finished file is in the checkpoint.
    const replayed = await Journal.open(journal.file);
    assert.deepEqual([...replayed.finished.keys()].sort(), ['a.csv', 'deep/er/b.json', 'empty.dat']);
    assert.equal(replayed.finished.get('a.csv')!.mtimeMs, files[0].mtimeMs);
  });

  test('gzip: compressible files are gzipped with Content-Encoding, compressed formats are not', async () => {
    const text = 'sample\tvalue\n'.repeat(1000);
    const files = [await file('t.tsv', text), await file('x.gz', 'already compressed')];
    await upload(files, { options: { gzip: true } });
    const tsv = store.objects.get('runs/2025/t.tsv')!;
    assert.equal(tsv.headers?.['content-encoding'], 'gzip');
    assert.equal(gunzipSync(tsv.body).toString(), text);
    assert.ok(tsv.body.length < text.length);
    const gz = store.objects.get('runs/2025/x.gz')!;
    assert.equal(gz.headers?.['content-encoding'], undefined);
    assert.equal(gz.body.toString(), 'already compressed');
  });

  test('hashed prefixes: keys spread by hash, and a manifest of path → key', async () => {
    const files = [await file('a.txt', 'a'), await file('b/c.txt', 'c')];
    const { result } = await upload(files, { options: { hashedPrefixes: true } });
    assert.deepEqual(store.puts.map((p) => p.key).sort(), [hashedKey(DEST.prefix, 'a.txt'), hashedKey(DEST.prefix, 'b/c.txt')].sort());
    assert.deepEqual(result.manifest, new Map([['a.txt', hashedKey(DEST.prefix, 'a.txt')], ['b/c.txt', hashedKey(DEST.prefix, 'b/c.txt')]]));
  });

  test('storage class and encryption reach the PUT headers', async () => {
    await upload([await file('a.txt', 'a')], { options: { storageClass: 'GLACIER_IR', encryption: { type: 'AES256' } } });
    const headers = store.puts[0].headers!;
    assert.equal(headers['x-amz-storage-class'], 'GLACIER_IR');
    assert.equal(headers['x-amz-server-side-encryption'], 'AES256');
  });

  test('progress ends with every byte and file counted', async () => {
    const reports: ProgressReport[] = [];
    const files = [await file('a', 'aaaa'), await file('b', 'bb')];
    await upload(files, { runtime: { progress: (r) => reports.push(r) } });
    assert.deepEqual(reports.at(-1), { bytesDone: 6, bytesTotal: 6, itemsDone: 2, itemsTotal: 2 });
  });
});

describe('runUpload: multipart', () => {
  test('a 20 MiB file: Create, three parts of 8, 8 and 4 MiB, Complete listing them in order', async () => {
    const data = content(20 * MiB);
    const big = await file('big.bin', data);
    const { result, journal } = await upload([big]);
    assert.deepEqual(result.failed, []);
    assert.equal(store.puts.length, 0);
    assert.equal(store.created.length, 1);
    const created = store.created[0];
    assert.equal(created.Bucket, 'lab');
    assert.equal(created.Key, 'runs/2025/big.bin');
    assert.deepEqual(created.Metadata, { mtime: String(Math.round(big.mtimeMs)) });
    assert.equal(created.ChecksumAlgorithm, undefined, 'md5 mode');
    assert.deepEqual(store.parts.map((p) => [p.partNumber, p.body.length]).sort(([a], [b]) => a - b), [[1, 8 * MiB], [2, 8 * MiB], [3, 4 * MiB]]);
    assert.ok(store.parts.every((p) => p.uploadId === 'upload-1' && p.key === 'runs/2025/big.bin'));
    assert.equal(store.completed.length, 1);
    const listed = store.completed[0].MultipartUpload!.Parts!;
    assert.deepEqual(listed.map((p) => p.PartNumber), [1, 2, 3]);
    for (const p of listed) {
      const n = p.PartNumber!;
      const bytes = data.subarray((n - 1) * 8 * MiB, n * 8 * MiB);
      assert.equal(p.ETag, `"${createHash('md5').update(bytes).digest('hex')}"`);
      assert.equal(p.ChecksumCRC32C, undefined, 'no CRCs in md5 mode');
    }
    assert.equal(sha(store.objects.get('runs/2025/big.bin')!.body), sha(data), 'the object is the file');
    assert.equal(store.mock.commandCalls(HeadObjectCommand).length, 0, 'Complete gave an ETag: no HEAD');
    assert.equal(result.files, 1);
    const replayed = await Journal.open(journal.file);
    assert.deepEqual([...replayed.openUploads.keys()], []);
    assert.equal(replayed.finished.get('big.bin')!.etag, store.objects.get('runs/2025/big.bin')!.etag);
  });

  test(
    'a multipart file\'s bytes are counted once in the result and in progress',
    async () => {
      const reports: ProgressReport[] = [];
      const { result } = await upload([await file('big.bin', content(MP))], { options: PARTS_5, runtime: { progress: (r) => reports.push(r) } });
      assert.equal(result.bytes, MP);
      assert.ok(reports.every((r) => r.bytesDone <= r.bytesTotal!), reports.map((r) => r.bytesDone).join(' '));
    },
  );

  test('options.partSize: 5 MiB parts from 10 MiB up', async () => {
    const data = content(MP);
    await upload([await file('f', data)], { options: PARTS_5 });
    assert.deepEqual(store.parts.map((p) => p.body.length).sort((a, b) => b - a), [5 * MiB, 5 * MiB, 1 * MiB]);
    assert.equal(sha(store.objects.get('runs/2025/f')!.body), sha(data));
  });

  test('just under the threshold (16 MiB − 1) is a single PUT', async () => {
    await upload([await file('f', content(16 * MiB - 1))]);
    assert.equal(store.puts.length, 1);
    assert.equal(store.created.length, 0);
  });

  test('md5 mode: Complete without an ETag (Ceph RGW 16) → the ETag is taken from HEAD', async () => {
    store.completeReply = (reply) => ({ ...reply, ETag: '""' });
    const { result } = await upload([await file('big.bin', content(MP))], { options: PARTS_5 });
    assert.deepEqual(result.failed, []);
    assert.equal(store.mock.commandCalls(HeadObjectCommand).length, 1);
  });

  test('md5 mode: a multipart ETag that is not the MD5 of the parts\' MD5s → ChecksumMismatch for that file', async () => {
    store.completeReply = (reply) => ({ ...reply, ETag: '"0123456789abcdef0123456789abcdef-3"' });
    const small = await file('ok.txt', 'fine');
    const { result } = await upload([await file('big.bin', content(MP)), small], { options: PARTS_5 });
    assert.equal(result.failed.length, 1);
    assert.equal(result.failed[0].path, join(dir, 'src', 'big.bin'));
    assert.ok(result.failed[0].error instanceof UserError);
    assert.equal((result.failed[0].error as UserError).code, 'ChecksumMismatch');
    assert.match(result.failed[0].error.message, /was stored with ETag "0123456789abcdef0123456789abcdef-3"/);
    assert.equal(result.files, 1, 'the other file made it');
  });

  test('md5 mode with SSE-KMS: ETags are not MD5s, so they are not compared', async () => {
    store.completeReply = (reply) => ({ ...reply, ETag: '"kms-etag-not-md5-3"' });
    store.etagOf = () => '"kms-etag"';
    const { result } = await upload([await file('big.bin', content(MP)), await file('s.txt', 's')], { options: { ...PARTS_5, encryption: { type: 'aws:kms' } } });
    assert.deepEqual(result.failed, []);
    assert.equal(store.created[0].ServerSideEncryption, 'aws:kms');
  });
});

describe('runUpload: verification of single PUTs', () => {
  test('md5 mode: an object stored with a wrong ETag is sent again, then reported; the others upload', async () => {
    store.etagOf = (body, request) => (request.key.endsWith('bad.txt') ? '"ffffffffffffffffffffffffffffffff"' : `"${createHash('md5').update(body).digest('hex')}"`);
    const files = [await file('bad.txt', 'corrupted on the way'), await file('good.txt', 'fine')];
    const { result, journal } = await upload(files);
    assert.equal(result.failed.length, 1);
    const failure = result.failed[0];
    assert.equal(failure.path, files[0].path);
    assert.equal((failure.error as UserError).code, 'ChecksumMismatch');
    assert.match(failure.error.message, /s3:\/\/lab\/runs\/2025\/bad\.txt was stored with ETag "ffffffffffffffffffffffffffffffff", not the MD5 of .*3 times/);
    assert.equal(store.puts.filter((p) => p.key.endsWith('bad.txt')).length, 3, 'sent three times before giving up');
    assert.equal(result.files, 1);
    const replayed = await Journal.open(journal.file);
    assert.equal(replayed.finished.has('bad.txt'), false, 'a mismatched file is not checkpointed as done');
    assert.equal(replayed.finished.has('good.txt'), true);
  });

  test('md5 mode: a one-off corruption heals by sending the object again', async () => {
    let corrupted = 0;
    store.etagOf = (body) => (corrupted++ === 0 ? '"00000000000000000000000000000000"' : `"${createHash('md5').update(body).digest('hex')}"`);
    const { result } = await upload([await file('flaky.txt', 'sometimes damaged in transit')]);
    assert.deepEqual(result.failed, []);
    assert.equal(store.puts.filter((p) => p.key.endsWith('flaky.txt')).length, 2);
  });

  test('crc32c mode: single PUT ETags are not compared (AWS checks x-amz-checksum-crc32c itself)', async () => {
    store.restore();
    store = new FakeStore('crc32c');
    store.etagOf = () => '"not-an-md5"';
    const { result } = await upload([await file('a.txt', 'a')]);
    assert.deepEqual(result.failed, []);
  });
});

describe('runUpload: crc32c mode', () => {
  beforeEach(() => {
    store.restore();
    store = new FakeStore('crc32c');
  });

  test('Create asks for CRC32C, Complete lists each part\'s CRC and the composite checksum matches', async () => {
    const data = content(MP);
    const { result } = await upload([await file('big.bin', data)], { options: PARTS_5 });
    assert.deepEqual(result.failed, []);
    assert.equal(store.created[0].ChecksumAlgorithm, 'CRC32C');
    const listed = store.completed[0].MultipartUpload!.Parts!;
    assert.deepEqual(listed.map((p) => p.ChecksumCRC32C), [0, 1, 2].map((i) => crc32cBase64(crc32c(data.subarray(i * 5 * MiB, (i + 1) * 5 * MiB)))));
    assert.match(store.objects.get('runs/2025/big.bin')!.checksumCrc32c!, /^[A-Za-z0-9+/]{6}==-3$/);
    assert.equal(store.mock.commandCalls(HeadObjectCommand).length, 0);
  });

  test('a composite checksum from Complete that does not match → ChecksumMismatch', async () => {
    store.completeReply = (reply) => ({ ...reply, ChecksumCRC32C: 'AAAAAA==-3' });
    const { result } = await upload([await file('big.bin', content(MP))], { options: PARTS_5 });
    assert.equal(result.failed.length, 1);
    assert.equal((result.failed[0].error as UserError).code, 'ChecksumMismatch');
    assert.match(result.failed[0].error.message, /was stored with checksum AAAAAA==-3, not [A-Za-z0-9+/]{6}==-3/);
  });

  test('an ETag mismatch does not matter in crc32c mode (S3 checksums are compared instead)', async () => {
    store.completeReply = (reply) => ({ ...reply, ETag: '"whatever-3"' });
    const { result } = await upload([await file('big.bin', content(MP))], { options: PARTS_5 });
    assert.deepEqual(result.failed, []);
  });
});

describe('runUpload: errors', () => {
  test('a transient 503 SlowDown from the writer is retried and the file uploaded', async () => {
    store.onPut = (request, attempt) => {
      if (request.key.endsWith('a.txt') && attempt === 1) throw parseS3Error(503, xmlError('SlowDown', 'Please reduce your request rate.'), {});
    };
    const { result, log } = await upload([await file('a.txt', 'a'), await file('b.txt', 'b')]);
    assert.deepEqual(result.failed, []);
    assert.equal(result.files, 2);
    assert.equal(result.retries, 1);
    assert.equal(result.requests, 3);
    assert.ok(log.some((l) => /retrying after SlowDown/.test(l)), log.join('\n'));
    assert.equal(store.objects.get('runs/2025/a.txt')!.body.toString(), 'a');
  });

  test('a part that fails transiently is sent again; the others are not', async () => {
    store.onPart = (request, attempt) => {
      if (request.partNumber === 2 && attempt === 1) throw Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
    };
    const data = content(MP);
    const { result } = await upload([await file('big.bin', data)], { options: PARTS_5 });
    assert.deepEqual(result.failed, []);
    assert.deepEqual(store.parts.map((p) => p.partNumber).sort(), [1, 2, 2, 3]);
    assert.equal(sha(store.objects.get('runs/2025/big.bin')!.body), sha(data));
  });

  test('transient errors past maxAttempts fail that file only', async () => {
    store.onPut = (request) => {
      if (request.key.endsWith('flaky.txt')) throw parseS3Error(500, xmlError('InternalError', 'We encountered an internal error.'), {});
    };
    const { result } = await upload([await file('flaky.txt', 'f'), await file('ok.txt', 'o')], { options: { maxAttempts: 2 } });
    assert.equal(store.puts.filter((p) => p.key.endsWith('flaky.txt')).length, 2);
    assert.equal(result.failed.length, 1);
    assert.match(result.failed[0].error.message, /^Upload of .*flaky\.txt to s3:\/\/lab\/runs\/2025\/flaky\.txt failed: We encountered an internal error/);
    assert.equal(result.files, 1);
  });

  test('AccessDenied stops the whole job after few requests and rejects with a sentence', async () => {
    // Each PUT takes a moment, so several are in flight when the first is refused.
    store.delayMs = 5;
    store.onPut = () => {
      throw parseS3Error(403, xmlError('AccessDenied', 'Access Denied'), {});
    };
    const files = await Promise.all(Array.from({ length: 60 }, (_, i) => file(`f${i}.txt`, `file ${i}`)));
    const err = await rejectionOf(upload(files, { options: { concurrency: 4 }, runtime: { profile: 'lab-user' } }));
    assert.ok(err instanceof UserError, String(err));
    assert.equal(err.code, 'AccessDenied');
    assert.match(err.message, /access denied: profile "lab-user" is not allowed to s3:PutObject/);
    // The ones already in flight (the pinned 4) and the one that takes the refused one's slot
    // before the job stops (observed: 5), not the 60.
    assert.ok(store.puts.length >= 1 && store.puts.length <= 8, `${store.puts.length} PUTs were sent`);
    assert.equal(store.active, 0, 'nothing left running');
  });

  test('NoSuchBucket from CreateMultipartUpload stops the job too', async () => {
    store.mock.on(CreateMultipartUploadCommand).rejects(s3Error('NoSuchBucket', 404));
    const err = await rejectionOf(upload([await file('big.bin', content(MP))], { options: PARTS_5 }));
    assert.equal((err as UserError).code, 'NoSuchBucket');
  });

  test('a file deleted after the scan fails with a readable sentence; the others are uploaded', async () => {
    const gone = await file('gone.txt', 'here at scan time');
    const kept = await file('kept.txt', 'still here');
    await rm(gone.path);
    const { result } = await upload([gone, kept]);
    assert.equal(result.failed.length, 1);
    assert.equal(result.failed[0].path, gone.path);
    assert.equal(result.failed[0].error.message, `Reading ${gone.path} failed: it no longer exists (deleted or moved during the scan). The other files go on.`);
    assert.equal((result.failed[0].error as UserError).code, 'ENOENT');
    assert.equal(result.files, 1);
    assert.deepEqual(store.puts.map((p) => p.key), ['runs/2025/kept.txt']);
  });
});

describe('runUpload: resume', () => {
  test('a journal with 2 of 3 parts done: ListParts confirms them and only part 3 is sent', async () => {
    const data = content(MP);
    const big = await file('big.bin', data);
    const journal = await newJournal();
    const parts = store.seedUpload('upload-old', 'runs/2025/big.bin', { 1: data.subarray(0, 5 * MiB), 2: data.subarray(5 * MiB, 10 * MiB) });
    await journal.uploadStarted('big.bin', { key: 'runs/2025/big.bin', uploadId: 'upload-old', partSize: 5 * MiB, size: big.size, mtimeMs: big.mtimeMs });
    for (const [n, p] of parts) journal.partDone('big.bin', n, p);
    await journal.flush();

    const { result } = await upload([big], { options: PARTS_5, journal: await Journal.open(journal.file) });
    assert.deepEqual(result.failed, []);
    assert.equal(store.created.length, 0, 'no new multipart upload');
    const listParts = store.mock.commandCalls(ListPartsCommand);
    assert.equal(listParts.length, 1);
    assert.equal(listParts[0].args[0].input.UploadId, 'upload-old');
    assert.deepEqual(store.parts.map((p) => p.partNumber), [3]);
    assert.equal(store.completed[0].UploadId, 'upload-old');
    assert.deepEqual(store.completed[0].MultipartUpload!.Parts!.map((p) => p.PartNumber), [1, 2, 3]);
    assert.equal(sha(store.objects.get('runs/2025/big.bin')!.body), sha(data));
  });

  test('a part the journal calls done but the server lost is sent again', async () => {
    const data = content(MP);
    const big = await file('big.bin', data);
    const journal = await newJournal();
    const parts = store.seedUpload('upload-old', 'runs/2025/big.bin', { 1: data.subarray(0, 5 * MiB) });
    await journal.uploadStarted('big.bin', { key: 'runs/2025/big.bin', uploadId: 'upload-old', partSize: 5 * MiB, size: big.size, mtimeMs: big.mtimeMs });
    journal.partDone('big.bin', 1, parts.get(1)!);
    journal.partDone('big.bin', 2, { etag: '"lost-on-the-server"', md5: '00', crc32c: 0 });
    await journal.flush();
    await upload([big], { options: PARTS_5, journal: await Journal.open(journal.file) });
    assert.deepEqual(store.parts.map((p) => p.partNumber).sort(), [2, 3]);
    assert.equal(sha(store.objects.get('runs/2025/big.bin')!.body), sha(data));
  });

  test('an open upload for a file that changed since is aborted and a new one started', async () => {
    const big = await file('big.bin', content(MP));
    const journal = await newJournal();
    store.seedUpload('upload-stale', 'runs/2025/big.bin', {});
    await journal.uploadStarted('big.bin', { key: 'runs/2025/big.bin', uploadId: 'upload-stale', partSize: 5 * MiB, size: big.size, mtimeMs: big.mtimeMs - 5000 });
    await upload([big], { options: PARTS_5, journal: await Journal.open(journal.file) });
    assert.deepEqual(store.aborted.map((a) => a.UploadId), ['upload-stale']);
    assert.equal(store.created.length, 1);
    assert.equal(store.parts.length, 3);
  });

  test(
    'an open upload the server no longer has (expired by a lifecycle rule, or aborted) is started afresh',
    async () => {
      const data = content(MP);
      const big = await file('big.bin', data);
      const journal = await newJournal();
      await journal.uploadStarted('big.bin', { key: 'runs/2025/big.bin', uploadId: 'upload-expired', partSize: 5 * MiB, size: big.size, mtimeMs: big.mtimeMs });
      journal.partDone('big.bin', 1, { etag: '"p1"', md5: '00', crc32c: 0 });
      await journal.flush();
      const { result } = await upload([big], { options: PARTS_5, journal: await Journal.open(journal.file) });
      assert.deepEqual(result.failed.map((f) => f.error.message), []);
      assert.equal(sha(store.objects.get('runs/2025/big.bin')!.body), sha(data));
    },
  );

  test('a file the journal has done with the same size and mtime is not sent; one that changed is', async () => {
    const same = await file('same.txt', 'unchanged');
    const changed = await file('changed.txt', 'edited');
    const journal = await newJournal();
    journal.fileDone('same.txt', { size: same.size, mtimeMs: same.mtimeMs, etag: '"x"' });
    journal.fileDone('changed.txt', { size: changed.size, mtimeMs: changed.mtimeMs - 1000, etag: '"y"' });
    await journal.flush();
    const { result } = await upload([same, changed], { journal: await Journal.open(journal.file) });
    assert.deepEqual(store.puts.map((p) => p.key), ['runs/2025/changed.txt']);
    assert.equal(result.alreadyDone, 1);
    assert.equal(result.files, 2);
  });

  test('a finished multipart file is not sent again on resume', async () => {
    const big = await file('big.bin', content(MP));
    const first = await upload([big], { options: PARTS_5 });
    const sent = store.parts.length;
    const { result } = await upload([big], { options: PARTS_5, journal: await Journal.open(first.journal.file) });
    assert.equal(store.parts.length, sent);
    assert.equal(store.created.length, 1);
    assert.equal(result.alreadyDone, 1);
  });
});

describe('runUpload: limits', () => {
  test('never more requests in flight than the pinned concurrency', async () => {
    store.delayMs = 3;
    const files = await Promise.all(Array.from({ length: 40 }, (_, i) => file(`s${i}`, `small ${i}`)));
    files.push(await file('big.bin', content(MP)));
    const { result } = await upload(files, { options: { ...PARTS_5, concurrency: 3 } });
    assert.deepEqual(result.failed, []);
    assert.equal(store.maxActive, 3, 'reached and never exceeded');
    assert.equal(result.finalConcurrency, 3);
  });

  test('the memory budget bounds the bytes in flight', async () => {
    store.delayMs = 5;
    const files = [await file('big1.bin', content(MP)), await file('big2.bin', content(MP))];
    for (let i = 0; i < 10; i++) files.push(await file(`s${i}`, content(64 * 1024)));
    // Data gets half of a small budget: room for two 5 MiB parts and some small files, not three parts.
    const budget = 24 * MiB;
    assert.equal(dataBudget(budget), 12 * MiB);
    const { result } = await upload(files, { options: { ...PARTS_5, concurrency: 16, memoryBudget: budget } });
    assert.deepEqual(result.failed, []);
    assert.ok(result.peakBufferedBytes <= 12 * MiB, `peak ${result.peakBufferedBytes}`);
    assert.ok(result.peakBufferedBytes >= 10 * MiB, 'two parts did go together');
    assert.ok(store.maxActiveBytes <= 12 * MiB, `writer saw ${store.maxActiveBytes} bytes at once`);
  });

  test('file data gets all of a large budget but 64 MiB, and half of a small one', () => {
    assert.equal(dataBudget(512 * MiB), 448 * MiB);
    assert.equal(dataBudget(100 * MiB), 50 * MiB);
  });

  test('parts are read just ahead of the requests, not as far as the budget allows', async () => {
    store.delayMs = 10;
    const data = content(60 * MiB);
    const { result } = await upload([await file('big.bin', data)], { options: { ...PARTS_5, concurrency: 2, memoryBudget: 512 * MiB } });
    assert.deepEqual(result.failed, []);
    // Two parts in flight and at most four read and waiting: 6 × 5 MiB, of 12 parts.
    assert.ok(result.peakBufferedBytes <= 6 * 5 * MiB, `peak ${result.peakBufferedBytes / MiB} MiB`);
    assert.equal(sha(store.objects.get('runs/2025/big.bin')!.body), sha(data));
  });

  test('mid-sized files and parts share the budget, reused buffers included', async () => {
    store.delayMs = 5;
    const files = [await file('big.bin', content(MP))];
    for (let i = 0; i < 12; i++) files.push(await file(`mid${i}.bin`, content(2 * MiB + i)));
    for (let i = 0; i < 20; i++) files.push(await file(`s${i}`, content(10_000)));
    const budget = 32 * MiB;
    const { result } = await upload(files, { options: { ...PARTS_5, concurrency: 8, memoryBudget: budget } });
    assert.deepEqual(result.failed, []);
    assert.ok(result.peakBufferedBytes <= dataBudget(budget), `peak ${result.peakBufferedBytes / MiB} MiB`);
    for (const f of files) assert.equal(sha(store.objects.get(`runs/2025/${f.relativePath}`)!.body), sha(await readFile(f.path)), f.relativePath);
  });

  test('a part larger than the whole budget still goes, alone', async () => {
    const data = content(MP);
    const { result } = await upload([await file('big.bin', data)], { options: { ...PARTS_5, memoryBudget: 1 * MiB } });
    assert.deepEqual(result.failed, []);
    assert.equal(store.maxActive, 1);
    assert.equal(sha(store.objects.get('runs/2025/big.bin')!.body), sha(data));
  });
});

describe('runUpload: files that change', () => {
  test('a file modified during its multipart upload is aborted and sent again from the start', async () => {
    const original = content(MP);
    const replacement = content(MP);
    const big = await file('big.bin', original);
    let modified = false;
    store.onPart = async (request) => {
      if (!modified && request.partNumber === 2) {
        modified = true;
        await writeFile(big.path, replacement);
        const later = new Date(big.mtimeMs + 10_000);
        await utimes(big.path, later, later);
      }
    };
    const { result, log } = await upload([big], { options: PARTS_5 });
    assert.deepEqual(result.failed, []);
    assert.equal(store.created.length, 2);
    assert.deepEqual(store.aborted.map((a) => a.UploadId), ['upload-1']);
    assert.deepEqual(store.completed.map((c) => c.UploadId), ['upload-2']);
    assert.equal(sha(store.objects.get('runs/2025/big.bin')!.body), sha(replacement));
    assert.ok(log.some((l) => /changed while it was uploaded; starting it again/.test(l)), log.join('\n'));
  });

  test('a file that keeps changing fails with FileChanged after three tries', async () => {
    const big = await file('big.bin', content(MP));
    let tick = 0;
    store.onPart = async (request) => {
      if (request.partNumber === 1) {
        const when = new Date(big.mtimeMs + ++tick * 10_000);
        await utimes(big.path, when, when);
      }
    };
    const { result } = await upload([big], { options: PARTS_5 });
    assert.equal(result.failed.length, 1);
    assert.equal((result.failed[0].error as UserError).code, 'FileChanged');
    assert.equal(store.created.length, 3);
    assert.equal(store.aborted.length, 3);
    assert.equal(store.completed.length, 0);
  });
});

describe('runUpload: cancel', () => {
  test('cancel rejects with cancellation and leaves open multipart uploads for resume', async () => {
    const controller = new AbortController();
    const big = await file('big.bin', content(MP));
    store.onPart = async (request) => {
      if (request.partNumber === 2) {
        controller.abort();
        await hangUntilAborted(request.signal);
      }
    };
    const journal = await newJournal();
    const err = await rejectionOf(upload([big, await file('small.txt', 's')], { options: PARTS_5, journal, runtime: { signal: controller.signal } }));
    assert.ok(err instanceof CancelledError, String(err));
    assert.equal(isCancellation(err), true);
    assert.equal(store.mock.commandCalls(AbortMultipartUploadCommand).length, 0);
    assert.equal(store.mock.commandCalls(CompleteMultipartUploadCommand).length, 0);
    assert.ok(store.uploads.has('upload-1'), 'still open on the server');
    const replayed = await Journal.open(journal.file);
    assert.equal(replayed.openUploads.get('big.bin')?.uploadId, 'upload-1', 'and in the checkpoint, for Resume');
  });

  test('an already aborted signal sends nothing', async () => {
    const err = await rejectionOf(upload([await file('a', 'a')], { runtime: { signal: AbortSignal.abort() } }));
    assert.ok(err instanceof CancelledError);
    assert.equal(store.puts.length, 0);
  });
});

import { HeadObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { MiB } from '../../src/transfer/plan';
import type { LocalFile } from '../../src/transfer/scan';
import { localEtag, planSync } from '../../src/transfer/sync';
import { listObjectsReply, mockedS3, s3Object } from '../fixtures/s3';

const T = Date.parse('2025-06-01T12:00:00Z');
const DEST = { bucket: 'lab', prefix: 'runs/' };

function local(relativePath: string, size: number, mtimeMs = T, path = `/data/${relativePath}`): LocalFile {
  return { path, relativePath, size, mtimeMs };
}

let s3: ReturnType<typeof mockedS3>['s3'];
let mock: ReturnType<typeof mockedS3>['mock'];
let dir: string;
beforeEach(async () => {
  ({ s3, mock } = mockedS3());
  // Objects from other tools carry no mtime metadata: the default compares size and time then.
  mock.on(HeadObjectCommand).resolves({});
  dir = await mkdtemp(join(tmpdir(), 'research-cloud-sync-'));
});
afterEach(async () => {
  mock.restore();
  await rm(dir, { recursive: true, force: true });
});

const names = (files: LocalFile[]) => files.map((f) => f.relativePath).sort();

/** S3's ETag for a multipart upload of `data` in parts of `partSize`, computed here from scratch. */
function s3MultipartEtag(data: Buffer, partSize: number): string {
  const digests: Buffer[] = [];
  for (let offset = 0; offset < data.length; offset += partSize) digests.push(createHash('md5').update(data.subarray(offset, offset + partSize)).digest());
  return `"${createHash('md5').update(Buffer.concat(digests)).digest('hex')}-${digests.length}"`;
}

async function tempFile(name: string, data: Buffer): Promise<LocalFile> {
  const path = join(dir, name);
  await writeFile(path, data);
  const info = await stat(path);
  return { path, relativePath: name, size: info.size, mtimeMs: info.mtimeMs };
}

describe('planSync: size and mtime kept in metadata (the default)', () => {
  test('the same size and the same kept mtime → unchanged, whatever LastModified says; another mtime → upload', async () => {
    mock.on(ListObjectsV2Command).resolves(listObjectsReply({
      objects: [
        s3Object('runs/same.txt', 10, new Date(T - 60_000)),
        s3Object('runs/touched.txt', 10, new Date(T + 60_000)),
      ],
    }));
    mock.on(HeadObjectCommand, { Key: 'runs/same.txt' }).resolves({ Metadata: { mtime: String(T) } });
    mock.on(HeadObjectCommand, { Key: 'runs/touched.txt' }).resolves({ Metadata: { mtime: String(T - 5_000) } });
    const plan = await planSync(s3, [local('same.txt', 10), local('touched.txt', 10)], DEST);
    // LastModified alone would have decided the other way round for both.
    assert.deepEqual(names(plan.unchanged), ['same.txt']);
    assert.deepEqual(names(plan.upload), ['touched.txt']);
  });

  test('only objects of the same size are asked for their metadata', async () => {
    mock.on(ListObjectsV2Command).resolves(listObjectsReply({ objects: [s3Object('runs/a.txt', 10), s3Object('runs/b.txt', 99)] }));
    await planSync(s3, [local('a.txt', 10), local('b.txt', 10), local('c.txt', 10)], DEST);
    assert.deepEqual(mock.commandCalls(HeadObjectCommand).map((c) => c.args[0].input.Key), ['runs/a.txt']);
  });

  test('size-and-time never sends a HEAD', async () => {
    mock.on(ListObjectsV2Command).resolves(listObjectsReply({ objects: [s3Object('runs/a.txt', 10, new Date(T + 1))] }));
    const plan = await planSync(s3, [local('a.txt', 10)], DEST, { compare: 'size-and-time' });
    assert.deepEqual(names(plan.unchanged), ['a.txt']);
    assert.equal(mock.commandCalls(HeadObjectCommand).length, 0);
  });
});

describe('planSync: size and time (size-and-time, and the default for objects without mtime metadata)', () => {
  test('same size and a remote copy newer than the file → unchanged; older → upload; other size → upload; missing → upload', async () => {
    mock.on(ListObjectsV2Command).resolves(listObjectsReply({
      objects: [
        s3Object('runs/newer.txt', 10, new Date(T + 60_000)),
        s3Object('runs/older.txt', 10, new Date(T - 60_000)),
        s3Object('runs/resized.txt', 11, new Date(T + 60_000)),
      ],
    }));
    const files = [local('newer.txt', 10), local('older.txt', 10), local('resized.txt', 10), local('new.txt', 10)];
    const plan = await planSync(s3, files, DEST);
    assert.deepEqual(names(plan.unchanged), ['newer.txt']);
    assert.deepEqual(names(plan.upload), ['new.txt', 'older.txt', 'resized.txt']);
    assert.deepEqual(plan.extra, []);
    const calls = mock.commandCalls(ListObjectsV2Command);
    assert.equal(calls.length, 1);
    assert.equal(calls[0].args[0].input.Bucket, 'lab');
    assert.equal(calls[0].args[0].input.Prefix, 'runs/');
  });

  test('a second of slack for stores that keep whole seconds', async () => {
    mock.on(ListObjectsV2Command).resolves(listObjectsReply({
      objects: [s3Object('runs/within.txt', 1, new Date(T - 999)), s3Object('runs/beyond.txt', 1, new Date(T - 1001)), s3Object('runs/same.txt', 1, new Date(T))],
    }));
    const plan = await planSync(s3, [local('within.txt', 1), local('beyond.txt', 1), local('same.txt', 1)], DEST);
    assert.deepEqual(names(plan.unchanged), ['same.txt', 'within.txt']);
    assert.deepEqual(names(plan.upload), ['beyond.txt']);
  });

  test('an object without LastModified is sent again', async () => {
    mock.on(ListObjectsV2Command).resolves(listObjectsReply({ objects: [s3Object('runs/a', 1)] }));
    const plan = await planSync(s3, [local('a', 1)], DEST);
    assert.deepEqual(names(plan.upload), ['a']);
  });

  test('every page of the listing is used', async () => {
    mock
      .on(ListObjectsV2Command, { ContinuationToken: undefined })
      .resolves(listObjectsReply({ objects: [s3Object('runs/p1.txt', 1, new Date(T + 5000))], nextToken: 'page2' }))
      .on(ListObjectsV2Command, { ContinuationToken: 'page2' })
      .resolves(listObjectsReply({ objects: [s3Object('runs/p2.txt', 1, new Date(T + 5000))] }));
    const plan = await planSync(s3, [local('p1.txt', 1), local('p2.txt', 1)], DEST);
    assert.deepEqual(names(plan.unchanged), ['p1.txt', 'p2.txt']);
    assert.equal(mock.commandCalls(ListObjectsV2Command).length, 2);
  });

  test('keys are prefix + relative path: the same name elsewhere does not count', async () => {
    mock.on(ListObjectsV2Command).resolves(listObjectsReply({ objects: [s3Object('runs/other/a.txt', 1, new Date(T + 5000))] }));
    const plan = await planSync(s3, [local('a.txt', 1)], DEST);
    assert.deepEqual(names(plan.upload), ['a.txt']);
  });

  test('a cancelled signal stops it', async () => {
    mock.on(ListObjectsV2Command).resolves(listObjectsReply({ objects: [] }));
    await assert.rejects(planSync(s3, [local('a', 1)], DEST, { signal: AbortSignal.abort() }));
  });
});

describe('planSync: checksum', () => {
  test('single-part: the ETag equal to the file\'s MD5 → unchanged, even when the object is older', async () => {
    const same = await tempFile('same.txt', Buffer.from('identical content'));
    const edited = await tempFile('edited.txt', Buffer.from('new content'));
    mock.on(ListObjectsV2Command).resolves(listObjectsReply({
      objects: [
        s3Object('runs/same.txt', same.size, new Date(T - 1e9), { ETag: `"${createHash('md5').update('identical content').digest('hex')}"` }),
        // Same size, newer object, different content: size-and-time would keep it, checksum does not.
        s3Object('runs/edited.txt', edited.size, new Date(Date.now() + 1e9), { ETag: `"${createHash('md5').update('old content').digest('hex')}"` }),
      ],
    }));
    const plan = await planSync(s3, [same, edited], DEST, { compare: 'checksum' });
    assert.deepEqual(names(plan.unchanged), ['same.txt']);
    assert.deepEqual(names(plan.upload), ['edited.txt']);
    const byTime = await planSync(s3, [same, edited], DEST);
    assert.deepEqual(names(byTime.unchanged), ['edited.txt'], 'the case checksum mode exists for');
  });

  test('multipart: a 17 MiB file matches the ETag S3 gives an upload in 8 MiB parts', async () => {
    const data = randomBytes(17 * MiB);
    const big = await tempFile('big.bin', data);
    const etag = s3MultipartEtag(data, 8 * MiB);
    assert.match(etag, /-3"$/);
    mock.on(ListObjectsV2Command).resolves(listObjectsReply({ objects: [s3Object('runs/big.bin', big.size, new Date(T), { ETag: etag })] }));
    const plan = await planSync(s3, [big], DEST, { compare: 'checksum' });
    assert.deepEqual(names(plan.unchanged), ['big.bin']);
    // The whole file's MD5 is not what S3 reports for it.
    mock.on(ListObjectsV2Command).resolves(listObjectsReply({ objects: [s3Object('runs/big.bin', big.size, new Date(T), { ETag: `"${createHash('md5').update(data).digest('hex')}"` })] }));
    assert.deepEqual(names((await planSync(s3, [big], DEST, { compare: 'checksum' })).upload), ['big.bin']);
  });

  test('the part size option changes the expected multipart ETag', async () => {
    const data = randomBytes(17 * MiB);
    const big = await tempFile('big.bin', data);
    mock.on(ListObjectsV2Command).resolves(listObjectsReply({ objects: [s3Object('runs/big.bin', big.size, new Date(T), { ETag: s3MultipartEtag(data, 5 * MiB) })] }));
    assert.deepEqual(names((await planSync(s3, [big], DEST, { compare: 'checksum', partSize: 5 * MiB })).unchanged), ['big.bin']);
    assert.deepEqual(names((await planSync(s3, [big], DEST, { compare: 'checksum' })).upload), ['big.bin']);
  });

  test('a different size is an upload without reading the file', async () => {
    const gone: LocalFile = { path: join(dir, 'does-not-exist'), relativePath: 'x', size: 5, mtimeMs: T };
    mock.on(ListObjectsV2Command).resolves(listObjectsReply({ objects: [s3Object('runs/x', 6, new Date(T))] }));
    assert.deepEqual(names((await planSync(s3, [gone], DEST, { compare: 'checksum' })).upload), ['x']);
  });
});

describe('localEtag', () => {
  test('below 16 MiB: the quoted MD5 of the file', async () => {
    const data = randomBytes(16 * MiB - 1);
    const file = await tempFile('f', data);
    assert.equal(await localEtag(file), `"${createHash('md5').update(data).digest('hex')}"`);
  });

  test('at exactly 16 MiB: multipart, two 8 MiB parts', async () => {
    const data = randomBytes(16 * MiB);
    const file = await tempFile('f', data);
    assert.equal(await localEtag(file), s3MultipartEtag(data, 8 * MiB));
    assert.match(await localEtag(file), /-2"$/);
  });

  test('empty file: the MD5 of nothing', async () => {
    assert.equal(await localEtag(await tempFile('e', Buffer.alloc(0))), '"d41d8cd98f00b204e9800998ecf8427e"');
  });
});

describe('planSync: deleteExtra', () => {
  test('lists only remote keys without a local file, never folder markers', async () => {
    mock.on(ListObjectsV2Command).resolves(listObjectsReply({
      objects: [
        s3Object('runs/kept.txt', 1, new Date(T + 5000)),
        s3Object('runs/changed.txt', 2, new Date(T + 5000)),
        s3Object('runs/old.txt', 1, new Date(T)),
        s3Object('runs/sub/gone.csv', 1, new Date(T)),
        s3Object('runs/', 0, new Date(T)),
        s3Object('runs/sub/', 0, new Date(T)),
      ],
    }));
    const files = [local('kept.txt', 1), local('changed.txt', 1)];
    const plan = await planSync(s3, files, DEST, { deleteExtra: true });
    assert.deepEqual(plan.extra.map((o) => o.key).sort(), ['runs/old.txt', 'runs/sub/gone.csv']);
    assert.deepEqual(names(plan.upload), ['changed.txt'], 'a changed file is uploaded, not deleted');
    const without = await planSync(s3, files, DEST);
    assert.deepEqual(without.extra, []);
  });
});

// `destination.sources` (SyncDestination) was added to sync.ts while these tests were written.
describe('planSync: only the keys the sources own', () => {
  test('a folder source owns prefix + name + "/…": a sibling with a longer name is not extra', async () => {
    mock.on(ListObjectsV2Command).resolves(listObjectsReply({
      objects: [
        s3Object('raw/run42/a.txt', 1, new Date(T + 5000)),
        s3Object('raw/run42/old.txt', 1, new Date(T)),
        // S3 lists these too for Prefix "raw/run42": not part of this sync.
        s3Object('raw/run420/x.txt', 1, new Date(T)),
        s3Object('raw/run42.bak', 1, new Date(T)),
      ],
    }));
    const plan = await planSync(s3, [local('run42/a.txt', 1)], { bucket: 'lab', prefix: 'raw/', sources: ['/data/run42/'] }, { deleteExtra: true });
    const prefixes = mock.commandCalls(ListObjectsV2Command).map((c) => c.args[0].input.Prefix);
    assert.deepEqual(prefixes, ['raw/run42']);
    assert.deepEqual(plan.extra.map((o) => o.key), ['raw/run42/old.txt']);
    assert.deepEqual(names(plan.unchanged), ['run42/a.txt']);
  });

  test('a file source owns exactly prefix + its name', async () => {
    mock.on(ListObjectsV2Command).resolves(listObjectsReply({
      objects: [s3Object('raw/report.pdf', 3, new Date(T + 5000)), s3Object('raw/report.pdf.old', 3, new Date(T))],
    }));
    const plan = await planSync(s3, [local('report.pdf', 3)], { bucket: 'lab', prefix: 'raw/', sources: ['/home/me/report.pdf'] }, { deleteExtra: true });
    assert.deepEqual(plan.extra, []);
    assert.deepEqual(names(plan.unchanged), ['report.pdf']);
  });

  test('several sources: one listing each, the same one once', async () => {
    mock.on(ListObjectsV2Command).resolves(listObjectsReply({ objects: [] }));
    await planSync(s3, [], { bucket: 'lab', prefix: 'raw/', sources: ['/a/run1', '/b/run2', '/a/run1/'] });
    assert.deepEqual(mock.commandCalls(ListObjectsV2Command).map((c) => c.args[0].input.Prefix).sort(), ['raw/run1', 'raw/run2']);
  });
});

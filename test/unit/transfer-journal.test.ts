import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { Journal } from '../../src/transfer/journal';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'research-cloud-journal-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const HEADER = { id: 'job-1', sources: ['/data/run1'], bucket: 'lab', prefix: 'runs/', options: { partSize: 8388608, gzip: false } };

async function lines(file: string): Promise<Record<string, unknown>[]> {
  const text = await readFile(file, 'utf8');
  return text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe('Journal', () => {
  test('create writes the header line at once, in <dir>/<id>.jsonl, creating the directory', async () => {
    const nested = join(dir, 'a', 'b');
    const journal = await Journal.create(nested, HEADER);
    assert.equal(journal.file, join(nested, 'job-1.jsonl'));
    const [header, ...rest] = await lines(journal.file);
    assert.equal(rest.length, 0);
    assert.equal(header.e, 'header');
    assert.equal(header.version, 1);
    assert.equal(header.id, 'job-1');
    assert.deepEqual(header.sources, ['/data/run1']);
    assert.equal(header.bucket, 'lab');
    assert.equal(header.prefix, 'runs/');
    assert.deepEqual(header.options, HEADER.options);
    assert.ok(!Number.isNaN(Date.parse(header.created as string)));
    assert.deepEqual(journal.header, { version: 1, created: header.created, ...HEADER });
  });

  test('create refuses to overwrite an existing checkpoint of the same id', async () => {
    await Journal.create(dir, HEADER);
    await assert.rejects(Journal.create(dir, HEADER), { code: 'EEXIST' });
  });

  test('line format is pinned: one JSON object per line with short field names', async () => {
    const journal = await Journal.create(dir, HEADER);
    journal.fileDone('a.txt', { size: 5, mtimeMs: 1700000000123.5, etag: '"e1"' });
    await journal.uploadStarted('big.bin', { key: 'runs/big.bin', uploadId: 'U1', partSize: 8, size: 20, mtimeMs: 17 });
    journal.partDone('big.bin', 1, { etag: '"p1"', md5: 'aa', crc32c: 123 });
    journal.partDone('big.bin', 2, { etag: '"p2"', md5: 'bb' });
    journal.uploadEnded('big.bin');
    await journal.flush();
    const text = await readFile(journal.file, 'utf8');
    const body = text.split('\n').slice(1).join('\n');
    assert.equal(
      body,
      [
        '{"e":"done","p":"a.txt","s":5,"m":1700000000123.5,"t":"\\"e1\\""}',
        '{"e":"mpu","p":"big.bin","k":"runs/big.bin","u":"U1","ps":8,"s":20,"m":17}',
        '{"e":"part","p":"big.bin","n":1,"t":"\\"p1\\"","md5":"aa","crc":123}',
        '{"e":"part","p":"big.bin","n":2,"t":"\\"p2\\"","md5":"bb"}',
        '{"e":"mpu-end","p":"big.bin"}',
        '',
      ].join('\n'),
    );
    assert.ok(text.endsWith('\n'));
  });

  test('records replay after reopening: finished files, open uploads and their parts', async () => {
    const journal = await Journal.create(dir, HEADER);
    journal.fileDone('small.txt', { size: 10, mtimeMs: 1000.25, etag: '"abc"' });
    await journal.uploadStarted('open.bin', { key: 'runs/open.bin', uploadId: 'UP-open', partSize: 8, size: 20, mtimeMs: 2000 });
    journal.partDone('open.bin', 1, { etag: '"p1"', md5: '11', crc32c: 4294967295 });
    journal.partDone('open.bin', 2, { etag: '"p2"', md5: '22' });
    await journal.uploadStarted('ended.bin', { key: 'runs/ended.bin', uploadId: 'UP-ended', partSize: 8, size: 20, mtimeMs: 3000 });
    journal.partDone('ended.bin', 1, { etag: '"q1"', md5: '33' });
    journal.uploadEnded('ended.bin');
    await journal.uploadStarted('completed.bin', { key: 'runs/completed.bin', uploadId: 'UP-c', partSize: 8, size: 20, mtimeMs: 4000 });
    journal.fileDone('completed.bin', { size: 20, mtimeMs: 4000, etag: '"x-2"' });
    await journal.flush();

    const replayed = await Journal.open(journal.file);
    assert.deepEqual(replayed.header, journal.header);
    assert.deepEqual([...replayed.finished], [
      ['small.txt', { size: 10, mtimeMs: 1000.25, etag: '"abc"' }],
      ['completed.bin', { size: 20, mtimeMs: 4000, etag: '"x-2"' }],
    ]);
    assert.deepEqual([...replayed.openUploads.keys()], ['open.bin'], 'ended and completed uploads are not open');
    const open = replayed.openUploads.get('open.bin')!;
    assert.equal(open.key, 'runs/open.bin');
    assert.equal(open.uploadId, 'UP-open');
    assert.equal(open.partSize, 8);
    assert.equal(open.size, 20);
    assert.equal(open.mtimeMs, 2000);
    assert.deepEqual([...open.parts], [
      [1, { etag: '"p1"', md5: '11', crc32c: 4294967295 }],
      [2, { etag: '"p2"', md5: '22', crc32c: undefined }],
    ]);
    // The in-memory state of the writer matches the replay.
    assert.deepEqual([...journal.finished], [...replayed.finished]);
    assert.deepEqual([...journal.openUploads.keys()], ['open.bin']);
  });

  test('a reopened journal appends: records written after replay replay too', async () => {
    const journal = await Journal.create(dir, HEADER);
    journal.fileDone('one', { size: 1, mtimeMs: 1, etag: 'a' });
    await journal.flush();
    const again = await Journal.open(journal.file);
    again.fileDone('two', { size: 2, mtimeMs: 2, etag: 'b' });
    await again.flush();
    assert.deepEqual([...(await Journal.open(journal.file)).finished.keys()], ['one', 'two']);
  });

  test('a torn last line (a crash mid-write) is ignored', async () => {
    const journal = await Journal.create(dir, HEADER);
    journal.fileDone('kept', { size: 1, mtimeMs: 1, etag: 'a' });
    journal.fileDone('torn', { size: 2, mtimeMs: 2, etag: 'b' });
    await journal.flush();
    const size = (await stat(journal.file)).size;
    await truncate(journal.file, size - 12);
    const replayed = await Journal.open(journal.file);
    assert.deepEqual([...replayed.finished.keys()], ['kept']);
  });

  test(
    'after a torn last line, the next record appended on resume is not lost',
    async () => {
      const journal = await Journal.create(dir, HEADER);
      journal.fileDone('kept', { size: 1, mtimeMs: 1, etag: 'a' });
      journal.fileDone('torn', { size: 2, mtimeMs: 2, etag: 'b' });
      await journal.flush();
      await truncate(journal.file, (await stat(journal.file)).size - 12);
      const resumed = await Journal.open(journal.file);
      await resumed.uploadStarted('big', { key: 'k', uploadId: 'UPLOAD-AFTER-CRASH', partSize: 8, size: 20, mtimeMs: 3 });
      const replayed = await Journal.open(journal.file);
      assert.equal(replayed.openUploads.get('big')?.uploadId, 'UPLOAD-AFTER-CRASH');
    },
  );

  test('garbage lines in the middle are skipped, the rest replays', async () => {
    const journal = await Journal.create(dir, HEADER);
    await writeFile(journal.file, '{not json\n{"e":"done","p":"x","s":1,"m":1,"t":"t"}\n', { flag: 'a' });
    assert.deepEqual([...(await Journal.open(journal.file)).finished.keys()], ['x']);
  });

  test('uploadStarted is on disk when it resolves', async () => {
    const journal = await Journal.create(dir, HEADER);
    // Something pending from before is written with it.
    journal.fileDone('earlier', { size: 1, mtimeMs: 1, etag: 'a' });
    await journal.uploadStarted('big', { key: 'runs/big', uploadId: 'UP-1', partSize: 8, size: 20, mtimeMs: 5 });
    const onDisk = await lines(journal.file);
    assert.deepEqual(onDisk.map((l) => l.e), ['header', 'done', 'mpu']);
    assert.equal(onDisk[2].u, 'UP-1');
  });

  test('fileDone and partDone are batched: not written until a flush', async () => {
    const journal = await Journal.create(dir, HEADER);
    journal.fileDone('a', { size: 1, mtimeMs: 1, etag: 'a' });
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal((await lines(journal.file)).length, 1);
    await journal.flush();
    assert.equal((await lines(journal.file)).length, 2);
  });

  test('256 pending records are written in the background, without a flush', async () => {
    const journal = await Journal.create(dir, HEADER);
    for (let i = 0; i < 255; i++) journal.fileDone(`f${i}`, { size: i, mtimeMs: i, etag: String(i) });
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal((await lines(journal.file)).length, 1, '255 pending: nothing written yet');
    journal.fileDone('f255', { size: 255, mtimeMs: 255, etag: '255' });
    for (let waited = 0; (await lines(journal.file)).length < 257 && waited < 2000; waited += 10) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    assert.equal((await lines(journal.file)).length, 257);
  });

  test('flushes started while one is writing write each record once, in order', async () => {
    const journal = await Journal.create(dir, HEADER);
    const flushes: Promise<void>[] = [];
    for (let i = 0; i < 600; i++) {
      journal.fileDone(`f${i}`, { size: i, mtimeMs: i, etag: String(i) });
      if (i % 7 === 0) flushes.push(journal.flush());
    }
    flushes.push(journal.flush(), journal.flush());
    await Promise.all(flushes);
    const written = (await lines(journal.file)).slice(1);
    assert.deepEqual(written.map((l) => l.p), Array.from({ length: 600 }, (_, i) => `f${i}`));
  });

  test('a failed background write is reported by the next flush', async () => {
    const journal = await Journal.create(dir, HEADER);
    await rm(dir, { recursive: true, force: true });
    await writeFile(dir, 'now a file, so the journal cannot be appended to');
    for (let i = 0; i < 256; i++) journal.fileDone(`f${i}`, { size: i, mtimeMs: i, etag: '' });
    await assert.rejects(journal.flush(), { code: 'ENOTDIR' });
    await rm(dir, { force: true });
  });

  test('open of a file without a header fails with a sentence', async () => {
    const file = join(dir, 'bad.jsonl');
    await writeFile(file, '{"e":"done","p":"x","s":1,"m":1,"t":"t"}\n');
    await assert.rejects(Journal.open(file), /is not an upload checkpoint/);
  });

  test('list: newest first, skipping non-checkpoints and other files', async () => {
    for (const [id, created] of [['old', '2025-01-01T00:00:00.000Z'], ['newest', '2025-03-01T00:00:00.000Z'], ['middle', '2025-02-01T00:00:00.000Z']]) {
      await writeFile(join(dir, `${id}.jsonl`), `${JSON.stringify({ e: 'header', version: 1, id, created, sources: [], bucket: 'b', prefix: '', options: {} })}\n`);
    }
    await writeFile(join(dir, 'garbage.jsonl'), 'this is not json\n');
    await writeFile(join(dir, 'empty.jsonl'), '');
    await writeFile(join(dir, 'notes.txt'), `${JSON.stringify({ e: 'header', version: 1, id: 'txt', created: '2026-01-01T00:00:00.000Z' })}\n`);
    const listed = await Journal.list(dir);
    assert.deepEqual(listed.map((j) => j.header.id), ['newest', 'middle', 'old']);
  });

  test('list of a directory that does not exist is empty', async () => {
    assert.deepEqual(await Journal.list(join(dir, 'nope')), []);
  });

  test('list includes journals made by create', async () => {
    await Journal.create(dir, { ...HEADER, id: 'made' });
    assert.deepEqual((await Journal.list(dir)).map((j) => j.header.id), ['made']);
  });

  test('remove flushes pending records and deletes the file', async () => {
    const journal = await Journal.create(dir, HEADER);
    journal.fileDone('a', { size: 1, mtimeMs: 1, etag: 'a' });
    await journal.remove();
    assert.deepEqual(await readdir(dir), []);
    await journal.remove(); // twice is fine
  });
});

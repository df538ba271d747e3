import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { crc32c } from '../../src/transfer/checksums';
import { FileReaderPool } from '../../src/transfer/fileReader';

const md5 = (b: Buffer) => createHash('md5').update(b).digest();

describe('FileReaderPool: reads and hashes in worker threads', () => {
  let dir: string;
  let pool: FileReaderPool;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'research-cloud-reader-'));
    pool = new FileReaderPool(2);
  });
  after(async () => {
    pool.destroy();
    await rm(dir, { recursive: true, force: true });
  });

  test('a whole file: its bytes, MD5, CRC32C and the same version before and after', async () => {
    const body = randomBytes(70_000);
    const path = join(dir, 'whole.bin');
    await writeFile(path, body);
    const read = await pool.readWhole(path, body.length, { crc32c: true });
    assert.ok(!('tooLarge' in read));
    assert.ok(read.data.equals(body));
    assert.ok(read.md5.equals(md5(body)));
    assert.equal(read.crc32c, crc32c(body));
    assert.equal(read.before.size, body.length);
    assert.deepEqual(read.before, read.after);
  });

  test('a file larger than the bytes reserved is not read; its size comes back', async () => {
    const path = join(dir, 'grown.bin');
    await writeFile(path, randomBytes(5000));
    const read = await pool.readWhole(path, 4096, { crc32c: false });
    assert.ok('tooLarge' in read);
    assert.equal(read.before.size, 5000);
    assert.equal(read.buffer, undefined);
  });

  test('a whole file read into a lent buffer; a file too large for it gives the buffer back unused', async () => {
    const body = randomBytes(3000);
    const path = join(dir, 'lent.bin');
    await writeFile(path, body);
    const read = await pool.readWhole(path, 4096, { crc32c: false, buffer: Buffer.allocUnsafeSlow(4096) });
    assert.ok(!('tooLarge' in read));
    assert.ok(read.data.equals(body));
    assert.equal(read.data.buffer.byteLength, 4096, 'the lent memory');
    const tooLarge = await pool.readWhole(path, 2048, { crc32c: false, buffer: Buffer.allocUnsafeSlow(2048) });
    assert.ok('tooLarge' in tooLarge);
    assert.equal(tooLarge.buffer?.length, 2048);
  });

  test('a range lands in the lent buffer, which comes back; CRC32C only when asked', async () => {
    const body = randomBytes(100_000);
    const path = join(dir, 'range.bin');
    await writeFile(path, body);
    const lent = Buffer.allocUnsafeSlow(40_000);
    const read = await pool.readRange(path, 30_000, 40_000, lent, { crc32c: false });
    assert.equal(lent.length, 0, 'the buffer was transferred to the thread');
    assert.equal(read.data.buffer.byteLength, 40_000, 'and the same memory came back');
    assert.ok(read.data.equals(body.subarray(30_000, 70_000)));
    assert.ok(read.md5.equals(md5(body.subarray(30_000, 70_000))));
    assert.equal(read.crc32c, undefined);
  });

  test('a range past the end of a file that shrank reads short', async () => {
    const path = join(dir, 'short.bin');
    await writeFile(path, randomBytes(1000));
    const read = await pool.readRange(path, 600, 800, Buffer.allocUnsafeSlow(800), { crc32c: true });
    assert.equal(read.data.length, 400);
  });

  test('a buffer that is a slice of a larger one is refused before anything is sent', async () => {
    const slice = Buffer.allocUnsafeSlow(100).subarray(10);
    await assert.rejects(pool.readRange(join(dir, 'range.bin'), 0, 50, slice, { crc32c: false }), RangeError);
  });

  test('errors keep their code and syscall, so the engine can name them', async () => {
    const err = await pool.readWhole(join(dir, 'missing'), 10, { crc32c: false }).then(() => undefined, (e: NodeJS.ErrnoException) => e);
    assert.equal(err?.code, 'ENOENT');
    assert.equal(err?.syscall, 'open');
    const dirErr = await pool.readWhole(dir, 1 << 20, { crc32c: false }).then(() => undefined, (e: NodeJS.ErrnoException) => e);
    assert.equal(dirErr?.code, 'EISDIR');
  });

  test('many reads at once all resolve, each with its own file', async () => {
    const paths = await Promise.all(Array.from({ length: 300 }, async (_, i) => {
      const path = join(dir, `many-${i}`);
      await writeFile(path, `file ${i}`);
      return path;
    }));
    const reads = await Promise.all(paths.map((p) => pool.readWhole(p, 100, { crc32c: false })));
    reads.forEach((read, i) => assert.equal(!('tooLarge' in read) && read.data.toString(), `file ${i}`));
  });

  test('an aborted read rejects with the reason at once', async () => {
    const controller = new AbortController();
    const reading = pool.readWhole(join(dir, 'whole.bin'), 1 << 20, { crc32c: false, signal: controller.signal });
    controller.abort(new Error('cancelled'));
    await assert.rejects(reading, /cancelled/);
  });

  test('a reader thread that dies fails the reads waiting on it, and every read after, as ReaderFailed', async () => {
    const own = new FileReaderPool(1);
    assert.ok(!('tooLarge' in (await own.readWhole(join(dir, 'whole.bin'), 1 << 20, { crc32c: false }))));
    const [worker] = (own as unknown as { workers: Array<{ terminate(): Promise<number> }> }).workers;
    await worker.terminate();
    const err = await own.readWhole(join(dir, 'whole.bin'), 1 << 20, { crc32c: false }).then(() => undefined, (e: Error) => e);
    assert.equal(err?.name, 'ReaderFailed');
    assert.match(err?.message ?? '', /A file reader thread stopped/);
    own.destroy();
  });

  test('after destroy, reads fail with a sentence', async () => {
    const own = new FileReaderPool(1);
    assert.ok(!('tooLarge' in (await own.readWhole(join(dir, 'whole.bin'), 1 << 20, { crc32c: false }))));
    own.destroy();
    await assert.rejects(own.readWhole(join(dir, 'whole.bin'), 1 << 20, { crc32c: false }), /The file reader was closed/);
  });
});

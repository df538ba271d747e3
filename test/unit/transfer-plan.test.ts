import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  describePlan,
  MAX_OBJECT_SIZE,
  MAX_PART_SIZE,
  MAX_PARTS,
  MiB,
  MIN_PART_SIZE,
  multipartThreshold,
  partSizeFor,
  planUpload,
} from '../../src/transfer/plan';
import type { LocalFile } from '../../src/transfer/scan';

const GiB = 1024 * MiB;
const TiB = 1024 * GiB;

function filesOfSizes(sizes: readonly number[]): LocalFile[] {
  return sizes.map((size, i) => ({ path: `/data/f${i}`, relativePath: `f${i}`, size, mtimeMs: 0 }));
}

describe('S3 limits', () => {
  test('are the documented ones', () => {
    assert.equal(MIN_PART_SIZE, 5 * 1024 * 1024);
    assert.equal(MAX_PART_SIZE, 5 * 1024 * 1024 * 1024);
    assert.equal(MAX_PARTS, 10_000);
    assert.equal(MAX_OBJECT_SIZE, 5 * 1024 ** 4);
  });
});

describe('partSizeFor', () => {
  test('empty and small files get the default 8 MiB', () => {
    assert.equal(partSizeFor(0), 8 * MiB);
    assert.equal(partSizeFor(1), 8 * MiB);
    assert.equal(partSizeFor(8 * MiB), 8 * MiB);
  });

  test('80 GB: 8 MiB parts already fit in 10,000 parts (9,537), so 8 MiB', () => {
    const size = 80e9;
    assert.equal(Math.ceil(size / (8 * MiB)), 9537);
    assert.equal(partSizeFor(size), 8 * MiB);
  });

  test('exactly 10,000 parts of 8 MiB stays at 8 MiB; one byte more needs 9 MiB', () => {
    assert.equal(partSizeFor(MAX_PARTS * 8 * MiB), 8 * MiB);
    assert.equal(partSizeFor(MAX_PARTS * 8 * MiB + 1), 9 * MiB);
  });

  test('100 GB: ceil(size / 10,000) rounded up to whole MiB = 10 MiB', () => {
    const size = 100e9;
    // 100e9 / 10,000 = 10,000,000 B = 9.54 MiB → 10 MiB.
    assert.equal(partSizeFor(size), 10 * MiB);
    assert.ok(Math.ceil(size / (10 * MiB)) <= MAX_PARTS);
    assert.ok(Math.ceil(size / (9 * MiB)) > MAX_PARTS, '9 MiB would not do');
  });

  test('5 TiB: 525 MiB parts, under 5 GiB and within 10,000 parts', () => {
    const part = partSizeFor(5 * TiB);
    assert.equal(part, 525 * MiB);
    assert.ok(part <= MAX_PART_SIZE);
    assert.equal(Math.ceil((5 * TiB) / part), 9987);
    assert.ok(Math.ceil((5 * TiB) / (524 * MiB)) > MAX_PARTS, '524 MiB would not do');
  });

  test('larger than 5 TiB throws a RangeError that says so', () => {
    assert.throws(() => partSizeFor(5 * TiB + 1), (err: unknown) => err instanceof RangeError && /5 TiB/.test(err.message));
  });

  test('a preferred size is honoured, but never below 5 MiB nor above 5 GiB', () => {
    assert.equal(partSizeFor(100 * MiB, 64 * MiB), 64 * MiB);
    assert.equal(partSizeFor(100 * MiB, 1 * MiB), MIN_PART_SIZE);
    assert.equal(partSizeFor(100 * MiB, 10 * GiB), MAX_PART_SIZE);
    // A preferred size too small for the file is raised to what 10,000 parts need.
    assert.equal(partSizeFor(100e9, 5 * MiB), 10 * MiB);
  });

  test('any size up to 5 TiB gives a whole-MiB part size within S3\'s limits', () => {
    let seed = 12345;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    for (let i = 0; i < 2000; i++) {
      const size = Math.floor(random() ** 3 * MAX_OBJECT_SIZE);
      const part = partSizeFor(size);
      assert.ok(part >= MIN_PART_SIZE && part <= MAX_PART_SIZE, `size ${size}`);
      assert.equal(part % MiB, 0, `size ${size}`);
      assert.ok(Math.ceil(size / part) <= MAX_PARTS, `size ${size}: ${Math.ceil(size / part)} parts`);
    }
  });
});

describe('multipartThreshold', () => {
  test('twice the part size: 16 MiB by default', () => {
    assert.equal(multipartThreshold(), 16 * MiB);
    assert.equal(multipartThreshold(5 * MiB), 10 * MiB);
    assert.equal(multipartThreshold(64 * MiB), 128 * MiB);
  });
});

describe('planUpload', () => {
  // Sorted: 0, 1, 9, 10, 99, 100, 20 MiB. Statistics computed separately with Python.
  const SIZES = [100, 0, 20 * MiB, 9, 99, 1, 10];

  test('totals, and statistics of an odd count (median is the middle one)', () => {
    const plan = planUpload(filesOfSizes(SIZES));
    assert.equal(plan.files, 7);
    assert.equal(plan.bytes, 20_971_739);
    assert.equal(plan.sizes.min, 0);
    assert.equal(plan.sizes.max, 20 * MiB);
    assert.equal(plan.sizes.median, 10);
    assert.ok(Math.abs(plan.sizes.mean - 2_995_962.714285714) < 1e-6);
    // Population standard deviation.
    assert.ok(Math.abs(plan.sizes.standardDeviation - 7_338_490.532144793) < 1e-3);
  });

  test('median of an even count is the mean of the middle two, sorted numerically', () => {
    // Sorted numerically: 0 1 9 10 | 99 100 3000 20971520; a string sort would put 3000 before 99.
    const plan = planUpload(filesOfSizes([...SIZES, 3000]));
    assert.equal(plan.sizes.median, (10 + 99) / 2);
    assert.equal(plan.sizes.mean, 2_621_842.375);
    assert.ok(Math.abs(plan.sizes.standardDeviation - 6_935_526.301366915) < 1e-3);
    assert.equal(plan.sizes.max, 20 * MiB);
  });

  test('median of two equal sizes and statistics of one file', () => {
    assert.deepEqual(planUpload(filesOfSizes([42])).sizes, { min: 42, median: 42, mean: 42, max: 42, standardDeviation: 0 });
    assert.equal(planUpload(filesOfSizes([4, 4])).sizes.median, 4);
  });

  test('no files: zeros, not NaN', () => {
    const plan = planUpload([]);
    assert.equal(plan.files, 0);
    assert.equal(plan.bytes, 0);
    assert.deepEqual(plan.sizes, { min: 0, median: 0, mean: 0, max: 0, standardDeviation: 0 });
    assert.deepEqual(plan.histogram, []);
    assert.equal(plan.estimatedSeconds, 0);
  });

  test('histogram: 0-byte bin first, then powers of ten [from, to)', () => {
    const plan = planUpload(filesOfSizes(SIZES));
    assert.deepEqual(plan.histogram, [
      { from: 0, to: 1, files: 1, bytes: 0 },
      { from: 1, to: 10, files: 2, bytes: 10 },
      { from: 10, to: 100, files: 2, bytes: 109 },
      { from: 100, to: 1000, files: 1, bytes: 100 },
      { from: 10_000_000, to: 100_000_000, files: 1, bytes: 20 * MiB },
    ]);
  });

  test('histogram: exact powers of ten open their own bin', () => {
    const sizes = [1, 10, 100, 1000, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12];
    const plan = planUpload(filesOfSizes(sizes));
    assert.deepEqual(plan.histogram.map((b) => b.from), sizes);
    for (const bin of plan.histogram) assert.equal(bin.files, 1);
  });

  test('histogram: every size falls within its bin\'s [from, to) — one below each power of ten up to 1 TB', () => {
    // 10^k − 1 for k = 1…11 is binned right; see the next test for k = 12.
    const sizes = Array.from({ length: 11 }, (_, k) => 10 ** (k + 1) - 1);
    for (const bin of planUpload(filesOfSizes(sizes)).histogram) {
      assert.equal(bin.files, 1);
      assert.ok(bin.bytes >= bin.from && bin.bytes < bin.to, `${bin.bytes} in [${bin.from}, ${bin.to})`);
    }
  });

  test(
    'histogram: a file of 999,999,999,999 bytes (just under 1 TB, a valid object) is in [1e11, 1e12)',
    () => {
      const [bin] = planUpload(filesOfSizes([999_999_999_999])).histogram;
      assert.deepEqual({ from: bin.from, to: bin.to }, { from: 1e11, to: 1e12 });
    },
  );

  test('multipart files are those at or above twice the part size', () => {
    const plan = planUpload(filesOfSizes([16 * MiB - 1, 16 * MiB, 100 * MiB]));
    assert.equal(plan.multipartFiles, 2);
    assert.equal(planUpload(filesOfSizes([16 * MiB]), { partSize: 10 * MiB }).multipartFiles, 0);
  });

  test(
    'multipartFiles matches the engine when the preferred part size is below S3\'s 5 MiB minimum',
    () => {
      assert.equal(planUpload(filesOfSizes([6 * MiB]), { partSize: 1 * MiB }).multipartFiles, 0);
    },
  );

  test('part size is that of the largest file', () => {
    assert.equal(planUpload(filesOfSizes([1, 100e9])).partSize, 10 * MiB);
    assert.equal(planUpload(filesOfSizes([1, 2])).partSize, 8 * MiB);
  });

  test('starting concurrency: 16 with small files, 8 when every file is multipart', () => {
    assert.equal(planUpload(filesOfSizes([1, 100 * MiB])).startingConcurrency, 16);
    assert.equal(planUpload(filesOfSizes([100 * MiB, 200 * MiB])).startingConcurrency, 8);
  });

  test('estimate: the larger of bytes / rate and files / rate', () => {
    const big = planUpload(filesOfSizes([100e6, 100e6]), { bytesPerSecond: 10e6, filesPerSecond: 1 });
    assert.equal(big.estimatedSeconds, 20);
    const many = planUpload(filesOfSizes(Array(1000).fill(1)), { bytesPerSecond: 10e6, filesPerSecond: 100 });
    assert.equal(many.estimatedSeconds, 10);
    const defaults = planUpload(filesOfSizes([50e6]));
    assert.equal(defaults.assumedBytesPerSecond, 50e6);
    assert.equal(defaults.assumedFilesPerSecond, 500);
    assert.equal(defaults.estimatedSeconds, 1);
  });
});

describe('describePlan', () => {
  test('names the counts, sizes, bins, concurrency and estimate', () => {
    const lines = describePlan(planUpload(filesOfSizes([100, 0, 20 * MiB, 9, 99, 1, 10])));
    const text = lines.join('\n');
    assert.equal(lines[0], '7 files, 21.0 MB; 1 file as multipart uploads of 8.39 MB parts');
    assert.equal(lines[1], 'sizes: min 0 B, median 10 B, mean 3.00 MB, max 21.0 MB, std dev 7.34 MB');
    assert.match(text, /0 B \(empty\)\s+1 /);
    assert.match(text, /1 B – 10 B\s+2 /);
    assert.match(text, /10\.0 MB – 100 MB\s+1 /);
    assert.match(text, /starting with 16 requests in flight/);
    assert.match(text, /estimated time: 1 s at 50\.0 MB\/s and 500 files\/s/);
    // One line per bin between the two summary lines and the two closing ones.
    assert.equal(lines.length, 2 + 5 + 2);
  });

  test('the widest bin gets the full 30-character bar, others in proportion', () => {
    const lines = describePlan(planUpload(filesOfSizes([5, 5, 5, 5, 50, 50])));
    const bars = lines.slice(2, 4).map((l) => (/█+/.exec(l)?.[0] ?? '').length);
    assert.deepEqual(bars, [30, 15]);
  });

  test('an empty plan still describes itself', () => {
    const lines = describePlan(planUpload([]));
    assert.equal(lines[0], '0 files, 0 B; 0 files as multipart uploads of 8.39 MB parts');
  });
});

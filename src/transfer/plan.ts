import { formatBytes, formatDuration, plural } from '../core/format';
import type { LocalFile } from './scan';

export const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
/** S3's limits: parts of 5 MiB to 5 GiB (the last may be smaller), at most 10,000 parts, objects up to 5 TiB. */
export const MIN_PART_SIZE = 5 * MiB;
export const MAX_PART_SIZE = 5 * GiB;
export const MAX_PARTS = 10_000;
export const MAX_OBJECT_SIZE = 5 * 1024 * GiB;
const DEFAULT_PART_SIZE = 8 * MiB;

/**
 * The part size for a file: 8 MiB, or the smallest whole MiB that keeps the file within 10,000
 * parts. A 100 GB sequencing run gets 10 MiB parts; a 5 TiB one, 525 MiB.
 */
export function partSizeFor(size: number, preferred = DEFAULT_PART_SIZE): number {
  if (size > MAX_OBJECT_SIZE) throw new RangeError(`${formatBytes(size)} is larger than S3's largest object (5 TiB).`);
  const needed = Math.ceil(size / MAX_PARTS / MiB) * MiB;
  return Math.min(MAX_PART_SIZE, Math.max(MIN_PART_SIZE, preferred, needed));
}

/** Files at least this big go as multipart uploads, so their parts travel in parallel. */
export function multipartThreshold(partSize = DEFAULT_PART_SIZE): number {
  return 2 * partSize;
}

export interface SizeStatistics {
  readonly min: number;
  readonly median: number;
  readonly mean: number;
  readonly max: number;
  readonly standardDeviation: number;
}

/** Files whose size falls in [from, to): 0 B, then powers of ten (1 B–10 B, 10 B–100 B…). */
export interface HistogramBin {
  readonly from: number;
  readonly to: number;
  readonly files: number;
  readonly bytes: number;
}

export interface UploadPlan {
  readonly files: number;
  readonly bytes: number;
  readonly sizes: SizeStatistics;
  readonly histogram: HistogramBin[];
  /** Part size of the largest file; smaller big files may use the default. */
  readonly partSize: number;
  readonly multipartFiles: number;
  readonly startingConcurrency: number;
  /** Seconds, at the assumed rates below. */
  readonly estimatedSeconds: number;
  readonly assumedBytesPerSecond: number;
  readonly assumedFilesPerSecond: number;
}

export interface PlanOptions {
  readonly partSize?: number;
  /** Rates to estimate with, e.g. measured by the previous job; defaults are modest. */
  readonly bytesPerSecond?: number;
  readonly filesPerSecond?: number;
}

/** Sums up what an upload will move, before anything is sent. */
export function planUpload(files: readonly LocalFile[], options: PlanOptions = {}): UploadPlan {
  const sizes = Float64Array.from(files, (f) => f.size).sort();
  const bytes = sizes.reduce((a, b) => a + b, 0);
  const preferred = options.partSize ?? DEFAULT_PART_SIZE;
  // The same rule the engine applies to each file, so the plan and the upload agree.
  const multipartFiles = files.filter((f) => f.size >= multipartThreshold(partSizeFor(f.size, preferred))).length;
  const largest = sizes.length ? sizes[sizes.length - 1] : 0;
  const assumedBytesPerSecond = options.bytesPerSecond ?? 50e6;
  const assumedFilesPerSecond = options.filesPerSecond ?? 500;
  return {
    files: files.length,
    bytes,
    sizes: statistics(sizes, bytes),
    histogram: histogram(sizes),
    partSize: partSizeFor(largest, preferred),
    multipartFiles,
    // Many small files want many requests in flight from the start; a few big ones start lower
    // and let the controller find the knee.
    startingConcurrency: multipartFiles === files.length ? 8 : 16,
    // Bytes and per-request overhead overlap only partly; the larger of the two dominates.
    estimatedSeconds: Math.max(bytes / assumedBytesPerSecond, files.length / assumedFilesPerSecond),
    assumedBytesPerSecond,
    assumedFilesPerSecond,
  };
}

function statistics(sorted: Float64Array, total: number): SizeStatistics {
  const n = sorted.length;
  if (!n) return { min: 0, median: 0, mean: 0, max: 0, standardDeviation: 0 };
  const mean = total / n;
  let squares = 0;
  for (const size of sorted) squares += (size - mean) ** 2;
  const median = n % 2 ? sorted[(n - 1) / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
  return { min: sorted[0], median, mean, max: sorted[n - 1], standardDeviation: Math.sqrt(squares / n) };
}

function histogram(sorted: Float64Array): HistogramBin[] {
  const bins = new Map<number, { files: number; bytes: number }>();
  for (const size of sorted) {
    // Digits of the whole number, not log10: floating point puts 1e12 - 1 into the 1e12 bin.
    const exponent = size < 1 ? -1 : String(Math.floor(size)).length - 1;
    const bin = bins.get(exponent) ?? { files: 0, bytes: 0 };
    bin.files++;
    bin.bytes += size;
    bins.set(exponent, bin);
  }
  return [...bins]
    .sort(([a], [b]) => a - b)
    .map(([exponent, bin]) => ({ from: exponent < 0 ? 0 : 10 ** exponent, to: exponent < 0 ? 1 : 10 ** (exponent + 1), ...bin }));
}

/** The plan as lines of text, for the CLI and the confirmation before a large upload. */
export function describePlan(plan: UploadPlan): string[] {
  const s = plan.sizes;
  const widest = Math.max(...plan.histogram.map((b) => b.files), 1);
  return [
    `${plural(plan.files, 'file')}, ${formatBytes(plan.bytes)}; ${plural(plan.multipartFiles, 'file')} as multipart uploads of ${formatBytes(plan.partSize)} parts`,
    `sizes: min ${formatBytes(s.min)}, median ${formatBytes(s.median)}, mean ${formatBytes(s.mean)}, max ${formatBytes(s.max)}, std dev ${formatBytes(s.standardDeviation)}`,
    ...plan.histogram.map((b) => {
      const range = b.to === 1 ? '0 B (empty)' : `${formatBytes(b.from)} – ${formatBytes(b.to)}`;
      return `  ${range.padEnd(22)} ${String(b.files).padStart(9)}  ${'█'.repeat(Math.ceil((b.files / widest) * 30))}`;
    }),
    `starting with ${plan.startingConcurrency} requests in flight, adjusted as it runs`,
    `estimated time: ${formatDuration(plan.estimatedSeconds)} at ${formatBytes(plan.assumedBytesPerSecond)}/s and ${plan.assumedFilesPerSecond} files/s`,
  ];
}

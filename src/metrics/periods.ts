/** Time ranges the panel offers, and the GetMetricData period that fits each. */

export type PresetRange = '1h' | '3h' | '12h' | '1d' | '7d';

export type TimeRange =
  | { readonly kind: 'preset'; readonly preset: PresetRange }
  /** Epoch milliseconds, start before end. */
  | { readonly kind: 'custom'; readonly start: number; readonly end: number };

export const PRESET_SECONDS: Readonly<Record<PresetRange, number>> = {
  '1h': 3600,
  '3h': 3 * 3600,
  '12h': 12 * 3600,
  '1d': 86400,
  '7d': 7 * 86400,
};

export const DEFAULT_RANGE: TimeRange = { kind: 'preset', preset: '3h' };

/**
 * Periods CloudWatch accepts for standard-resolution data (multiples of 60 s), from fine to
 * coarse. Coarser steps are those the console uses, so charts line up with what users know.
 */
export const PERIODS = [60, 300, 900, 3600, 3 * 3600, 6 * 3600, 86400] as const;

/**
 * Points per line. A chart is a few hundred pixels wide, so more points draw nothing new; it
 * also keeps a 50-node cluster (51 lines) at about 73,000 points, under GetMetricData's 100,800
 * datapoints per call for one chart.
 */
export const MAX_POINTS_PER_SERIES = 1440;

// CloudWatch keeps 1-minute data for 15 days, 5-minute data for 63 days, hourly after that; a
// query for older data with a finer period returns nothing.
const DAY = 86400;
const RETENTION: ReadonlyArray<{ olderThan: number; minPeriod: number }> = [
  { olderThan: 63 * DAY, minPeriod: 3600 },
  { olderThan: 15 * DAY, minPeriod: 300 },
];

export interface ResolvedRange {
  /** Epoch seconds, aligned down to the period so every refresh asks for the same buckets. */
  readonly start: number;
  /** Epoch seconds, aligned up to the period. */
  readonly end: number;
  readonly period: number;
}

export interface RangeLimits {
  /** Coarsest data the metrics have: 86400 for S3 storage metrics, 21600 for billing. */
  readonly minPeriod?: number;
  /** Widen shorter ranges to this many seconds, so a daily metric shows more than one point. */
  readonly minSpan?: number;
}

/**
 * Turns a range into aligned start, end and period: the finest period that keeps each line
 * within MAX_POINTS_PER_SERIES, is at least `minPeriod` and is still retained for data as old
 * as `start`.
 */
export function resolveRange(range: TimeRange, nowMs: number, { minPeriod = 60, minSpan = 0 }: RangeLimits = {}): ResolvedRange {
  const endMs = range.kind === 'custom' ? range.end : nowMs;
  const askedStartMs = range.kind === 'custom' ? range.start : nowMs - PRESET_SECONDS[range.preset] * 1000;
  if (!(endMs > askedStartMs)) throw new RangeError('The end of the time range must come after its start.');
  const startMs = Math.min(askedStartMs, endMs - minSpan * 1000);
  const span = (endMs - startMs) / 1000;
  const age = (nowMs - startMs) / 1000;
  const retained = RETENTION.find((r) => age > r.olderThan)?.minPeriod ?? 60;
  const floor = Math.max(minPeriod, retained);
  const period = PERIODS.find((p) => p >= floor && span / p <= MAX_POINTS_PER_SERIES) ?? PERIODS[PERIODS.length - 1];
  // A range shorter than one period (a daily metric over 1 h) still needs one whole period.
  const end = Math.ceil(endMs / 1000 / period) * period;
  const start = Math.min(Math.floor(startMs / 1000 / period) * period, end - period);
  return { start, end, period };
}

/** The label the range buttons show. */
export function describeRange(range: TimeRange): string {
  if (range.kind === 'preset') return range.preset;
  const day = (ms: number) => new Date(ms).toISOString().slice(0, 16).replace('T', ' ');
  return `${day(range.start)} – ${day(range.end)} UTC`;
}

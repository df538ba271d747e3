import { formatBytes, formatDuration, plural } from './format';
import type { ProgressReport } from './progress';

/**
 * Turns a stream of progress reports into a line for people: done of total, rate and time left.
 * The rate is averaged over a sliding window so it neither jumps at every part nor lags minutes
 * behind a change in bandwidth.
 */
export class RateMeter {
  private readonly samples: Array<{ at: number; bytes: number }> = [];

  constructor(
    private readonly windowMs = 5000,
    private readonly now: () => number = () => Date.now(),
  ) {}

  /** Bytes per second over the window, or undefined before there is enough to say. */
  record(bytesDone: number): number | undefined {
    const at = this.now();
    this.samples.push({ at, bytes: bytesDone });
    while (this.samples.length > 2 && at - this.samples[0].at > this.windowMs) this.samples.shift();
    const first = this.samples[0];
    const seconds = (at - first.at) / 1000;
    return seconds >= 0.5 ? (bytesDone - first.bytes) / seconds : undefined;
  }

  describe(report: ProgressReport): string {
    const rate = this.record(report.bytesDone);
    const parts: string[] = [];
    parts.push(report.bytesTotal !== undefined ? `${formatBytes(report.bytesDone)} of ${formatBytes(report.bytesTotal)}` : formatBytes(report.bytesDone));
    if (report.itemsTotal !== undefined && report.itemsTotal > 1) parts.push(`${report.itemsDone.toLocaleString('en-US')} of ${plural(report.itemsTotal, 'file')}`);
    if (rate !== undefined && rate > 0) {
      parts.push(`${formatBytes(rate)}/s`);
      if (report.bytesTotal !== undefined && report.bytesTotal > report.bytesDone) {
        parts.push(`${formatDuration((report.bytesTotal - report.bytesDone) / rate)} left`);
      }
    }
    return parts.join(' · ');
  }
}

/** The fraction done, from bytes when the total is known, else from items. */
export function fractionDone(report: ProgressReport): number | undefined {
  if (report.bytesTotal) return Math.min(1, report.bytesDone / report.bytesTotal);
  if (report.itemsTotal) return Math.min(1, report.itemsDone / report.itemsTotal);
  return undefined;
}

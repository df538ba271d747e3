import type { ProgressReport, ProgressSink } from '../core/progress';
import { fractionDone, RateMeter } from '../core/rate';

/** Narrower than this, a bar says too little to be worth its room. */
const MIN_BAR_WIDTH = 10;
const MAX_BAR_WIDTH = 40;
/** Without a terminal (a batch job's log), one line this often. */
const PLAIN_LINE_INTERVAL_MS = 15_000;

/**
 * One line of at most `width` columns: a bar, the percentage, and `details` (what RateMeter
 * says: bytes and files done of the totals, rate, time left). The details win over the bar when
 * room is short; what still does not fit is cut with an ellipsis.
 */
export function renderProgressLine(report: ProgressReport, details: string, width: number): string {
  const fraction = fractionDone(report);
  const text = fraction === undefined ? details : `${percent(fraction).padStart(4)} ${details}`;
  const barWidth = Math.min(MAX_BAR_WIDTH, width - text.length - 3);
  if (fraction === undefined || barWidth < MIN_BAR_WIDTH) return fit(text, width);
  const filled = Math.floor(fraction * barWidth);
  return `[${'█'.repeat(filled)}${'░'.repeat(barWidth - filled)}] ${text}`;
}

/** The line written every so often when output goes to a file or a pipe. */
export function renderPlainLine(report: ProgressReport, details: string): string {
  const fraction = fractionDone(report);
  return fraction === undefined ? details : `${percent(fraction)} ${details}`;
}

function percent(fraction: number): string {
  // Rounded down, so 100% means done rather than almost done.
  return `${Math.floor(fraction * 100)}%`;
}

function fit(text: string, width: number): string {
  if (text.length <= width) return text;
  return width > 1 ? `${text.slice(0, width - 1)}…` : text.slice(0, Math.max(0, width));
}

/** Nothing to move (a sync that only deletes), or nothing known yet: no line is better than `0 B of 0 B`. */
function isEmpty(report: ProgressReport): boolean {
  return !report.bytesTotal && !report.itemsTotal && !report.bytesDone;
}

/** Where progress goes: redrawn in place on a terminal, a line now and then otherwise. */
export interface ProgressDisplay {
  readonly sink: ProgressSink;
  /** Writes other text (a warning, a log line) without tearing the bar. */
  around(write: () => void): void;
  /** Leaves the last state on screen and ends the line. */
  finish(): void;
}

export interface DisplayStream {
  write(text: string): unknown;
  readonly isTTY?: boolean;
  readonly columns?: number;
}

export function createProgressDisplay(stream: DisplayStream, now: () => number = () => Date.now()): ProgressDisplay {
  return stream.isTTY ? new TerminalBar(stream, now) : new PeriodicLines(stream, now);
}

class TerminalBar implements ProgressDisplay {
  private readonly meter: RateMeter;
  private latest?: { report: ProgressReport; details: string };
  private drawn = false;

  constructor(
    private readonly stream: DisplayStream,
    now: () => number,
  ) {
    this.meter = new RateMeter(5000, now);
  }

  readonly sink: ProgressSink = (report) => {
    if (isEmpty(report)) return;
    this.latest = { report, details: this.meter.describe(report) };
    this.draw();
  };

  around(write: () => void): void {
    if (this.drawn) this.stream.write('\r\x1b[K');
    this.drawn = false;
    write();
    this.draw();
  }

  finish(): void {
    if (this.drawn) this.stream.write('\n');
    this.drawn = false;
    this.latest = undefined;
  }

  private draw(): void {
    if (!this.latest) return;
    // One column short of the width: writing into the last column wraps on some terminals.
    const width = (this.stream.columns ?? 80) - 1;
    this.stream.write(`\r${renderProgressLine(this.latest.report, this.latest.details, width)}\x1b[K`);
    this.drawn = true;
  }
}

class PeriodicLines implements ProgressDisplay {
  private readonly meter: RateMeter;
  private lastWritten = -Infinity;
  private lastLine?: string;
  private unwritten?: string;

  constructor(
    private readonly stream: DisplayStream,
    private readonly now: () => number,
  ) {
    this.meter = new RateMeter(5000, now);
  }

  readonly sink: ProgressSink = (report) => {
    if (isEmpty(report)) return;
    // Every report feeds the rate, so the line written later measures the recent past.
    const line = renderPlainLine(report, this.meter.describe(report));
    if (this.now() - this.lastWritten < PLAIN_LINE_INTERVAL_MS) {
      this.unwritten = line;
      return;
    }
    this.write(line);
  };

  around(write: () => void): void {
    write();
  }

  finish(): void {
    // The last state, unless that very line is already the last one in the log.
    if (this.unwritten && this.unwritten !== this.lastLine) this.write(this.unwritten);
    this.unwritten = undefined;
  }

  private write(line: string): void {
    this.stream.write(`${line}\n`);
    this.lastWritten = this.now();
    this.lastLine = line;
    this.unwritten = undefined;
  }
}

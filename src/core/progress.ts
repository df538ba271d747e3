/**
 * The one progress interface every long operation reports through. The UI adapts it to
 * `withProgress`, the CLI to a progress bar; the engine knows neither.
 */
export interface ProgressReport {
  /** Bytes finished so far, and the total when known. */
  readonly bytesDone: number;
  readonly bytesTotal?: number;
  /** Items (objects, files) finished so far, and the total when known. */
  readonly itemsDone: number;
  readonly itemsTotal?: number;
  /** A short line about what is happening now, e.g. the key being fetched. */
  readonly message?: string;
}

export type ProgressSink = (report: ProgressReport) => void;

/** A sink that drops reports, for callers that do not show progress. */
export const ignoreProgress: ProgressSink = () => undefined;

/** Throws the signal's reason when it is aborted; call between steps of a long operation. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) {
    throw signal.reason instanceof Error ? signal.reason : new CancelledError();
  }
}

export class CancelledError extends Error {
  constructor() {
    super('Cancelled.');
    this.name = 'CancelledError';
  }
}

export function isCancellation(err: unknown): boolean {
  return err instanceof CancelledError || (err instanceof Error && err.name === 'AbortError');
}

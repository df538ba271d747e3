import { isTransient } from '../aws/errors';
import { throwIfAborted } from '../core/progress';

export interface RetryOptions {
  /** Tries in all, the first included. */
  readonly maxAttempts: number;
  readonly signal?: AbortSignal;
  /** Told of each transient failure before the wait, e.g. to slow the controller down. */
  readonly onTransient?: (err: unknown) => void;
  readonly baseDelayMs?: number;
  readonly maxDelayMs?: number;
  /** Which failures are worth another try; by default the transient ones (isTransient). */
  readonly isRetryable?: (err: unknown) => boolean;
}

/**
 * Runs `attempt` until it succeeds, retrying transient failures (throttling, 5xx, dropped
 * connections) after a capped exponential backoff with full jitter, so many workers that hit a
 * 503 together do not come back together. Permanent errors are thrown at once.
 */
export async function withRetries<T>(attempt: () => Promise<T>, options: RetryOptions): Promise<T> {
  for (let tries = 1; ; tries++) {
    throwIfAborted(options.signal);
    try {
      return await attempt();
    } catch (err) {
      if (options.signal?.aborted) throw options.signal.reason ?? err;
      if (!(options.isRetryable ?? isTransient)(err) || tries >= options.maxAttempts) throw err;
      options.onTransient?.(err);
      await sleep(backoffMs(tries, options.baseDelayMs ?? 200, options.maxDelayMs ?? 20_000), options.signal);
    }
  }
}

export function backoffMs(tries: number, baseMs: number, capMs: number): number {
  return Math.random() * Math.min(capMs, baseMs * 2 ** (tries - 1));
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(done, ms);
    function done() {
      signal?.removeEventListener('abort', abort);
      resolve();
    }
    function abort() {
      clearTimeout(timer);
      reject(signal!.reason);
    }
    signal?.addEventListener('abort', abort, { once: true });
  });
}

import { throwIfAborted } from './progress';

/**
 * Runs `work` over `items` with at most `concurrency` in flight. Stops starting new work once
 * the signal aborts or `stopOnError` sees a failure. Returns one entry per item, aligned with
 * `items` (undefined for items never started), so callers can report partial failures.
 */
export async function runPool<T, R>(
  items: readonly T[],
  concurrency: number,
  work: (item: T, index: number) => Promise<R>,
  options: { signal?: AbortSignal; stopOnError?: boolean } = {},
): Promise<(PromiseSettledResult<R> | undefined)[]> {
  const results: (PromiseSettledResult<R> | undefined)[] = new Array(items.length).fill(undefined);
  let next = 0;
  let failed = false;
  const lanes = Array.from({ length: Math.max(1, Math.min(concurrency, items.length)) }, async () => {
    while (next < items.length && !(failed && options.stopOnError) && !options.signal?.aborted) {
      const index = next++;
      try {
        results[index] = { status: 'fulfilled', value: await work(items[index], index) };
      } catch (reason) {
        failed = true;
        results[index] = { status: 'rejected', reason };
      }
    }
  });
  await Promise.all(lanes);
  throwIfAborted(options.signal);
  return results;
}

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CancelledError } from '../../src/core/progress';
import { backoffMs, withRetries } from '../../src/transfer/retry';
import { s3Error } from '../fixtures/s3';

function networkError(code: string): Error {
  return Object.assign(new Error(`${code} happened`), { code, syscall: 'connect' });
}

/** An attempt function that fails with the given errors in turn, then succeeds. */
function failing(errors: unknown[], value = 'ok') {
  const calls = { count: 0 };
  const attempt = async () => {
    const err = errors[calls.count++];
    if (err !== undefined) throw err;
    return value;
  };
  return { attempt, calls };
}

describe('withRetries', () => {
  test('transient errors (503 SlowDown, 500, ECONNRESET, Throttling) are retried, onTransient told each', async () => {
    const errors = [s3Error('SlowDown', 503), s3Error('InternalError', 500), networkError('ECONNRESET'), s3Error('Throttling', 400)];
    const { attempt, calls } = failing(errors);
    const seen: unknown[] = [];
    const result = await withRetries(attempt, { maxAttempts: 5, baseDelayMs: 1, maxDelayMs: 2, onTransient: (err) => seen.push(err) });
    assert.equal(result, 'ok');
    assert.equal(calls.count, 5);
    assert.deepEqual(seen, errors);
  });

  test('gives up after maxAttempts tries in all, throwing the last error', async () => {
    const errors = [s3Error('SlowDown', 503), s3Error('SlowDown', 503), s3Error('ServiceUnavailable', 503), s3Error('SlowDown', 503)];
    const { attempt, calls } = failing(errors);
    let told = 0;
    await assert.rejects(
      withRetries(attempt, { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 1, onTransient: () => told++ }),
      (err) => err === errors[2],
    );
    assert.equal(calls.count, 3);
    assert.equal(told, 2, 'told before each wait, not after the last try');
  });

  test('permanent errors are thrown at once, without onTransient', async () => {
    for (const err of [s3Error('AccessDenied', 403), s3Error('NoSuchBucket', 404), new Error('plain bug'), networkError('ENOENT')]) {
      const { attempt, calls } = failing([err]);
      let told = 0;
      await assert.rejects(withRetries(attempt, { maxAttempts: 6, baseDelayMs: 1000, onTransient: () => told++ }), (e) => e === err);
      assert.equal(calls.count, 1);
      assert.equal(told, 0);
    }
  });

  test('maxAttempts 1 means no retry', async () => {
    const { attempt, calls } = failing([s3Error('SlowDown', 503)]);
    await assert.rejects(withRetries(attempt, { maxAttempts: 1 }));
    assert.equal(calls.count, 1);
  });

  test('abort during the backoff rejects promptly with the signal\'s reason', async (t) => {
    t.mock.method(Math, 'random', () => 0.5);
    const controller = new AbortController();
    const reason = new CancelledError();
    const { attempt, calls } = failing([s3Error('SlowDown', 503), s3Error('SlowDown', 503)]);
    const started = Date.now();
    const run = withRetries(attempt, {
      maxAttempts: 5,
      signal: controller.signal,
      baseDelayMs: 60_000,
      maxDelayMs: 60_000,
      onTransient: () => setTimeout(() => controller.abort(reason), 10),
    });
    await assert.rejects(run, (err) => err === reason);
    assert.ok(Date.now() - started < 1000, `rejected after ${Date.now() - started} ms`);
    assert.equal(calls.count, 1);
  });

  test('abort during a long backoff (random delay forced high) rejects within milliseconds', async (t) => {
    t.mock.method(Math, 'random', () => 0.999);
    const controller = new AbortController();
    const { attempt, calls } = failing([s3Error('SlowDown', 503)]);
    const started = Date.now();
    const run = withRetries(attempt, { maxAttempts: 5, signal: controller.signal, baseDelayMs: 30_000, maxDelayMs: 30_000 });
    setTimeout(() => controller.abort(new CancelledError()), 20);
    await assert.rejects(run, CancelledError);
    assert.ok(Date.now() - started < 500);
    assert.equal(calls.count, 1, 'no further attempt after the abort');
  });

  test('an error thrown because of an abort is replaced by the signal\'s reason', async () => {
    const controller = new AbortController();
    const reason = new CancelledError();
    const attempt = async () => {
      controller.abort(reason);
      throw Object.assign(new Error('The operation was aborted'), { name: 'AbortError' });
    };
    await assert.rejects(withRetries(attempt, { maxAttempts: 5, signal: controller.signal }), (err) => err === reason);
  });

  test('an already aborted signal makes no attempt', async () => {
    let calls = 0;
    await assert.rejects(
      withRetries(async () => ++calls, { maxAttempts: 3, signal: AbortSignal.abort(new CancelledError()) }),
      CancelledError,
    );
    assert.equal(calls, 0);
  });

  test('waits between tries: the backoff is really slept', async (t) => {
    t.mock.method(Math, 'random', () => 0.999);
    const { attempt } = failing([s3Error('SlowDown', 503), s3Error('SlowDown', 503)]);
    const started = Date.now();
    await withRetries(attempt, { maxAttempts: 3, baseDelayMs: 20, maxDelayMs: 1000 });
    // ≈ 20 + 40 ms with random() ≈ 1.
    assert.ok(Date.now() - started >= 50, `${Date.now() - started} ms`);
  });
});

describe('backoffMs', () => {
  test('full jitter: within [0, min(cap, base × 2^(tries−1)))', () => {
    for (let tries = 1; tries <= 12; tries++) {
      const ceiling = Math.min(20_000, 200 * 2 ** (tries - 1));
      for (let i = 0; i < 200; i++) {
        const delay = backoffMs(tries, 200, 20_000);
        assert.ok(delay >= 0 && delay < ceiling, `tries ${tries}: ${delay} ≥ ${ceiling}`);
      }
    }
  });

  test('the ceiling doubles per try until the cap', (t) => {
    t.mock.method(Math, 'random', () => 1);
    assert.deepEqual([1, 2, 3, 4, 5, 6, 7, 8].map((n) => backoffMs(n, 200, 20_000)), [200, 400, 800, 1600, 3200, 6400, 12_800, 20_000]);
    assert.equal(backoffMs(50, 200, 20_000), 20_000, 'no overflow to Infinity for many tries');
  });

  test('the delay is random (jittered), not the same for every worker', () => {
    const delays = new Set(Array.from({ length: 20 }, () => backoffMs(5, 200, 20_000)));
    assert.ok(delays.size > 10);
  });
});

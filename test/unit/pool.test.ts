import assert from 'node:assert/strict';
import { setTimeout as delay } from 'node:timers/promises';
import { describe, test } from 'node:test';
import { runPool } from '../../src/core/pool';
import { isCancellation } from '../../src/core/progress';

/** Work that records how many calls run at once and finishes out of order. */
function trackedWork() {
  let inFlight = 0;
  let maxInFlight = 0;
  const started: number[] = [];
  const work = async (item: number, index: number) => {
    started.push(index);
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    await delay((index * 7) % 5); // 0–4 ms, so later items often finish first
    inFlight--;
    return item * 10;
  };
  return { work, started, max: () => maxInFlight };
}

describe('runPool', () => {
  test('never runs more than `concurrency` at once, and uses all of it', async () => {
    const { work, max } = trackedWork();
    await runPool(Array.from({ length: 40 }, (_, i) => i), 4, work);
    assert.equal(max(), 4);
  });

  test('returns results aligned with the items, whatever order they finish in', async () => {
    const { work } = trackedWork();
    const items = Array.from({ length: 25 }, (_, i) => i + 1);
    const results = await runPool(items, 3, work);
    assert.deepEqual(results, items.map((item) => ({ status: 'fulfilled', value: item * 10 })));
  });

  test('starts items in order, each once', async () => {
    const { work, started } = trackedWork();
    await runPool(Array.from({ length: 12 }, (_, i) => i), 5, work);
    assert.deepEqual(started, Array.from({ length: 12 }, (_, i) => i));
  });

  test('records failures next to successes and runs every item without stopOnError', async () => {
    const boom = new Error('item 2 failed');
    const results = await runPool([1, 2, 3, 4], 2, async (item) => {
      if (item === 2) throw boom;
      return item;
    });
    assert.deepEqual(results, [
      { status: 'fulfilled', value: 1 },
      { status: 'rejected', reason: boom },
      { status: 'fulfilled', value: 3 },
      { status: 'fulfilled', value: 4 },
    ]);
  });

  test('a synchronous throw in work is recorded like a rejection', async () => {
    const results = await runPool([1], 1, (() => {
      throw new Error('sync');
    }) as (item: number) => Promise<number>);
    assert.equal(results[0]?.status, 'rejected');
  });

  test('stopOnError: starts nothing new after a failure, lets running work finish, leaves the rest undefined', async () => {
    const started: number[] = [];
    const finished: number[] = [];
    const results = await runPool(
      Array.from({ length: 20 }, (_, i) => i),
      3,
      async (item) => {
        started.push(item);
        if (item === 1) {
          await delay(1);
          throw new Error('item 1 failed');
        }
        await delay(item === 0 || item === 2 ? 10 : 1);
        finished.push(item);
        return item;
      },
      { stopOnError: true },
    );
    // 0, 1 and 2 start together; 1 fails while 0 and 2 are still running.
    assert.deepEqual(started, [0, 1, 2]);
    assert.deepEqual(finished.sort(), [0, 2]);
    assert.equal(results[1]?.status, 'rejected');
    assert.deepEqual(results[0], { status: 'fulfilled', value: 0 });
    assert.deepEqual(results[2], { status: 'fulfilled', value: 2 });
    assert.equal(results.length, 20);
    assert.ok(results.slice(3).every((r) => r === undefined));
  });

  test('abort: starts nothing new, then rejects with the abort reason', async () => {
    const controller = new AbortController();
    const reason = new Error('cancelled by user');
    const started: number[] = [];
    const pool = runPool(
      Array.from({ length: 50 }, (_, i) => i),
      2,
      async (item) => {
        started.push(item);
        if (item === 3) controller.abort(reason);
        await delay(1);
        return item;
      },
      { signal: controller.signal },
    );
    await assert.rejects(pool, (err) => err === reason);
    // Item 3 aborts as it starts, so nothing after it starts.
    assert.deepEqual(started, [0, 1, 2, 3]);
  });

  test('a plain abort() rejects with a cancellation', async () => {
    const controller = new AbortController();
    const pool = runPool([1, 2, 3], 1, async (item) => {
      if (item === 1) controller.abort();
      return item;
    }, { signal: controller.signal });
    await assert.rejects(pool, (err) => isCancellation(err));
  });

  test('an already aborted signal starts nothing', async () => {
    let calls = 0;
    await assert.rejects(runPool([1, 2, 3], 2, async () => ++calls, { signal: AbortSignal.abort() }));
    assert.equal(calls, 0);
  });

  test('no items: no work, an empty result', async () => {
    let calls = 0;
    assert.deepEqual(await runPool([], 8, async () => ++calls), []);
    assert.equal(calls, 0);
  });

  test('concurrency above the item count or below 1 still runs every item', async () => {
    const { work, max } = trackedWork();
    assert.equal((await runPool([1, 2, 3], 100, work)).length, 3);
    assert.equal(max(), 3);
    const serial = trackedWork();
    const results = await runPool([1, 2, 3], 0, serial.work);
    assert.deepEqual(results.map((r) => r?.status), ['fulfilled', 'fulfilled', 'fulfilled']);
    assert.equal(serial.max(), 1);
  });
});

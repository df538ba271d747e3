import assert from 'node:assert/strict';
import { getEventListeners, setMaxListeners } from 'node:events';
import { describe, test } from 'node:test';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { BufferPool, ByteBudget, RequestLimiter } from '../../src/transfer/limits';

/** Lets every pending promise callback run (several macrotask turns). */
async function settle(turns = 5): Promise<void> {
  for (let i = 0; i < turns; i++) await nextTurn();
}

/** Whether a promise has settled yet, without waiting for it. */
function tracked<T>(promise: Promise<T>) {
  const state = { settled: false, value: undefined as T | undefined, error: undefined as unknown };
  promise.then(
    (value) => Object.assign(state, { settled: true, value }),
    (error: unknown) => Object.assign(state, { settled: true, error }),
  );
  return state;
}

describe('RequestLimiter', () => {
  test('never more than its size in flight under many concurrent acquirers', async () => {
    const limiter = new RequestLimiter(7);
    let active = 0;
    let maxActive = 0;
    let done = 0;
    await Promise.all(
      Array.from({ length: 300 }, async (_, i) => {
        const release = await limiter.acquire();
        active++;
        maxActive = Math.max(maxActive, active);
        assert.ok(limiter.active <= limiter.size);
        // Vary how long each holds its slot, across microtasks and macrotasks.
        if (i % 3) await nextTurn();
        else await Promise.resolve();
        active--;
        done++;
        release();
      }),
    );
    assert.equal(done, 300);
    assert.equal(maxActive, 7);
    assert.equal(limiter.active, 0);
  });

  test('first come, first served', async () => {
    const limiter = new RequestLimiter(1);
    const order: number[] = [];
    const first = await limiter.acquire();
    const waiters = [1, 2, 3].map((n) => limiter.acquire().then((release) => {
      order.push(n);
      release();
    }));
    first();
    await Promise.all(waiters);
    assert.deepEqual(order, [1, 2, 3]);
  });

  test('releasing twice frees one slot only', async () => {
    const limiter = new RequestLimiter(2);
    const a = await limiter.acquire();
    await limiter.acquire();
    a();
    a();
    assert.equal(limiter.active, 1);
    await limiter.acquire();
    const fourth = tracked(limiter.acquire());
    await settle();
    assert.equal(fourth.settled, false, 'the double release did not make room for a third holder');
  });

  test('resize up wakes waiters at once', async () => {
    const limiter = new RequestLimiter(2);
    await limiter.acquire();
    await limiter.acquire();
    const waiters = Array.from({ length: 5 }, () => tracked(limiter.acquire()));
    await settle();
    assert.equal(waiters.filter((w) => w.settled).length, 0);
    limiter.resize(5);
    await settle();
    assert.equal(waiters.filter((w) => w.settled).length, 3);
    assert.equal(limiter.active, 5);
  });

  test('resize down takes effect as slots free: no new holder until active < new size', async () => {
    const limiter = new RequestLimiter(4);
    const held = await Promise.all([0, 1, 2, 3].map(() => limiter.acquire()));
    limiter.resize(2);
    assert.equal(limiter.size, 2);
    assert.equal(limiter.active, 4, 'running requests are not interrupted');
    const waiter = tracked(limiter.acquire());
    held[0]();
    held[1]();
    await settle();
    assert.equal(limiter.active, 2);
    assert.equal(waiter.settled, false, 'two still held = the new size');
    held[2]();
    await settle();
    assert.equal(waiter.settled, true);
    assert.equal(limiter.active, 2);
  });

  test('resize clamps to at least 1 and whole numbers', () => {
    const limiter = new RequestLimiter(4);
    limiter.resize(0);
    assert.equal(limiter.size, 1);
    limiter.resize(3.9);
    assert.equal(limiter.size, 3);
  });

  test('abort while waiting rejects with the reason and does not leak a slot', async () => {
    const limiter = new RequestLimiter(1);
    const release = await limiter.acquire();
    const controller = new AbortController();
    const reason = new Error('stop');
    const waiting = limiter.acquire(controller.signal);
    const behind = tracked(limiter.acquire());
    controller.abort(reason);
    await assert.rejects(waiting, (err) => err === reason);
    release();
    await settle();
    assert.equal(behind.settled, true, 'the slot went to the next waiter, not to the aborted one');
    assert.equal(limiter.active, 1);
    (behind.value as () => void)();
    assert.equal(limiter.active, 0);
  });

  test('a waiter that was granted leaves no abort listener behind on the signal', async () => {
    const limiter = new RequestLimiter(1);
    const controller = new AbortController();
    let release = await limiter.acquire(controller.signal);
    for (let i = 0; i < 20; i++) {
      const next = limiter.acquire(controller.signal);
      release();
      release = await next;
    }
    release();
    assert.equal(getEventListeners(controller.signal, 'abort').length, 0);
  });

  test('an already aborted signal rejects without taking a slot', async () => {
    const limiter = new RequestLimiter(1);
    await assert.rejects(limiter.acquire(AbortSignal.abort(new Error('already'))), /already/);
    assert.equal(limiter.active, 0);
  });

  test('aborting after the slot was granted changes nothing', async () => {
    const limiter = new RequestLimiter(1);
    const controller = new AbortController();
    const release = await limiter.acquire(controller.signal);
    controller.abort();
    assert.equal(limiter.active, 1);
    release();
    assert.equal(limiter.active, 0);
  });
});

describe('ByteBudget', () => {
  test('bytes held never exceed capacity under many concurrent requests', async () => {
    const budget = new ByteBudget(1000);
    let held = 0;
    let maxHeld = 0;
    let seed = 7;
    const sizes = Array.from({ length: 200 }, () => ((seed = (seed * 48271) % 2147483647) % 400) + 1);
    await Promise.all(
      sizes.map(async (bytes) => {
        const release = await budget.acquire(bytes);
        held += bytes;
        maxHeld = Math.max(maxHeld, held);
        await nextTurn();
        held -= bytes;
        release();
      }),
    );
    assert.ok(maxHeld <= 1000, `max held ${maxHeld}`);
    assert.equal(budget.peak, maxHeld);
  });

  test('a request larger than the capacity passes when nothing is held, and only then', async () => {
    const budget = new ByteBudget(100);
    const small = await budget.acquire(10);
    const big = tracked(budget.acquire(500));
    await settle();
    assert.equal(big.settled, false, 'waits while anything else is held');
    small();
    await settle();
    assert.equal(big.settled, true);
    assert.equal(budget.peak, 500);
    const next = tracked(budget.acquire(1));
    await settle();
    assert.equal(next.settled, false, 'nothing else joins an oversize holder');
    (big.value as () => void)();
    await settle();
    assert.equal(next.settled, true);
  });

  test('FIFO: a big waiter is not starved by small ones arriving after it', async () => {
    const budget = new ByteBudget(100);
    const order: string[] = [];
    const first = await budget.acquire(60);
    const big = budget.acquire(80).then((release) => {
      order.push('big');
      return release;
    });
    // 30 would fit beside the 60 held, but the big one is first in line.
    const small = tracked(budget.acquire(30).then((release) => {
      order.push('small');
      return release;
    }));
    await settle();
    assert.equal(small.settled, false, 'a small request does not overtake a waiting big one');
    first();
    const releaseBig = await big;
    await settle();
    assert.equal(small.settled, false, '80 + 30 > 100');
    releaseBig();
    await settle();
    assert.deepEqual(order, ['big', 'small']);
  });

  test('peak records the most bytes held at once', async () => {
    const budget = new ByteBudget(1000);
    const a = await budget.acquire(300);
    const b = await budget.acquire(400);
    a();
    const c = await budget.acquire(200);
    b();
    c();
    assert.equal(budget.peak, 700);
  });

  test('zero bytes always pass', async () => {
    const budget = new ByteBudget(10);
    const all = await budget.acquire(10);
    // A 0-byte file must not wait behind a full budget... unless someone waits before it (FIFO).
    const zero = tracked(budget.acquire(0));
    await settle();
    assert.equal(zero.settled, true);
    all();
  });

  test('abort while waiting rejects, leaves the queue, and lets those behind go', async () => {
    const budget = new ByteBudget(100);
    const held = await budget.acquire(90);
    const controller = new AbortController();
    const reason = new Error('cancelled');
    const waiting = budget.acquire(50, controller.signal);
    const behind = tracked(budget.acquire(5));
    await settle();
    assert.equal(behind.settled, false, 'FIFO: behind the 50');
    controller.abort(reason);
    await assert.rejects(waiting, (err) => err === reason);
    // The aborted entry no longer blocks the head of the queue: the 5 behind it fits at once.
    await settle();
    assert.equal(behind.settled, true);
    held();
    assert.equal(behind.settled, true);
    (behind.value as () => void)();
    // Nothing leaked: the whole capacity is free again.
    const whole = tracked(budget.acquire(100));
    await settle();
    assert.equal(whole.settled, true);
  });

  test(
    'a waiter that was granted leaves no abort listener behind on the signal',
    async () => {
      const budget = new ByteBudget(1);
      const controller = new AbortController();
      setMaxListeners(100, controller.signal); // the warning is not what this test is about
      let release = await budget.acquire(1, controller.signal);
      for (let i = 0; i < 20; i++) {
        const next = budget.acquire(1, controller.signal);
        release();
        release = await next;
      }
      release();
      assert.equal(getEventListeners(controller.signal, 'abort').length, 0);
    },
  );

  test('an already aborted signal rejects at once', async () => {
    const budget = new ByteBudget(100);
    await assert.rejects(budget.acquire(1, AbortSignal.abort(new Error('gone'))), /gone/);
    assert.equal(budget.peak, 0);
  });
});

describe('BufferPool', () => {
  test('a buffer given back is leased again without taking more of the budget', async () => {
    const budget = new ByteBudget(100);
    const pool = new BufferPool(budget);
    const first = await pool.lease(40);
    assert.equal(first.buffer.length, 40);
    assert.equal(first.buffer.byteOffset, 0, 'its own ArrayBuffer, transferable to a reader thread');
    pool.giveBack(first, first.buffer);
    const again = await pool.lease(40);
    assert.equal(again.buffer, first.buffer);
    assert.equal(budget.peak, 40);
  });

  test('idle buffers stay counted in the budget and are dropped when a request does not fit', async () => {
    const budget = new ByteBudget(100);
    const pool = new BufferPool(budget);
    const a = await pool.lease(40);
    const b = await pool.lease(40);
    pool.giveBack(a, a.buffer);
    pool.giveBack(b, b.buffer);
    // 80 bytes idle: 30 more does not fit until they are given up, which happens at once.
    const other = tracked(budget.acquire(30));
    await settle();
    assert.equal(other.settled, true);
    assert.ok(budget.peak <= 100);
    const fresh = await pool.lease(40);
    assert.notEqual(fresh.buffer, a.buffer, 'the idle ones were dropped');
  });

  test('a buffer that never came back from a reader thread frees its bytes', async () => {
    const budget = new ByteBudget(50);
    const pool = new BufferPool(budget);
    const lease = await pool.lease(50);
    pool.giveBack(lease, undefined);
    const next = tracked(budget.acquire(50));
    await settle();
    assert.equal(next.settled, true);
  });

  test('while someone waits for the budget, buffers given back free their bytes instead of idling', async () => {
    const budget = new ByteBudget(50);
    const pool = new BufferPool(budget);
    const lease = await pool.lease(50);
    const waiter = tracked(budget.acquire(10));
    await settle();
    assert.equal(waiter.settled, false);
    pool.giveBack(lease, lease.buffer);
    await settle();
    assert.equal(waiter.settled, true);
  });
});

describe('ByteBudget after an abort', () => {
  test('a big waiter that gives up lets a smaller one behind it go at once', async () => {
    const budget = new ByteBudget(10);
    await budget.acquire(6);
    const controller = new AbortController();
    const big = budget.acquire(8, controller.signal);
    const small = tracked(budget.acquire(3));
    await settle();
    assert.equal(small.settled, false, 'FIFO: behind the 8');
    controller.abort(new Error('gave up'));
    await assert.rejects(big, /gave up/);
    await settle();
    assert.equal(small.settled, true);
  });
});

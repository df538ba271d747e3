import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ConcurrencyController } from '../../src/transfer/concurrency';

const MB = 1e6;
const PART = 8 * 1024 * 1024;
const WINDOW = 1000;

/** Goodput with a knee: 10 MB/s per stream up to 30 streams, then 3 % less per extra stream. */
function kneeAt30(c: number): number {
  return c <= 30 ? c * 10 * MB : 300 * MB * 0.97 ** (c - 30);
}

/**
 * Drives a controller on an injected clock: each window, the completions that `goodput` bytes per
 * second at the current concurrency would give (8 MiB requests, latency by Little's law unless
 * `latency` says otherwise), then one tick at the window's end. Returns the concurrency after
 * each window.
 */
function simulate(
  controller: ConcurrencyController,
  clock: { now: number },
  windows: number,
  goodput: (c: number, window: number) => number,
  options: { latency?: (c: number, window: number) => number; throttleAt?: ReadonlySet<number> } = {},
): number[] {
  const history: number[] = [];
  for (let w = 0; w < windows; w++) {
    const c = controller.concurrency;
    const bytes = goodput(c, w) * (WINDOW / 1000);
    const requests = Math.max(1, Math.round(bytes / PART));
    const latency = options.latency?.(c, w) ?? (c * (bytes / requests) / goodput(c, w)) * 1000;
    for (let i = 0; i < requests; i++) controller.recordSuccess(bytes / requests, latency);
    if (options.throttleAt?.has(w)) controller.recordThrottle();
    clock.now += WINDOW;
    // Ticks before the window ends change nothing.
    assert.equal(controller.tick(clock.now - 1), c);
    history.push(controller.tick(clock.now));
  }
  return history;
}

function controllerAt(initial: number, options: { min?: number; max?: number; pinned?: number } = {}) {
  const clock = { now: 1_000_000 };
  const controller = new ConcurrencyController({ initial, max: options.max ?? 64, min: options.min, pinned: options.pinned, windowMs: WINDOW }, clock.now);
  return { controller, clock };
}

describe('ConcurrencyController', () => {
  test('from 8 it climbs to the knee of a 30-stream curve, settles near it, and never runs to max', () => {
    const { controller, clock } = controllerAt(8, { max: 64 });
    const history = simulate(controller, clock, 60, kneeAt30);
    assert.ok(history.slice(0, 5).every((c, i) => c > (history[i - 1] ?? 8)), `climbs at first: ${history.join(' ')}`);
    const settled = history.slice(-20);
    for (const c of settled) assert.ok(c >= 20 && c <= 40, `settled near the knee: ${history.join(' ')}`);
    assert.ok(Math.max(...history) < 64, 'never ran to max');
    // Once settled it holds (no endless oscillation).
    assert.equal(new Set(settled).size, 1, history.join(' '));
  });

  test(
    'from high above the knee it comes down to it',
    () => {
      const { controller, clock } = controllerAt(60, { max: 64 });
      const history = simulate(controller, clock, 60, kneeAt30);
      for (const c of history.slice(-10)) assert.ok(c >= 20 && c <= 40, history.join(' '));
    },
  );

  test(
    'climbing past a knee just below max, it comes back from max',
    () => {
      const kneeAt58 = (c: number) => (c <= 58 ? c * 10 * MB : 580 * MB * 0.97 ** (c - 58));
      const { controller, clock } = controllerAt(16, { max: 64 });
      const history = simulate(controller, clock, 40, kneeAt58);
      assert.ok(history.slice(-10).every((c) => c < 64), history.join(' '));
    },
  );

  test('with goodput still rising at max, it reaches max and stays within it', () => {
    const { controller, clock } = controllerAt(8, { max: 24 });
    const history = simulate(controller, clock, 30, (c) => c * 10 * MB);
    assert.ok(history.includes(24), history.join(' '));
    assert.ok(history.every((c) => c <= 24), history.join(' '));
  });

  test('a throttle cuts by about 30 % and then holds for the cooldown windows', () => {
    const { controller, clock } = controllerAt(40, { max: 64 });
    // A linear curve: without the cooldown every window would step up.
    const [afterCut] = simulate(controller, clock, 1, (c) => c * 10 * MB, { throttleAt: new Set([0]) });
    assert.equal(afterCut, 28, 'floor(40 × 0.7)');
    // Goodput that would make it climb (it grows every window) is ignored for two windows.
    const cooling = simulate(controller, clock, 2, (c, w) => c * 10 * MB * (1 + w));
    assert.deepEqual(cooling, [28, 28]);
    const [resumed] = simulate(controller, clock, 1, (c) => c * 40 * MB);
    assert.ok(resumed > 28, `climbs again after the cooldown: ${resumed}`);
  });

  test(
    'after a throttle cut and its cooldown, with conditions back to normal, it climbs back towards the knee',
    () => {
      const { controller, clock } = controllerAt(8, { max: 64 });
      simulate(controller, clock, 20, kneeAt30);
      const before = controller.concurrency;
      const [cut] = simulate(controller, clock, 1, kneeAt30, { throttleAt: new Set([0]) });
      assert.ok(cut < before);
      const after = simulate(controller, clock, 30, kneeAt30);
      assert.ok(after.at(-1)! > cut, `recovered from ${cut}: ${after.join(' ')}`);
    },
  );

  test('a throttle in a window is forgotten after that window', () => {
    const { controller, clock } = controllerAt(40);
    simulate(controller, clock, 1, kneeAt30, { throttleAt: new Set([0]) });
    const history = simulate(controller, clock, 3, () => 280 * MB);
    // After the cooldown it may climb again, but it must not cut a second time.
    assert.ok(history[2] >= history[1], `no second cut without a second throttle: ${history.join(' ')}`);
  });

  test('repeated throttling drives it down to min and no lower', () => {
    const { controller, clock } = controllerAt(20, { min: 3 });
    const history = simulate(controller, clock, 12, kneeAt30, { throttleAt: new Set([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]) });
    assert.deepEqual(history.slice(0, 5), [14, 9, 6, 4, 3]);
    assert.ok(history.every((c) => c >= 3));
    assert.equal(history.at(-1), 3);
  });

  test('latency ballooning while goodput stays flat cuts', () => {
    // Same flat goodput in both runs; only the latency differs.
    const flat = () => 200 * MB;
    const calm = controllerAt(20);
    const calmHistory = simulate(calm.controller, calm.clock, 3, flat, { latency: () => 100 });
    assert.deepEqual(calmHistory, [25, 25, 25], 'first window steps, then flat goodput holds');

    const slow = controllerAt(20);
    const slowHistory = simulate(slow.controller, slow.clock, 3, flat, { latency: (_c, w) => (w === 0 ? 100 : 500) });
    assert.equal(slowHistory[0], 25);
    assert.equal(slowHistory[1], 17, 'floor(25 × 0.7): 5× the first window\'s latency at flat goodput');
  });

  test('latency that rises while goodput rises too is not a reason to cut', () => {
    const { controller, clock } = controllerAt(8);
    const history = simulate(controller, clock, 4, (c) => c * 10 * MB, { latency: (_c, w) => 100 * 5 ** w });
    assert.ok(history.every((c, i) => c > (history[i - 1] ?? 8)), history.join(' '));
  });

  test('pinned never changes, whatever happens', () => {
    const { controller, clock } = controllerAt(8, { pinned: 12 });
    assert.equal(controller.concurrency, 12);
    const history = simulate(controller, clock, 20, (c, w) => (w % 2 ? c * 50 * MB : 1), {
      throttleAt: new Set([1, 5, 9]),
      latency: (_c, w) => 10 ** (w % 4),
    });
    assert.ok(history.every((c) => c === 12), history.join(' '));
  });

  test('pinned and initial are clamped to [min, max]', () => {
    assert.equal(controllerAt(8, { pinned: 500, max: 64 }).controller.concurrency, 64);
    assert.equal(controllerAt(8, { pinned: 0, min: 2 }).controller.concurrency, 2);
    assert.equal(controllerAt(100, { max: 32 }).controller.concurrency, 32);
    assert.equal(controllerAt(0).controller.concurrency, 1);
  });

  test('never below min or above max under erratic goodput, latency and throttling', () => {
    let seed = 42;
    const random = () => ((seed = (seed * 16807) % 2147483647) / 2147483647);
    const { controller, clock } = controllerAt(10, { min: 4, max: 40 });
    const throttles = new Set(Array.from({ length: 200 }, (_, i) => i).filter(() => random() < 0.1));
    const history = simulate(controller, clock, 200, () => random() * 500 * MB + 1, { throttleAt: throttles, latency: () => random() * 2000 });
    assert.ok(history.every((c) => c >= 4 && c <= 40 && Number.isInteger(c)), history.join(' '));
    assert.ok(new Set(history).size > 3, 'it did move');
  });

  test('no completions at all in a window count as zero goodput, not NaN', () => {
    const { controller, clock } = controllerAt(16);
    clock.now += WINDOW;
    const c = controller.tick(clock.now);
    assert.ok(Number.isInteger(c) && c >= 1, String(c));
  });
});

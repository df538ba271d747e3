import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import { describe, test } from 'node:test';
import { AbortWatch } from '../../src/core/abortWatch';
import { RequestLimiter } from '../../src/transfer/limits';

describe('AbortWatch', () => {
  test('many entries on one signal hold one listener, which goes with the last entry', () => {
    const aborted: number[] = [];
    const watch = new AbortWatch<number>((entry) => aborted.push(entry));
    const controller = new AbortController();
    for (let i = 0; i < 100; i++) watch.add(controller.signal, i);
    assert.equal(getEventListeners(controller.signal, 'abort').length, 1);
    for (let i = 0; i < 100; i++) watch.delete(controller.signal, i);
    assert.equal(getEventListeners(controller.signal, 'abort').length, 0);
    controller.abort();
    assert.deepEqual(aborted, []);
  });

  test('abort reaches every entry still watched, with the reason, once', () => {
    const seen: Array<[string, unknown]> = [];
    const watch = new AbortWatch<string>((entry, reason) => seen.push([entry, reason]));
    const controller = new AbortController();
    const other = new AbortController();
    watch.add(controller.signal, 'a');
    watch.add(controller.signal, 'b');
    watch.add(other.signal, 'c');
    watch.delete(controller.signal, 'a');
    const reason = new Error('stop');
    controller.abort(reason);
    controller.signal.dispatchEvent(new Event('abort'));
    assert.deepEqual(seen, [['b', reason]]);
  });

  test('an entry added to a signal already aborted is told at once', () => {
    const seen: string[] = [];
    const watch = new AbortWatch<string>((entry) => seen.push(entry));
    watch.add(AbortSignal.abort(), 'late');
    assert.deepEqual(seen, ['late']);
  });

  test('a hundred waiters in a RequestLimiter add one listener to the job signal', async () => {
    const limiter = new RequestLimiter(1);
    const controller = new AbortController();
    const held = await limiter.acquire(controller.signal);
    const waiters = Array.from({ length: 100 }, () => limiter.acquire(controller.signal));
    assert.equal(getEventListeners(controller.signal, 'abort').length, 1);
    controller.abort(new Error('cancelled'));
    const outcomes = await Promise.allSettled(waiters);
    assert.ok(outcomes.every((o) => o.status === 'rejected'));
    held();
    assert.equal(limiter.active, 0);
  });
});

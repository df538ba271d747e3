import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CancelledError, ignoreProgress, isCancellation, throwIfAborted } from '../../src/core/progress';
import { fractionDone } from '../../src/core/rate';

describe('throwIfAborted', () => {
  test('does nothing without a signal or before abort', () => {
    throwIfAborted(undefined);
    throwIfAborted(new AbortController().signal);
  });

  test('throws the abort reason when it is an error', () => {
    const reason = new Error('user pressed cancel');
    assert.throws(() => throwIfAborted(AbortSignal.abort(reason)), (err) => err === reason);
  });

  test('throws the AbortError of a plain abort()', () => {
    const controller = new AbortController();
    controller.abort();
    assert.throws(() => throwIfAborted(controller.signal), (err) => isCancellation(err) && (err as Error).name === 'AbortError');
  });

  test('throws a CancelledError when the reason is not an error', () => {
    assert.throws(() => throwIfAborted(AbortSignal.abort('stop')), (err) => err instanceof CancelledError && (err as Error).message === 'Cancelled.');
  });
});

describe('isCancellation', () => {
  test('is true for CancelledError and errors named AbortError', () => {
    assert.equal(isCancellation(new CancelledError()), true);
    assert.equal(isCancellation(Object.assign(new Error('Request aborted'), { name: 'AbortError' })), true);
    assert.equal(isCancellation(new DOMException('This operation was aborted', 'AbortError')), true);
  });

  test('is false for other errors and for non-errors that look like one', () => {
    assert.equal(isCancellation(new Error('AbortError')), false);
    assert.equal(isCancellation({ name: 'AbortError' }), false);
    assert.equal(isCancellation(undefined), false);
  });
});

describe('ignoreProgress', () => {
  test('accepts a report and returns nothing', () => {
    assert.equal(ignoreProgress({ bytesDone: 1, itemsDone: 1 }), undefined);
  });
});

describe('fractionDone', () => {
  test('comes from bytes when their total is known', () => {
    assert.equal(fractionDone({ bytesDone: 250, bytesTotal: 1000, itemsDone: 9, itemsTotal: 10 }), 0.25);
  });

  test('comes from items when bytes have no (or a zero) total', () => {
    assert.equal(fractionDone({ bytesDone: 0, itemsDone: 3, itemsTotal: 4 }), 0.75);
    assert.equal(fractionDone({ bytesDone: 0, bytesTotal: 0, itemsDone: 1, itemsTotal: 4 }), 0.25);
  });

  test('never passes 1, and is undefined with no total at all', () => {
    assert.equal(fractionDone({ bytesDone: 1200, bytesTotal: 1000, itemsDone: 0 }), 1);
    assert.equal(fractionDone({ bytesDone: 0, itemsDone: 5, itemsTotal: 4 }), 1);
    assert.equal(fractionDone({ bytesDone: 10, itemsDone: 1 }), undefined);
  });
});

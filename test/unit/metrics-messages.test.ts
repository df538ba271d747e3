import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseFromWebview } from '../../src/metrics/messages';

describe('parseFromWebview', () => {
  test('accepts the messages the page sends', () => {
    assert.deepEqual(parseFromWebview({ type: 'ready' }), { type: 'ready' });
    assert.deepEqual(parseFromWebview({ type: 'setRange', range: { kind: 'preset', preset: '7d' } }), { type: 'setRange', range: { kind: 'preset', preset: '7d' } });
    assert.deepEqual(parseFromWebview({ type: 'setRange', range: { kind: 'custom', start: 1, end: 2 } }), { type: 'setRange', range: { kind: 'custom', start: 1, end: 2 } });
    assert.deepEqual(parseFromWebview({ type: 'rendered', ms: 12.5, points: 100, extra: 'dropped' }), { type: 'rendered', ms: 12.5, points: 100 });
  });

  test('drops anything else', () => {
    for (const bad of [null, 'ready', { type: 'run' }, { type: 'setRange', range: { kind: 'preset', preset: '2h' } }, { type: 'setRange', range: { kind: 'custom', start: 5, end: 1 } }, { type: 'rendered', ms: '1' }]) {
      assert.equal(parseFromWebview(bad), undefined, JSON.stringify(bad));
    }
  });
});

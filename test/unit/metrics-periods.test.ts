import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { MAX_POINTS_PER_SERIES, PRESET_SECONDS, resolveRange, type PresetRange } from '../../src/metrics/periods';

const NOW = Date.UTC(2026, 10, 26, 14, 7, 30);
const DAY = 86400;

describe('resolveRange', () => {
  test('presets get the finest period that stays within the points per line', () => {
    const periods = Object.fromEntries((Object.keys(PRESET_SECONDS) as PresetRange[]).map((p) => [p, resolveRange({ kind: 'preset', preset: p }, NOW).period]));
    assert.deepEqual(periods, { '1h': 60, '3h': 60, '12h': 60, '1d': 60, '7d': 900 });
  });

  test('every preset and long custom ranges keep each line within the limit', () => {
    for (const days of [1, 7, 30, 90, 365]) {
      const { start, end, period } = resolveRange({ kind: 'custom', start: NOW - days * DAY * 1000, end: NOW }, NOW);
      assert.ok((end - start) / period <= MAX_POINTS_PER_SERIES + 1, `${days} d: ${(end - start) / period} points`);
      assert.equal(period % 60, 0, 'standard-resolution periods are multiples of 60 s');
    }
  });

  test('start and end are aligned to the period, covering the asked range', () => {
    const { start, end, period } = resolveRange({ kind: 'preset', preset: '1h' }, NOW);
    assert.equal(start % period, 0);
    assert.equal(end % period, 0);
    assert.ok(start * 1000 <= NOW - 3600_000 && end * 1000 >= NOW);
  });

  test('data older than 15 days needs 5-minute periods, older than 63 days hourly ones', () => {
    const window = (ageDays: number) => ({ kind: 'custom' as const, start: NOW - ageDays * DAY * 1000, end: NOW - (ageDays * DAY - 3600) * 1000 });
    assert.equal(resolveRange(window(10), NOW).period, 60);
    assert.equal(resolveRange(window(20), NOW).period, 300);
    assert.equal(resolveRange(window(70), NOW).period, 3600);
  });

  test('daily metrics over a short range get a daily period and a widened span', () => {
    const { start, end, period } = resolveRange({ kind: 'preset', preset: '1h' }, NOW, { minPeriod: DAY, minSpan: 14 * DAY });
    assert.equal(period, DAY);
    assert.ok((end - start) / DAY >= 14);
  });

  test('a custom range that ends before it starts is refused', () => {
    assert.throws(() => resolveRange({ kind: 'custom', start: NOW, end: NOW - 1 }, NOW), RangeError);
  });
});

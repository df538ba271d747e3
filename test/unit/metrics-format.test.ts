import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { formatTick, formatValue } from '../../src/metrics/format';

describe('formatValue', () => {
  test('percent, bytes, rates, counts and dollars', () => {
    assert.equal(formatValue(42.5, 'percent'), '42.5%');
    assert.equal(formatValue(7.25, 'percent'), '7.25%');
    assert.equal(formatValue(1_234_567_890, 'bytes'), '1.23 GB');
    assert.equal(formatValue(100_000, 'bytesPerSecond'), '100 KB/s');
    assert.equal(formatValue(12_345, 'count'), '12,345');
    assert.equal(formatValue(1234.5, 'dollars'), '$1,234.50');
    assert.equal(formatValue(0.123456, 'none'), '0.123');
  });

  test('missing datapoints show a dash', () => {
    assert.equal(formatValue(null, 'percent'), '–');
    assert.equal(formatValue(undefined, 'bytes'), '–');
    assert.equal(formatValue(Number.NaN, 'count'), '–');
  });

  test('negative results of Metric Math keep their sign', () => {
    assert.equal(formatValue(-2000, 'bytes'), '-2.00 KB');
    assert.equal(formatValue(-3.5, 'dollars'), '-$3.50');
  });
});

describe('formatTick', () => {
  test('large counts and dollars are abbreviated on axes', () => {
    assert.equal(formatTick(12_300, 'count'), '12.3k');
    assert.equal(formatTick(4_000_000, 'none'), '4M');
    assert.equal(formatTick(2500, 'dollars'), '$2.5k');
    assert.equal(formatTick(50, 'percent'), '50%');
  });
});

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { RateMeter } from '../../src/core/rate';

/** A clock the test moves by hand. */
function fakeClock(start = 1_000_000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => void (now += ms) };
}

describe('RateMeter.record', () => {
  test('says nothing until half a second has passed since the first sample', () => {
    const clock = fakeClock();
    const meter = new RateMeter(5000, clock.now);
    assert.equal(meter.record(0), undefined);
    clock.advance(499);
    assert.equal(meter.record(1_000_000), undefined);
    clock.advance(1);
    assert.equal(meter.record(1_000_000), 2_000_000);
  });

  test('averages over the whole window', () => {
    const clock = fakeClock();
    const meter = new RateMeter(5000, clock.now);
    meter.record(0);
    for (let s = 1; s <= 4; s++) {
      clock.advance(1000);
      meter.record(s * 1_000_000);
    }
    clock.advance(1000);
    assert.equal(meter.record(5_000_000), 1_000_000);
  });

  test('forgets samples older than the window, so a change in speed shows within it', () => {
    const clock = fakeClock();
    const meter = new RateMeter(5000, clock.now);
    let bytes = 0;
    // 5 s at 1 MB/s, then 5 s at 3 MB/s.
    for (let s = 0; s <= 5; s++) {
      meter.record(bytes);
      clock.advance(1000);
      bytes += 1_000_000;
    }
    bytes -= 1_000_000;
    let rate: number | undefined;
    for (let s = 0; s < 5; s++) {
      bytes += 3_000_000;
      rate = meter.record(bytes);
      clock.advance(1000);
    }
    // The window now spans only the fast part: (20 MB - 5 MB) / 5 s.
    assert.equal(rate, 3_000_000);
  });

  test('keeps the last two samples even after a long pause', () => {
    const clock = fakeClock();
    const meter = new RateMeter(1000, clock.now);
    meter.record(0);
    clock.advance(60_000);
    assert.equal(meter.record(6_000_000), 100_000);
  });
});

describe('RateMeter.describe', () => {
  test('bytes, files, rate and time left', () => {
    const clock = fakeClock();
    const meter = new RateMeter(5000, clock.now);
    assert.equal(meter.describe({ bytesDone: 0, bytesTotal: 10_000_000, itemsDone: 0, itemsTotal: 10 }), '0 B of 10.0 MB · 0 of 10 files');
    clock.advance(5000);
    assert.equal(
      meter.describe({ bytesDone: 5_000_000, bytesTotal: 10_000_000, itemsDone: 3, itemsTotal: 10 }),
      '5.00 MB of 10.0 MB · 3 of 10 files · 1.00 MB/s · 5 s left',
    );
  });

  test('a long time left is in minutes and hours', () => {
    const clock = fakeClock();
    const meter = new RateMeter(5000, clock.now);
    meter.describe({ bytesDone: 0, bytesTotal: 1e12, itemsDone: 0 });
    clock.advance(1000);
    assert.equal(meter.describe({ bytesDone: 50_000_000, bytesTotal: 1e12, itemsDone: 0 }), '50.0 MB of 1.00 TB · 50.0 MB/s · 5 h 33 min left');
  });

  test('without totals: only bytes done and rate; a single file is not counted', () => {
    const clock = fakeClock();
    const meter = new RateMeter(5000, clock.now);
    meter.describe({ bytesDone: 0, itemsDone: 0, itemsTotal: 1 });
    clock.advance(2000);
    assert.equal(meter.describe({ bytesDone: 4000, itemsDone: 0, itemsTotal: 1 }), '4.00 KB · 2.00 KB/s');
  });

  test('no rate while nothing moves, and no time left once done', () => {
    const clock = fakeClock();
    const meter = new RateMeter(5000, clock.now);
    meter.describe({ bytesDone: 100, bytesTotal: 200, itemsDone: 0 });
    clock.advance(1000);
    assert.equal(meter.describe({ bytesDone: 100, bytesTotal: 200, itemsDone: 0 }), '100 B of 200 B');
    clock.advance(1000);
    assert.equal(meter.describe({ bytesDone: 200, bytesTotal: 200, itemsDone: 0 }), '200 B of 200 B · 50 B/s');
  });

  test('uses the real clock when none is given', () => {
    const meter = new RateMeter();
    assert.equal(meter.record(0), undefined);
  });
});

// Sequencing, acknowledgement, retransmission timing, pacing and the send queue of the data
// channel, with an injected clock (shared/ssm-protocol.md §7).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Pacer } from '../../src/ssm/pacer';
import { ReorderBuffer } from '../../src/ssm/reorderBuffer';
import { RttEstimator } from '../../src/ssm/rtt';
import { MAX_PAYLOAD_BYTES, SendQueue } from '../../src/ssm/sendQueue';
import { SendWindow } from '../../src/ssm/sendWindow';

function fakeClock(start = 1_000_000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => void (now += ms) };
}

describe('ReorderBuffer', () => {
  test('delivers in order at once', () => {
    const buffer = new ReorderBuffer<string>();
    assert.deepEqual(buffer.accept(0, 'a'), { acknowledge: true, deliverable: ['a'] });
    assert.deepEqual(buffer.accept(1, 'b'), { acknowledge: true, deliverable: ['b'] });
    assert.equal(buffer.expected, 2);
  });

  test('holds messages after a gap, acknowledged, until the gap is filled', () => {
    const buffer = new ReorderBuffer<string>();
    assert.deepEqual(buffer.accept(2, 'c'), { acknowledge: true, deliverable: [] });
    assert.deepEqual(buffer.accept(1, 'b'), { acknowledge: true, deliverable: [] });
    assert.equal(buffer.buffered, 2);
    assert.deepEqual(buffer.accept(0, 'a'), { acknowledge: true, deliverable: ['a', 'b', 'c'] });
    assert.equal(buffer.buffered, 0);
    assert.equal(buffer.expected, 3);
  });

  test('re-acknowledges duplicates, old or early, and never delivers them twice', () => {
    const buffer = new ReorderBuffer<string>();
    buffer.accept(0, 'a');
    buffer.accept(2, 'c');
    assert.deepEqual(buffer.accept(0, 'a'), { acknowledge: true, deliverable: [] });
    assert.deepEqual(buffer.accept(2, 'c'), { acknowledge: true, deliverable: [] });
    assert.deepEqual(buffer.accept(1, 'b'), { acknowledge: true, deliverable: ['b', 'c'] });
    assert.deepEqual(buffer.accept(2, 'c'), { acknowledge: true, deliverable: [] });
  });

  test('when full, does not acknowledge an early message so the agent resends it', () => {
    const buffer = new ReorderBuffer<string>(2);
    buffer.accept(5, 'f');
    buffer.accept(6, 'g');
    assert.deepEqual(buffer.accept(7, 'h'), { acknowledge: false, deliverable: [] });
    assert.deepEqual(buffer.accept(0, 'a'), { acknowledge: true, deliverable: ['a'] });
  });

  test('shuffled input with duplicates comes out exactly in order', () => {
    const buffer = new ReorderBuffer<number>();
    const arrivals = [3, 0, 0, 5, 1, 2, 2, 4, 9, 6, 8, 7, 7, 3];
    const out = arrivals.flatMap((seq) => buffer.accept(seq, seq).deliverable);
    assert.deepEqual(out, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });
});

describe('RttEstimator', () => {
  test('starts at the protocol constants: RTO 200 ms, SRTT 100 ms', () => {
    const rtt = new RttEstimator();
    assert.equal(rtt.timeoutMs, 200);
    assert.equal(rtt.smoothedRttMs, 100);
  });

  test('follows RFC 6298 with α 1/8, β 1/4, granularity 10 ms', () => {
    const rtt = new RttEstimator();
    rtt.sample(20); // rttvar = 0.25·80 = 20; srtt = 90; rto = 90 + 80
    assert.equal(rtt.smoothedRttMs, 90);
    assert.equal(rtt.timeoutMs, 170);
    for (let i = 0; i < 100; i++) rtt.sample(20);
    assert.ok(Math.abs(rtt.smoothedRttMs - 20) < 0.01);
    assert.equal(rtt.timeoutMs, rtt.smoothedRttMs + 10, 'a steady RTT leaves the granularity as the margin');
  });

  test('never waits more than one second', () => {
    const rtt = new RttEstimator();
    for (let i = 0; i < 10; i++) rtt.sample(5000);
    assert.equal(rtt.timeoutMs, 1000);
  });
});

describe('SendWindow', () => {
  const bytes = (seq: number) => Buffer.from([seq]);

  test('numbers messages from 0 without gaps, whatever they carry', () => {
    const window = new SendWindow();
    assert.deepEqual([0, 1, 2].map(() => window.add(bytes).sequenceNumber), [0, 1, 2]);
    window.acknowledge(1, 0);
    assert.equal(window.add(bytes).sequenceNumber, 3);
  });

  test('retransmits a message once its measured timeout has run out', () => {
    const clock = fakeClock();
    const window = new SendWindow();
    // Teach the estimator a 20 ms round trip.
    for (let i = 0; i < 50; i++) {
      const m = window.add(bytes);
      window.markSent(m, clock.now());
      clock.advance(20);
      window.acknowledge(m.sequenceNumber, clock.now());
    }
    const timeout = window.rtt.timeoutMs;
    assert.ok(timeout > 20 && timeout < 40, `timeout ${timeout}`);
    const m = window.add(bytes);
    window.markSent(m, clock.now());
    clock.advance(Math.ceil(timeout) - 1);
    assert.deepEqual([...window.due(clock.now())], []);
    clock.advance(1);
    assert.deepEqual([...window.due(clock.now())].map((d) => d.sequenceNumber), [m.sequenceNumber]);
    window.markSent(m, clock.now());
    assert.deepEqual([...window.due(clock.now())], [], 'a resent message waits a full timeout again');
  });

  test('takes no RTT sample from a retransmitted message (Karn)', () => {
    const clock = fakeClock();
    const window = new SendWindow();
    const m = window.add(bytes);
    window.markSent(m, clock.now());
    clock.advance(300);
    window.markSent(m, clock.now());
    clock.advance(5);
    const before = window.rtt.smoothedRttMs;
    assert.equal(window.acknowledge(m.sequenceNumber, clock.now()), true);
    assert.equal(window.rtt.smoothedRttMs, before);
    assert.equal(window.acknowledge(m.sequenceNumber, clock.now()), false, 'a duplicate ack is ignored');
  });

  test('after a reconnect every unacknowledged message is due, oldest first', () => {
    const clock = fakeClock();
    const window = new SendWindow();
    const sent = [0, 1, 2, 3].map(() => window.add(bytes));
    for (const m of sent) window.markSent(m, clock.now());
    window.acknowledge(1, clock.now());
    window.resendAll();
    assert.deepEqual([...window.due(clock.now())].map((m) => m.sequenceNumber), [0, 2, 3]);
    assert.equal(window.oldestFirstSentAt(), clock.now());
  });
});

describe('Pacer', () => {
  test('allows a burst, then one message per interval', () => {
    const clock = fakeClock();
    const pacer = new Pacer(1000, 3, clock.now);
    assert.deepEqual([pacer.tryTake(), pacer.tryTake(), pacer.tryTake(), pacer.tryTake()], [true, true, true, false]);
    assert.equal(pacer.waitMs(), 1);
    clock.advance(1);
    assert.equal(pacer.tryTake(), true);
    clock.advance(10_000);
    assert.equal([1, 2, 3, 4].filter(() => pacer.tryTake()).length, 3, 'idle time does not grow the burst');
  });
});

describe('SendQueue', () => {
  test('cuts output into payloads of at most 1,024 bytes and coalesces small writes', async () => {
    const queue = new SendQueue();
    const writes = [queue.push(1, Buffer.alloc(3000, 'a')), queue.push(1, Buffer.from('bc')), queue.push(1, Buffer.from('d'))];
    const sizes: number[] = [];
    for (let next = queue.shift(); next; next = queue.shift()) sizes.push(next.payload.length);
    assert.deepEqual(sizes, [1024, 1024, 955]);
    assert.equal(MAX_PAYLOAD_BYTES, 1024);
    await Promise.all(writes);
  });

  test('keeps control payloads whole and in order between data', () => {
    const queue = new SendQueue();
    void queue.push(1, Buffer.from('ab'));
    void queue.push(3, Buffer.from('{"cols":80,"rows":24}'));
    void queue.push(1, Buffer.from('cd'));
    const out: string[] = [];
    for (let next = queue.shift(); next; next = queue.shift()) out.push(`${next.payloadType}:${next.payload}`);
    assert.deepEqual(out, ['1:ab', '3:{"cols":80,"rows":24}', '1:cd']);
  });

  test('resolves a write only when its last byte has left the queue', async () => {
    const queue = new SendQueue();
    let done = false;
    void queue.push(1, Buffer.alloc(1500)).then(() => (done = true));
    queue.shift();
    await Promise.resolve();
    assert.equal(done, false);
    queue.shift();
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(done, true);
  });

  test('copies what it is given, and fails pending and later writes once the channel ends', async () => {
    const queue = new SendQueue();
    const data = Buffer.from('abc');
    const pending = queue.push(1, data);
    data.write('xyz');
    const err = new Error('ended');
    assert.equal(queue.shift()?.payload.toString(), 'abc');
    await pending;
    const late = queue.push(1, Buffer.from('q'));
    queue.fail(err);
    await assert.rejects(late, /ended/);
    await assert.rejects(queue.push(1, Buffer.from('r')), /ended/);
  });
});

// smux v1 framing against the byte examples of shared/ssm-protocol.md §9.5 (captured from the
// vendored Go client), and the client session: stream ids, FIN handling, frame interleaving,
// backpressure both ways, keepalive.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { describe, test } from 'node:test';
import { encodeFrame, FrameParser, SmuxCommand, SmuxProtocolError, SmuxSession, type SmuxFrame, type SmuxOptions } from '../../src/ssm/smux';

const hex = (text: string) => Buffer.from(text.replace(/\s+/g, ''), 'hex');

// §9.5, the first three captured from the vendored smux client.
const SYN_3 = hex('01 00 00 00 03 00 00 00');
const PSH_3_HELLO = hex('01 02 05 00 03 00 00 00 68 65 6c 6c 6f');
const FIN_3 = hex('01 01 00 00 03 00 00 00');
const SYN_5 = hex('01 00 00 00 05 00 00 00');
const NOP = hex('01 03 00 00 00 00 00 00');
const UPD_3 = hex('02 04 08 00 03 00 00 00 00 80 00 00 00 00 01 00');

/** A transport that records what the session wrote; `hold` keeps writes pending until released. */
class FakeTransport {
  readonly writes: Buffer[] = [];
  private held: (() => void)[] = [];
  hold = false;

  write = (bytes: Buffer): Promise<void> => {
    this.writes.push(bytes);
    if (!this.hold) return Promise.resolve();
    return new Promise((resolve) => this.held.push(resolve));
  };

  get bytes(): Buffer {
    return Buffer.concat(this.writes);
  }

  frames(): SmuxFrame[] {
    return new FrameParser().push(this.bytes);
  }

  release(): void {
    this.hold = false;
    for (const resolve of this.held.splice(0)) resolve();
  }
}

function session(options: SmuxOptions = {}): { mux: SmuxSession; transport: FakeTransport } {
  const transport = new FakeTransport();
  return { mux: new SmuxSession(transport, options), transport };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('smux v1 frames: worked examples', () => {
  test('encodes SYN, PSH, FIN and NOP byte for byte', () => {
    assert.deepEqual(encodeFrame(SmuxCommand.Syn, 3), SYN_3);
    assert.deepEqual(encodeFrame(SmuxCommand.Psh, 3, Buffer.from('hello')), PSH_3_HELLO);
    assert.deepEqual(encodeFrame(SmuxCommand.Fin, 3), FIN_3);
    assert.deepEqual(encodeFrame(SmuxCommand.Syn, 5), SYN_5);
    assert.deepEqual(encodeFrame(SmuxCommand.Nop, 0), NOP);
  });

  test('length and stream id are little-endian', () => {
    const frame = encodeFrame(SmuxCommand.Psh, 0x01020304, Buffer.alloc(0x0102));
    assert.deepEqual(frame.subarray(0, 8), hex('01 02 02 01 04 03 02 01'));
  });

  test('parses the examples cut at every byte boundary', () => {
    const stream = Buffer.concat([SYN_3, PSH_3_HELLO, NOP, FIN_3, SYN_5]);
    const expected = [
      { cmd: SmuxCommand.Syn, streamId: 3, data: Buffer.alloc(0) },
      { cmd: SmuxCommand.Psh, streamId: 3, data: Buffer.from('hello') },
      { cmd: SmuxCommand.Nop, streamId: 0, data: Buffer.alloc(0) },
      { cmd: SmuxCommand.Fin, streamId: 3, data: Buffer.alloc(0) },
      { cmd: SmuxCommand.Syn, streamId: 5, data: Buffer.alloc(0) },
    ];
    for (let cut = 0; cut <= stream.length; cut++) {
      const parser = new FrameParser();
      const frames = [...parser.push(stream.subarray(0, cut)), ...parser.push(stream.subarray(cut))];
      assert.deepEqual(frames, expected, `cut at ${cut}`);
    }
    const parser = new FrameParser();
    const oneByOne = [...stream].flatMap((byte) => parser.push(Buffer.from([byte])));
    assert.deepEqual(oneByOne, expected);
  });

  test('a frame may span many 1,024-byte messages', () => {
    const data = Buffer.alloc(32_768, 7);
    const frame = encodeFrame(SmuxCommand.Psh, 9, data);
    const parser = new FrameParser();
    const frames: SmuxFrame[] = [];
    for (let i = 0; i < frame.length; i += 1024) frames.push(...parser.push(frame.subarray(i, i + 1024)));
    assert.equal(frames.length, 1);
    assert.deepEqual(frames[0]?.data, data);
  });

  test('a frame of another version is a protocol error (the v2 UPD example)', () => {
    assert.throws(() => new FrameParser().push(UPD_3), SmuxProtocolError);
  });

  test('an unknown command is a protocol error', () => {
    assert.throws(() => new FrameParser().push(hex('01 05 00 00 03 00 00 00')), /Unknown smux command 5/);
  });

  test('only PSH consumes its length (and UPD its 8 bytes), as the Go reader does', () => {
    const upd = hex('01 04 08 00 03 00 00 00 00 80 00 00 00 00 01 00');
    // A SYN with a nonzero length field carries no data: the next header follows at once.
    const synWithLength = hex('01 00 05 00 07 00 00 00');
    const frames = new FrameParser().push(Buffer.concat([upd, synWithLength, NOP]));
    assert.deepEqual(
      frames.map((f) => [f.cmd, f.streamId, f.data.length]),
      [
        [SmuxCommand.Upd, 3, 8],
        [SmuxCommand.Syn, 7, 0],
        [SmuxCommand.Nop, 0, 0],
      ],
    );
  });
});

describe('SmuxSession', () => {
  test('opens odd stream ids from 3, and writes SYN, PSH, FIN as the Go client does', async () => {
    const { mux, transport } = session();
    const first = mux.openStream();
    first.end('hello');
    await once(first, 'finish');
    const second = mux.openStream();
    assert.equal(first.id, 3);
    assert.equal(second.id, 5);
    assert.deepEqual(transport.bytes, Buffer.concat([SYN_3, PSH_3_HELLO, FIN_3, SYN_5]));
  });

  test('delivers data to its stream, drops data for unknown streams, ignores NOP and SYN', async () => {
    const { mux } = session();
    const a = mux.openStream();
    const b = mux.openStream();
    const received: Record<number, string> = { 3: '', 5: '' };
    a.on('data', (chunk) => (received[3] += chunk));
    b.on('data', (chunk) => (received[5] += chunk));
    const bytes = Buffer.concat([
      encodeFrame(SmuxCommand.Psh, 5, Buffer.from('to-5 ')),
      NOP,
      encodeFrame(SmuxCommand.Psh, 3, Buffer.from('to-3')),
      encodeFrame(SmuxCommand.Psh, 99, Buffer.from('lost')),
      encodeFrame(SmuxCommand.Syn, 8),
      encodeFrame(SmuxCommand.Psh, 5, Buffer.from('again')),
    ]);
    for (const byte of bytes) mux.receive(Buffer.from([byte]));
    await tick();
    assert.deepEqual(received, { 3: 'to-3', 5: 'to-5 again' });
    assert.equal(mux.streamCount, 2);
  });

  test('the peer’s FIN ends reading after the data, is answered with FIN, and later writes are dropped', async () => {
    const { mux, transport } = session();
    const stream = mux.openStream();
    let text = '';
    stream.on('data', (chunk) => (text += chunk));
    mux.receive(Buffer.concat([encodeFrame(SmuxCommand.Psh, 3, Buffer.from('bye')), FIN_3]));
    await once(stream, 'end');
    assert.equal(text, 'bye');
    assert.equal(stream.remoteClosed, true);
    stream.write('too late');
    stream.end();
    await once(stream, 'close');
    const sent = transport.frames();
    assert.deepEqual(
      sent.map((f) => [f.cmd, f.streamId]),
      [
        [SmuxCommand.Syn, 3],
        [SmuxCommand.Fin, 3],
      ],
    );
    assert.equal(mux.streamCount, 0);
  });

  test('our end() sends FIN after the data, and what the peer sends until its FIN still arrives', async () => {
    const { mux, transport } = session();
    const stream = mux.openStream();
    let text = '';
    stream.on('data', (chunk) => (text += chunk));
    stream.end('request');
    await once(stream, 'finish');
    assert.deepEqual(transport.frames().map((f) => f.cmd), [SmuxCommand.Syn, SmuxCommand.Psh, SmuxCommand.Fin]);
    mux.receive(Buffer.concat([encodeFrame(SmuxCommand.Psh, 3, Buffer.from('response')), FIN_3]));
    await once(stream, 'close');
    assert.equal(text, 'response');
    assert.equal(transport.frames().length, 3, 'no second FIN');
  });

  test('destroy() sends FIN once and forgets the stream', async () => {
    const { mux, transport } = session();
    const stream = mux.openStream();
    stream.destroy();
    await once(stream, 'close');
    mux.receive(encodeFrame(SmuxCommand.Psh, 3, Buffer.from('ignored')));
    assert.deepEqual(transport.bytes, Buffer.concat([SYN_3, FIN_3]));
    assert.equal(mux.streamCount, 0);
  });

  test('large writes are cut into frames, and two streams interleave frame by frame', async () => {
    const { mux, transport } = session({ maxFrameData: 1000 });
    const a = mux.openStream();
    const b = mux.openStream();
    a.write(Buffer.alloc(3000, 'a'));
    b.write(Buffer.alloc(3000, 'b'));
    await Promise.all([new Promise((r) => a.end(r)), new Promise((r) => b.end(r))]);
    const data = transport.frames().filter((f) => f.cmd === SmuxCommand.Psh);
    assert.ok(data.every((f) => f.data.length <= 1000));
    assert.deepEqual(data.map((f) => f.streamId), [3, 5, 3, 5, 3, 5]);
    assert.equal(Buffer.concat(data.filter((f) => f.streamId === 3).map((f) => f.data)).toString(), 'a'.repeat(3000));
  });

  test('a stream waits for the transport: one frame at a time, and write() says stop past its buffer', async () => {
    const { mux, transport } = session({ streamSendBuffer: 4096, maxFrameData: 1024 });
    transport.hold = true;
    const stream = mux.openStream();
    assert.equal(stream.write(Buffer.alloc(2048)), true);
    assert.equal(stream.write(Buffer.alloc(4096)), false);
    await tick();
    assert.equal(transport.writes.length, 2, 'SYN and the first frame only');
    const drained = once(stream, 'drain');
    transport.release();
    // Each released write lets the next frame out; keep releasing until the stream drains.
    const pump = setInterval(() => transport.release(), 1);
    await drained;
    clearInterval(pump);
    const data = transport.frames().filter((f) => f.cmd === SmuxCommand.Psh);
    assert.equal(data.reduce((n, f) => n + f.data.length, 0), 6144);
  });

  test('a slow reader puts pressure on the session until it reads', async () => {
    const pressure: boolean[] = [];
    const { mux } = session({ streamReceiveBuffer: 1000, onReceivePressure: (paused) => pressure.push(paused) });
    const slow = mux.openStream();
    const fast = mux.openStream();
    fast.on('data', () => undefined);
    await tick();
    mux.receive(encodeFrame(SmuxCommand.Psh, 5, Buffer.alloc(5000)));
    assert.deepEqual(pressure, [], 'a reader that keeps up causes none');
    mux.receive(encodeFrame(SmuxCommand.Psh, 3, Buffer.alloc(600)));
    mux.receive(encodeFrame(SmuxCommand.Psh, 3, Buffer.alloc(600)));
    assert.deepEqual(pressure, [true]);
    slow.read();
    assert.deepEqual(pressure, [true, false]);
  });

  test('a protocol error closes the session and every stream', async () => {
    const { mux } = session();
    const stream = mux.openStream();
    const closed = new Promise<Error | undefined>((resolve) => mux.onClose(resolve));
    const streamError = once(stream, 'error');
    mux.receive(UPD_3);
    assert.ok((await closed) instanceof SmuxProtocolError);
    assert.ok((await streamError)[0] instanceof SmuxProtocolError);
    assert.equal(mux.closed, true);
    assert.throws(() => mux.openStream(), /closed/);
  });

  test('close() ends the streams without sending anything more', async () => {
    const { mux, transport } = session();
    const stream = mux.openStream();
    mux.close();
    await once(stream, 'close');
    assert.deepEqual(transport.bytes, SYN_3);
  });

  test('keepalive: NOPs at the interval, and the session dies when the peer is silent too long', async () => {
    // Margins wide enough for a loaded machine, where timers fire late and ticks coalesce: the
    // session must live past a sign of life at 150 ms, and send NOPs every 50 ms until it dies.
    const { mux, transport } = session({ keepAlive: { intervalMs: 50, timeoutMs: 600 } });
    const closed = new Promise<Error | undefined>((resolve) => mux.onClose(resolve));
    // The keepalive timer does not hold the process open; this does, while the test waits.
    const hold = setTimeout(() => undefined, 5000);
    await new Promise((resolve) => setTimeout(resolve, 150));
    mux.receive(NOP); // a sign of life postpones the end
    const error = await closed;
    clearTimeout(hold);
    assert.match(error?.message ?? '', /sent nothing/);
    assert.ok(transport.frames().filter((f) => f.cmd === SmuxCommand.Nop).length >= 2);
  });

  test('without keepalive, no NOP is ever sent', async () => {
    const { mux, transport } = session();
    await new Promise((resolve) => setTimeout(resolve, 30));
    mux.close();
    assert.equal(transport.writes.length, 0);
  });
});

// The client side of smux protocol version 1 (xtaci/smux, as vendored by the plugin and the
// agent), which multiplexed port forwarding runs over the data channel's byte stream
// (shared/ssm-protocol.md §9.5). Frames are independent of data-channel message boundaries: the
// parser reassembles them from whatever pieces arrive.
//
// v1 has no per-stream flow control, so backpressure is ours to build:
// - outgoing, each stream has one frame at a time waiting for the transport, and its writable side
//   fills (pausing a piped socket) while that frame waits; streams interleave frame by frame;
// - incoming, a stream whose reader falls behind by more than its buffer reports pressure, and
//   the caller stops reading the transport until the reader catches up. That stalls every stream,
//   as it does in the Go implementation, whose session-wide receive buffer then blocks its reader.
import { Duplex } from 'node:stream';
import { Emitter, type Listen } from './events';

export const SMUX_VERSION = 1;
export const SmuxCommand = { Syn: 0, Fin: 1, Psh: 2, Nop: 3, Upd: 4 } as const;
export const FRAME_HEADER_BYTES = 8;
/** smux's DefaultConfig MaxFrameSize; the most data the Go side puts in one PSH frame. */
export const MAX_FRAME_DATA = 32_768;
/** A v2 window update carries two uint32s; the Go reader consumes them in any version. */
const UPD_DATA_BYTES = 8;
/** smux client stream ids are odd and start at 3 (the session's counter starts at 1 and adds 2). */
const FIRST_STREAM_ID = 3;
const MAX_STREAM_ID = 0xffff_ffff;

export interface SmuxFrame {
  readonly cmd: number;
  readonly streamId: number;
  readonly data: Buffer;
}

/** A violation that ends the whole session, as it does in Go (bad version, unknown command). */
export class SmuxProtocolError extends Error {
  override name = 'SmuxProtocolError';
}

/** ver(1) cmd(1) length(2, LE) stream id(4, LE) data. */
export function encodeFrame(cmd: number, streamId: number, data: Buffer = Buffer.alloc(0)): Buffer {
  if (data.length > 0xffff) throw new RangeError(`An smux frame carries at most 65535 bytes, not ${data.length}.`);
  const frame = Buffer.allocUnsafe(FRAME_HEADER_BYTES + data.length);
  frame.writeUInt8(SMUX_VERSION, 0);
  frame.writeUInt8(cmd, 1);
  frame.writeUInt16LE(data.length, 2);
  frame.writeUInt32LE(streamId, 4);
  data.copy(frame, FRAME_HEADER_BYTES);
  return frame;
}

/**
 * Cuts a byte stream into frames. Like the Go reader, only PSH consumes its length in data
 * (and UPD its fixed 8 bytes); SYN, FIN and NOP never carry any.
 */
export class FrameParser {
  private readonly header = Buffer.alloc(FRAME_HEADER_BYTES);
  private headerFill = 0;
  private current?: { cmd: number; streamId: number; length: number; pieces: Buffer[]; filled: number };

  /** Frames completed by these bytes, in order. Throws SmuxProtocolError; the parser is then unusable. */
  push(bytes: Buffer): SmuxFrame[] {
    const frames: SmuxFrame[] = [];
    let offset = 0;
    while (offset < bytes.length) {
      if (!this.current) {
        const taken = bytes.copy(this.header, this.headerFill, offset, offset + FRAME_HEADER_BYTES - this.headerFill);
        this.headerFill += taken;
        offset += taken;
        if (this.headerFill < FRAME_HEADER_BYTES) break;
        this.headerFill = 0;
        this.current = this.startFrame();
      } else {
        const piece = bytes.subarray(offset, offset + this.current.length - this.current.filled);
        this.current.pieces.push(piece);
        this.current.filled += piece.length;
        offset += piece.length;
      }
      if (this.current.filled === this.current.length) {
        const { cmd, streamId, pieces, length } = this.current;
        frames.push({ cmd, streamId, data: pieces.length === 1 ? pieces[0] : Buffer.concat(pieces, length) });
        this.current = undefined;
      }
    }
    return frames;
  }

  private startFrame(): { cmd: number; streamId: number; length: number; pieces: Buffer[]; filled: number } {
    const version = this.header.readUInt8(0);
    const cmd = this.header.readUInt8(1);
    if (version !== SMUX_VERSION) throw new SmuxProtocolError(`smux frame of version ${version}; this session speaks version ${SMUX_VERSION}.`);
    if (cmd > SmuxCommand.Upd) throw new SmuxProtocolError(`Unknown smux command ${cmd}.`);
    const length = cmd === SmuxCommand.Psh ? this.header.readUInt16LE(2) : cmd === SmuxCommand.Upd ? UPD_DATA_BYTES : 0;
    return { cmd, streamId: this.header.readUInt32LE(4), length, pieces: [], filled: 0 };
  }
}

/** Where the session's bytes go: resolves once the transport has taken them, which is the backpressure. */
export interface SmuxTransport {
  write(bytes: Buffer): Promise<void>;
}

export interface SmuxOptions {
  /** Largest data of one outgoing PSH frame; smaller frames interleave streams more finely. */
  readonly maxFrameData?: number;
  /** Bytes a stream holds for a slow reader before it reports pressure. */
  readonly streamReceiveBuffer?: number;
  /** Bytes a stream's writer may queue before write() returns false. */
  readonly streamSendBuffer?: number;
  /**
   * Only for agents that keep smux keepalives on (§9.2): send a NOP this often and give up when
   * no frame arrived for `timeoutMs`. Otherwise NOPs would defeat the idle-session timeout.
   */
  readonly keepAlive?: { readonly intervalMs: number; readonly timeoutMs: number };
  /** True: some stream's reader is behind, stop feeding receive(); false: go on. */
  readonly onReceivePressure?: (paused: boolean) => void;
}

const DEFAULT_STREAM_RECEIVE_BUFFER = 1024 * 1024;
const DEFAULT_STREAM_SEND_BUFFER = 64 * 1024;
const DEFAULT_FRAME_DATA = 16 * 1024;

/** A multiplexing session in which this side opens every stream (the agent never does). */
export class SmuxSession {
  private readonly parser = new FrameParser();
  private readonly streams = new Map<number, SmuxStream>();
  private readonly congested = new Set<SmuxStream>();
  private readonly closeEmitter = new Emitter<Error | undefined>();
  private readonly maxFrameData: number;
  private nextStreamId = FIRST_STREAM_ID;
  private keepAliveTimer?: NodeJS.Timeout;
  private lastReceivedAt = Date.now();
  private closedWith?: { error?: Error };

  /** Fires once when the session is over: undefined after close(), else why. */
  readonly onClose: Listen<Error | undefined> = this.closeEmitter.event;

  constructor(
    private readonly transport: SmuxTransport,
    private readonly options: SmuxOptions = {},
  ) {
    this.maxFrameData = Math.min(options.maxFrameData ?? DEFAULT_FRAME_DATA, MAX_FRAME_DATA);
    if (options.keepAlive) {
      const { intervalMs, timeoutMs } = options.keepAlive;
      this.keepAliveTimer = setInterval(() => {
        // While a slow reader holds the transport paused, the silence is ours, not the peer's
        // (Go skips the check then too).
        if (this.congested.size === 0 && Date.now() - this.lastReceivedAt > timeoutMs) {
          this.close(new Error(`The instance sent nothing for ${Math.round(timeoutMs / 1000)} s; the port-forwarding session is dead.`));
          return;
        }
        this.writeFrame(encodeFrame(SmuxCommand.Nop, 0)).catch(() => undefined);
      }, intervalMs);
      this.keepAliveTimer.unref();
    }
  }

  get closed(): boolean {
    return this.closedWith !== undefined;
  }

  /** Streams whose SYN went out and that are not yet closed on both sides. */
  get streamCount(): number {
    return this.streams.size;
  }

  /** Opens a stream: its SYN goes out at once, data follows as it is written. */
  openStream(): SmuxStream {
    if (this.closedWith) throw new Error('The multiplexing session is closed.');
    if (this.nextStreamId > MAX_STREAM_ID) throw new Error('The session has used up its stream ids; start a new port-forwarding session.');
    const id = this.nextStreamId;
    this.nextStreamId += 2;
    const stream = new SmuxStream(id, this, this.options.streamReceiveBuffer ?? DEFAULT_STREAM_RECEIVE_BUFFER, this.options.streamSendBuffer ?? DEFAULT_STREAM_SEND_BUFFER);
    this.streams.set(id, stream);
    this.writeFrame(encodeFrame(SmuxCommand.Syn, id)).catch((err) => stream.destroy(err));
    return stream;
  }

  /** Bytes from the transport, in order; frames may be cut anywhere. */
  receive(bytes: Buffer): void {
    if (this.closedWith) return;
    this.lastReceivedAt = Date.now();
    let frames: SmuxFrame[];
    try {
      frames = this.parser.push(bytes);
    } catch (err) {
      this.close(err as Error);
      return;
    }
    for (const frame of frames) this.handle(frame);
  }

  /** Ends every stream (with `error`, if given) and the session; sends nothing more. */
  close(error?: Error): void {
    if (this.closedWith) return;
    this.closedWith = { error };
    clearInterval(this.keepAliveTimer);
    for (const stream of [...this.streams.values()]) stream.destroy(error);
    this.streams.clear();
    this.setCongested(undefined, false);
    this.closeEmitter.fire(error);
    this.closeEmitter.clear();
  }

  /** @internal Data of one stream, frame by frame, so other streams' frames interleave. */
  async writeData(streamId: number, data: Buffer): Promise<void> {
    for (let offset = 0; offset < data.length; offset += this.maxFrameData) {
      await this.writeFrame(encodeFrame(SmuxCommand.Psh, streamId, data.subarray(offset, offset + this.maxFrameData)));
    }
  }

  /** @internal */
  writeFrame(frame: Buffer): Promise<void> {
    if (this.closedWith) return Promise.reject(this.closedWith.error ?? new Error('The multiplexing session is closed.'));
    return this.transport.write(frame);
  }

  /** @internal */
  forget(stream: SmuxStream): void {
    if (this.streams.get(stream.id) === stream) this.streams.delete(stream.id);
    this.setCongested(stream, false);
  }

  /** @internal A stream's reader is behind (or caught up); pressure is on while any is behind. */
  setCongested(stream: SmuxStream | undefined, congested: boolean): void {
    const before = this.congested.size > 0;
    if (!stream) this.congested.clear();
    else if (congested) this.congested.add(stream);
    else this.congested.delete(stream);
    const after = this.congested.size > 0;
    if (before === after) return;
    if (!after) this.lastReceivedAt = Date.now();
    this.options.onReceivePressure?.(after);
  }

  private handle(frame: SmuxFrame): void {
    const stream = this.streams.get(frame.streamId);
    switch (frame.cmd) {
      case SmuxCommand.Psh:
        // Data for a stream we forgot is dropped, as Go does.
        if (frame.data.length) stream?.receiveData(frame.data);
        return;
      case SmuxCommand.Fin:
        stream?.receiveFin();
        return;
      default:
        // NOP is only a sign of life; the agent never opens streams (SYN) nor, in v1, sends UPD.
        return;
    }
  }
}

/**
 * One multiplexed connection, as a Node Duplex so a socket pipes into it and out of it.
 *
 * Closing, as smux v1 has it, is not a half-close: a stream's FIN means the peer has closed it
 * for good, and the Go side closes its TCP connection when either direction ends. So:
 * - end() (the local client closed its side) sends FIN once the written data is out; what the
 *   peer sent before its answering FIN is still delivered;
 * - the peer's FIN ends the readable side and is answered with our FIN at once; later writes
 *   are dropped, as the peer would drop them;
 * - destroy() sends FIN if none was sent, and drops what was not yet sent.
 */
export class SmuxStream extends Duplex {
  private finSent = false;
  private finReceived = false;

  constructor(
    readonly id: number,
    private readonly session: SmuxSession,
    receiveBuffer: number,
    sendBuffer: number,
  ) {
    super({ allowHalfOpen: true, readableHighWaterMark: receiveBuffer, writableHighWaterMark: sendBuffer });
  }

  /** The peer has closed the stream. */
  get remoteClosed(): boolean {
    return this.finReceived;
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.send(chunk).then(() => callback(), callback);
  }

  override _writev(chunks: { chunk: Buffer }[], callback: (error?: Error | null) => void): void {
    this.send(Buffer.concat(chunks.map((c) => c.chunk))).then(() => callback(), callback);
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.sendFin().then(() => callback(), callback);
  }

  override _read(): void {
    this.session.setCongested(this, false);
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    if (!this.session.closed) this.sendFin().catch(() => undefined);
    this.session.forget(this);
    callback(error);
  }

  /** @internal */
  receiveData(data: Buffer): void {
    if (this.finReceived || this.destroyed) return;
    if (!this.push(data)) this.session.setCongested(this, true);
  }

  /** @internal */
  receiveFin(): void {
    if (this.finReceived) return;
    this.finReceived = true;
    this.push(null);
    this.sendFin().catch((err) => this.destroy(err));
  }

  private send(data: Buffer): Promise<void> {
    // After the peer's FIN it has forgotten the stream and would discard the data.
    if (this.finReceived || this.finSent) return Promise.resolve();
    return this.session.writeData(this.id, data);
  }

  private sendFin(): Promise<void> {
    if (this.finSent) return Promise.resolve();
    this.finSent = true;
    return this.session.writeFrame(encodeFrame(SmuxCommand.Fin, this.id));
  }
}

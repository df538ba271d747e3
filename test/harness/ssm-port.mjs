// The agent's port plugin, for the local SSM server (shared/ssm-protocol.md §9): it dials a real
// TCP service for the client. Written apart from src/ssm, smux included, so the client's reading
// of the protocol is checked against a second one.
//
// Three modes, as amazon-ssm-agent has them:
// - mux: an smux v1 server over the data channel's byte stream; one dial per stream (SYN);
// - basic (LocalPortForwarding with an old agent): one connection, dialled at the start and again
//   on the first input after DisconnectToPort or after the target closed;
// - stream (AWS-StartSSHSession, no `type`): one connection; the session ends when it closes.
import { connect } from 'node:net';

const CHUNK = 1024;
const MAX_FRAME = 32_768;
const FLAG = { DisconnectToPort: 1, TerminateSession: 2, ConnectToPortError: 3 };
const CMD = { SYN: 0, FIN: 1, PSH: 2, NOP: 3, UPD: 4 };

/**
 * @typedef {object} PortHost  what the plugin needs of the agent session
 * @property {(payloadType: number, payload: Buffer) => void} send  a sequenced output_stream_data message
 * @property {(output: string) => void} close  ends the session (channel_closed)
 * @property {() => boolean} congested  the agent has too many unacknowledged messages to read more
 * @property {(line: string) => void} log
 * @property {{ dials: { host: string, port: number }[], flags: number[], streamsOpened: number, nops: number, openTargets: number }} stats
 */

export class PortPlugin {
  /**
   * @param {PortHost} host
   * @param {{ mode: 'mux' | 'basic' | 'stream', targetHost: string, targetPort: number }} o
   */
  constructor(host, { mode, targetHost, targetPort }) {
    Object.assign(this, { host, mode, targetHost, targetPort });
    this.ended = false;
    /** Open target sockets, for pausing and for the end. */
    this.targets = new Set();
    if (mode === 'mux') {
      /** @type {Map<number, { socket: import('node:net').Socket, finSent: boolean }>} */
      this.streams = new Map();
      this.inbound = Buffer.alloc(0);
    }
  }

  /** After HandshakeComplete: basic and stream modes dial at once, as the agent does. */
  start() {
    if (this.mode !== 'mux') this.dialSingle();
  }

  /** An Output payload from the client, in order. */
  input(payload) {
    if (this.mode === 'mux') return this.muxInput(payload);
    if (!this.single) this.dialSingle();
    this.single.write(payload);
  }

  flag(value) {
    this.host.stats.flags.push(value);
    if (value === FLAG.TerminateSession) return this.host.close('');
    if (value === FLAG.DisconnectToPort && this.mode !== 'mux' && this.single) {
      // Closed now, dialled again on the next input.
      this.single.destroy();
      this.single = undefined;
    }
    return undefined;
  }

  /** The agent's window has room again. */
  resume() {
    for (const socket of this.targets) socket.resume();
  }

  end() {
    this.ended = true;
    for (const socket of this.targets) socket.destroy();
  }

  dial(onConnectError) {
    const { targetHost: host, targetPort: port } = this;
    this.host.stats.dials.push({ host, port });
    const socket = connect({ host, port });
    this.targets.add(socket);
    this.host.stats.openTargets++;
    let connected = false;
    socket.once('connect', () => (connected = true));
    socket.once('error', (err) => {
      if (!connected) onConnectError(err);
    });
    socket.once('close', () => {
      this.targets.delete(socket);
      this.host.stats.openTargets--;
    });
    return socket;
  }

  /** Sends target bytes as Output messages of at most 1,024 bytes; pauses the target while the agent's window is full. */
  sendBytes(socket, bytes) {
    for (let i = 0; i < bytes.length; i += CHUNK) this.host.send(1, bytes.subarray(i, i + CHUNK));
    if (this.host.congested()) socket.pause();
  }

  dialSingle() {
    const socket = this.dial((err) => this.host.log(`agent: dial failed: ${err.message}`));
    this.single = socket;
    socket.on('data', (data) => this.sendBytes(socket, data));
    socket.on('error', () => undefined);
    socket.once('close', () => {
      if (this.single === socket) this.single = undefined;
      // An SSH session ends with its connection; a forward waits for the next input.
      if (this.mode === 'stream' && !this.ended) this.host.close('');
    });
  }

  muxInput(payload) {
    this.inbound = this.inbound.length ? Buffer.concat([this.inbound, payload]) : payload;
    while (this.inbound.length >= 8) {
      const version = this.inbound[0];
      const cmd = this.inbound[1];
      const length = this.inbound.readUInt16LE(2);
      const sid = this.inbound.readUInt32LE(4);
      if (version !== 1 || cmd > CMD.UPD) {
        this.host.log(`agent: smux protocol error (version ${version}, cmd ${cmd})`);
        return this.host.close('');
      }
      const dataLength = cmd === CMD.PSH ? length : cmd === CMD.UPD ? 8 : 0;
      if (this.inbound.length < 8 + dataLength) return undefined;
      const data = this.inbound.subarray(8, 8 + dataLength);
      this.inbound = this.inbound.subarray(8 + dataLength);
      this.frame(cmd, sid, data);
    }
    return undefined;
  }

  frame(cmd, sid, data) {
    const stream = this.streams.get(sid);
    switch (cmd) {
      case CMD.SYN:
        if (!stream) this.openStream(sid);
        return;
      case CMD.PSH:
        if (stream && data.length) stream.socket.write(Buffer.from(data));
        return;
      case CMD.FIN:
        // No half-close in smux v1: the client is done with the stream, so is the target connection.
        if (stream) this.closeStream(sid);
        return;
      case CMD.NOP:
        this.host.stats.nops++;
        return;
      default:
        return;
    }
  }

  openStream(sid) {
    this.host.stats.streamsOpened++;
    const socket = this.dial(() => {
      this.host.send(10, flagBytes(FLAG.ConnectToPortError));
      this.closeStream(sid);
    });
    const stream = { socket, finSent: false };
    this.streams.set(sid, stream);
    socket.on('data', (data) => {
      if (this.streams.get(sid) !== stream) return;
      const frames = [];
      for (let i = 0; i < data.length; i += MAX_FRAME) frames.push(smuxFrame(CMD.PSH, sid, data.subarray(i, i + MAX_FRAME)));
      this.sendBytes(socket, Buffer.concat(frames));
    });
    socket.on('error', () => undefined);
    socket.once('end', () => this.closeStream(sid));
    socket.once('close', () => this.closeStream(sid));
  }

  /** Closes the target and sends our FIN, once. */
  closeStream(sid) {
    const stream = this.streams.get(sid);
    if (!stream) return;
    this.streams.delete(sid);
    if (!stream.finSent) {
      stream.finSent = true;
      this.host.send(1, smuxFrame(CMD.FIN, sid));
    }
    stream.socket.end();
    stream.socket.once('finish', () => stream.socket.destroy());
  }
}

/** Which port mode the agent runs for these session properties and this client (§9.2). */
export function portMode(properties, agentVersion, clientVersion) {
  if (properties.type !== 'LocalPortForwarding') return 'stream';
  return newer(agentVersion, '3.0.196.0') && !newer('1.1.70', clientVersion) ? 'mux' : 'basic';
}

function newer(a, b) {
  const x = a.split('.').map(Number);
  const y = b.split('.').map(Number);
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    if ((x[i] ?? 0) !== (y[i] ?? 0)) return (x[i] ?? 0) > (y[i] ?? 0);
  }
  return false;
}

function smuxFrame(cmd, sid, data = Buffer.alloc(0)) {
  const header = Buffer.alloc(8);
  header[0] = 1;
  header[1] = cmd;
  header.writeUInt16LE(data.length, 2);
  header.writeUInt32LE(sid, 4);
  return Buffer.concat([header, data]);
}

function flagBytes(value) {
  const bytes = Buffer.alloc(4);
  bytes.writeUInt32BE(value);
  return bytes;
}

// Port forwarding over a fake data channel: the mode the agent's version selects, basic mode's
// one-at-a-time connections and DisconnectToPort, multiplexed streams, and how a forward ends.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { afterEach, describe, test } from 'node:test';
import type { ChannelEnd, ChannelPayload, ConnectionState } from '../../src/ssm/dataChannel';
import { Emitter } from '../../src/ssm/events';
import { PayloadType } from '../../src/ssm/messages';
import { PortFlag } from '../../src/ssm/payloads';
import { agentVersionAbove, endPortSession, forwardingMode, keepAliveFor, LocalForward, type ForwardingMode, type PortChannel } from '../../src/ssm/portForward';
import { encodeFrame, FrameParser, SmuxCommand } from '../../src/ssm/smux';

class FakeChannel implements PortChannel {
  readonly sessionId = 'session-1';
  readonly session = { sessionType: 'Port', encrypted: false };
  readonly payloads = new Emitter<ChannelPayload>();
  readonly ends = new Emitter<ChannelEnd>();
  readonly connection = new Emitter<ConnectionState>();
  readonly output: Buffer[] = [];
  readonly flags: number[] = [];
  readonly ended: Promise<ChannelEnd>;
  paused = false;
  over = false;
  /** TerminateSession API calls; like DataChannel.close(), none once the channel has ended. */
  closeCalls = 0;
  /** What the fake agent does with a TerminateSession flag. */
  onTerminateFlag = () => this.ends.fire({ reason: 'closed' });
  readonly onPayload = this.payloads.event;
  readonly onEnd = this.ends.event;
  readonly onConnectionChange = this.connection.event;

  constructor() {
    this.ended = new Promise((resolve) => this.ends.event(resolve));
    this.ends.event(() => (this.over = true));
  }

  async sendOutput(data: Buffer): Promise<void> {
    this.output.push(Buffer.from(data));
  }

  async sendControl(payloadType: number, payload: Buffer): Promise<void> {
    assert.equal(payloadType, PayloadType.Flag);
    const flag = payload.readUInt32BE(0);
    this.flags.push(flag);
    if (flag === PortFlag.TerminateSession) this.onTerminateFlag();
  }

  async close(): Promise<void> {
    if (this.over) return;
    this.closeCalls++;
    this.ends.fire({ reason: 'terminated' });
  }

  pauseIncoming(): void {
    this.paused = true;
  }

  resumeIncoming(): void {
    this.paused = false;
  }

  agentSends(bytes: Buffer | string): void {
    this.payloads.fire({ payloadType: PayloadType.Output, payload: Buffer.from(bytes) });
  }

  get sent(): string {
    return Buffer.concat(this.output).toString();
  }
}

const servers: Server[] = [];
const sockets: Socket[] = [];
afterEach(() => {
  for (const socket of sockets.splice(0)) socket.destroy();
  for (const server of servers.splice(0)) server.close();
});

async function forwardOver(channel: FakeChannel, mode: ForwardingMode): Promise<LocalForward> {
  const server = createServer({ pauseOnConnect: true, allowHalfOpen: true });
  servers.push(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const localPort = (server.address() as AddressInfo).port;
  return new LocalForward(channel, channel.ended, server, { localPort, target: 'i-0123456789abcdef0', remotePort: 8888, mode });
}

async function dial(port: number): Promise<Socket> {
  const socket = connect(port, '127.0.0.1');
  sockets.push(socket);
  socket.on('error', () => undefined);
  await once(socket, 'connect');
  return socket;
}

async function waitUntil(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  for (const start = Date.now(); !condition(); ) {
    if (Date.now() - start > timeoutMs) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Reads until exactly `text` has arrived, leaving the socket open (for await would destroy it). */
function readText(socket: Socket, text: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let received = '';
    const onData = (chunk: Buffer) => {
      received += chunk.toString();
      if (received === text) {
        socket.off('data', onData);
        socket.pause();
        resolve();
      } else if (!text.startsWith(received)) {
        reject(new Error(`got ${JSON.stringify(received)}`));
      }
    };
    socket.on('data', onData);
    socket.resume();
  });
}

describe('agent versions and modes', () => {
  test('compares numerically and strictly, like the plugin; other shapes are never above', () => {
    assert.equal(agentVersionAbove('3.0.197.0', '3.0.196.0'), true);
    assert.equal(agentVersionAbove('3.0.196.0', '3.0.196.0'), false);
    assert.equal(agentVersionAbove('10.0.0.0', '3.0.196.0'), true, 'numbers, not text');
    assert.equal(agentVersionAbove('3.0.1000.0', '3.0.196.0'), true);
    assert.equal(agentVersionAbove('3.0.161.0', '3.0.196.0'), false);
    assert.equal(agentVersionAbove('3.1', '3.0.196.0'), false, 'a different count of parts');
    assert.equal(agentVersionAbove('3.x.0.0', '3.0.196.0'), false);
    assert.equal(agentVersionAbove(undefined, '3.0.196.0'), false);
  });

  test('multiplexed after agent 3.0.196.0, basic up to it; a session of another type is refused', () => {
    const port = (agentVersion: string, type: unknown = 'LocalPortForwarding') => ({ sessionType: 'Port', properties: { type }, agentVersion, encrypted: false });
    assert.equal(forwardingMode(port('3.3.987.0')), 'multiplexed');
    assert.equal(forwardingMode(port('3.0.196.0')), 'basic');
    assert.throws(() => forwardingMode({ sessionType: 'Port', properties: { portNumber: '22' }, agentVersion: '3.3.987.0', encrypted: false }), /instead of port forwarding/);
    assert.throws(() => forwardingMode({ sessionType: 'Standard_Stream', encrypted: false }), /Standard_Stream session/);
  });

  test('smux keepalives only for agents that keep theirs on (up to 3.1.1511.0)', () => {
    const info = (agentVersion: string) => ({ sessionType: 'Port', agentVersion, encrypted: false });
    assert.deepEqual(keepAliveFor(info('3.1.1511.0')), { intervalMs: 10_000, timeoutMs: 30_000 });
    assert.equal(keepAliveFor(info('3.1.1512.0')), undefined);
  });
});

describe('basic mode', () => {
  test('output before the first connection goes to it; later connections wait their turn', async () => {
    const channel = new FakeChannel();
    const forward = await forwardOver(channel, 'basic');
    channel.agentSends('SSH-2.0-banner\r\n'); // the agent dialled at the start; the server spoke first
    const first = await dial(forward.localPort);
    const second = await dial(forward.localPort);
    await readText(first, 'SSH-2.0-banner\r\n');
    first.write('one');
    await waitUntil(() => channel.sent === 'one');
    assert.equal(forward.activeConnections, 2);
    channel.agentSends('reply-1');
    await readText(first, 'reply-1');

    first.end();
    await waitUntil(() => channel.flags.length === 1);
    assert.deepEqual(channel.flags, [PortFlag.DisconnectToPort]);
    // Until the next connection has spoken, the agent has not dialled its target again: output
    // now comes from the old one, and reaches no one.
    channel.agentSends('stale');
    second.write('two');
    await waitUntil(() => channel.sent === 'onetwo');
    channel.agentSends('reply-2');
    await readText(second, 'reply-2');
    second.destroy();
    await waitUntil(() => forward.activeConnections === 0);
    assert.deepEqual(channel.flags, [PortFlag.DisconnectToPort, PortFlag.DisconnectToPort]);
  });

  test('a local socket that cannot keep up pauses the channel until it drains', async () => {
    const channel = new FakeChannel();
    const forward = await forwardOver(channel, 'basic');
    const client = await dial(forward.localPort);
    client.pause();
    client.write('x');
    await waitUntil(() => channel.sent === 'x');
    const chunk = Buffer.alloc(1024 * 1024);
    for (let i = 0; i < 64 && !channel.paused; i++) channel.agentSends(chunk);
    assert.equal(channel.paused, true);
    client.resume();
    await waitUntil(() => !channel.paused);
  });
});

describe('multiplexed mode', () => {
  test('each connection is a stream; frames from the agent reach the right one', async () => {
    const channel = new FakeChannel();
    const forward = await forwardOver(channel, 'multiplexed');
    const a = await dial(forward.localPort);
    const b = await dial(forward.localPort);
    a.write('from-a');
    b.write('from-b');
    const frames = () => new FrameParser().push(Buffer.concat(channel.output));
    await waitUntil(() => frames().filter((f) => f.cmd === SmuxCommand.Psh).length === 2);
    const streamOf = (text: string) => frames().find((f) => f.cmd === SmuxCommand.Psh && f.data.toString() === text)?.streamId;
    const [idA, idB] = [streamOf('from-a'), streamOf('from-b')];
    assert.deepEqual(new Set([idA, idB]), new Set([3, 5]));
    channel.agentSends(Buffer.concat([encodeFrame(SmuxCommand.Psh, idB ?? 0, Buffer.from('to-b')), encodeFrame(SmuxCommand.Psh, idA ?? 0, Buffer.from('to-a'))]));
    await Promise.all([readText(a, 'to-a'), readText(b, 'to-b')]);
  });

  test('a broken smux stream ends the forward and the session', async () => {
    const channel = new FakeChannel();
    const forward = await forwardOver(channel, 'multiplexed');
    const ended = new Promise<Error | undefined>((resolve) => forward.onEnd(resolve));
    channel.agentSends(Buffer.from('02 04 08 00 03 00 00 00'.replace(/ /g, ''), 'hex'));
    assert.match((await ended)?.message ?? '', /version 2/);
    assert.equal(channel.closeCalls, 1);
  });
});

describe('ending a forward', () => {
  test('close(): the TerminateSession flag ends the session, so no API call is needed', async () => {
    const channel = new FakeChannel();
    const forward = await forwardOver(channel, 'multiplexed');
    const client = await dial(forward.localPort);
    const clientClosed = once(client, 'close');
    await forward.close();
    await clientClosed;
    assert.deepEqual(channel.flags, [PortFlag.TerminateSession]);
    assert.equal(channel.closeCalls, 0);
    const reason = await new Promise((resolve) => forward.onEnd(resolve));
    assert.equal(reason, undefined, 'a late listener hears the end too');
  });

  test('when the agent does not end the session on the flag, TerminateSession is called', async () => {
    const channel = new FakeChannel();
    channel.onTerminateFlag = () => undefined;
    const started = Date.now();
    await endPortSession(channel, channel.ended, 50);
    assert.ok(Date.now() - started >= 45);
    assert.equal(channel.closeCalls, 1);
  });

  test('the service ending the session ends the forward with its message', async () => {
    const channel = new FakeChannel();
    const forward = await forwardOver(channel, 'basic');
    const ended = new Promise<Error | undefined>((resolve) => forward.onEnd(resolve));
    channel.ends.fire({ reason: 'closed', message: 'Session terminated by an administrator.' });
    assert.equal((await ended)?.message, 'Session Manager ended the session: Session terminated by an administrator.');
  });
});

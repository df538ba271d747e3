// Port forwarding through Session Manager (shared/ssm-protocol.md §9): a local TCP listener whose
// connections travel over one session to a port on the instance, or to a host it can reach.
//
// Modes, chosen by the agent's version as the plugin chooses them (§9.1):
// - multiplexed (agents after 3.0.196.0): every local connection is an smux stream, so a browser's
//   many connections to a notebook share one session;
// - basic (older agents): the session carries one TCP connection at a time. Like the plugin, we
//   accept further connections and let them wait, in order, until the one before has closed (the
//   plugin leaves them in the listen backlog); each close is reported with DisconnectToPort.
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import type { Connection } from '../aws/connection';
import { UserError } from '../aws/errors';
import { CancelledError } from '../core/progress';
import type { ChannelEnd, ChannelPayload, DataChannel } from './dataChannel';
import { Emitter } from './events';
import type { SessionInfo } from './handshake';
import type { GenerateDataKey } from './kms';
import { PayloadType } from './messages';
import { flagPayload, PortFlag } from './payloads';
import { startDataChannel, type PayloadChannel, type StartSessionRequest } from './session';
import { SmuxSession, type SmuxOptions } from './smux';

export interface PortForwardOptions {
  /** Instance id (i-…) or managed node id (mi-…). */
  readonly target: string;
  readonly remotePort: number;
  /** 0 or undefined: any free port. */
  readonly localPort?: number;
  /** Set: AWS-StartPortForwardingSessionToRemoteHost, to a host the instance can reach. */
  readonly remoteHost?: string;
  /** Default '127.0.0.1'. */
  readonly localHost?: string;
  /** Cancels the start; aborting after the start closes the forward. */
  readonly signal?: AbortSignal;
  /** kms:GenerateDataKey, as in kms.ts (port sessions are not encrypted today). */
  readonly generateDataKey?: GenerateDataKey;
}

export interface PortForward {
  readonly localPort: number;
  readonly target: string;
  readonly remotePort: number;
  readonly remoteHost?: string;
  readonly mode: 'multiplexed' | 'basic';
  /** Local TCP connections open now; in basic mode including those waiting for their turn. */
  readonly activeConnections: number;
  onConnectionChange(listener: (active: number) => void): { dispose(): void };
  /**
   * Fires once when the forward is over, also for a listener added after that: no reason after
   * close(), else why (the session ended on the service, the connection was lost…).
   */
  onEnd(listener: (reason?: Error) => void): { dispose(): void };
  /** Closes the listener and the connections, and ends the session on the instance. */
  close(): Promise<void>;
}

/** What port sessions need of a data channel: a shell's needs plus incoming backpressure. */
export type PortChannel = PayloadChannel & Pick<DataChannel, 'pauseIncoming' | 'resumeIncoming'>;

export type ForwardingMode = PortForward['mode'];

/** Agents after this one speak smux (plugin: TCPMultiplexingSupported). */
const MULTIPLEXING_AFTER = '3.0.196.0';
/** Agents up to this one keep smux keepalives on, so the client must send NOPs too (§9.2). */
const SMUX_KEEPALIVE_UNTIL = '3.1.1511.0';
const SMUX_KEEPALIVE = { intervalMs: 10_000, timeoutMs: 30_000 };
/** How long close() waits for the agent to end the session on the TerminateSession flag. */
const TERMINATE_GRACE_MS = 2_000;

/**
 * Listens on localHost:localPort, starts the session and resolves once it is ready to carry
 * connections. Connections made while it starts wait and are carried once it is ready.
 */
export async function startPortForward(connection: Connection, options: PortForwardOptions): Promise<PortForward> {
  checkOptions(options);
  const localHost = options.localHost ?? '127.0.0.1';
  // Sockets wait paused until a carrier takes them; half-open, so a client's end does not end our writing.
  const server = createServer({ pauseOnConnect: true, allowHalfOpen: true });
  const waiting: Socket[] = [];
  const hold = (socket: Socket) => {
    socket.on('error', () => undefined);
    waiting.push(socket);
  };
  server.on('connection', hold);
  await listen(server, options.localPort ?? 0, localHost);
  const localPort = (server.address() as AddressInfo).port;
  const giveUp = () => {
    server.close();
    for (const socket of waiting) socket.destroy();
  };

  let channel: DataChannel;
  try {
    channel = await startDataChannel(connection, sessionRequest(options, localPort), { signal: options.signal, generateDataKey: options.generateDataKey });
  } catch (err) {
    giveUp();
    throw err;
  }
  // Subscribed before open(): in basic mode the target may speak as soon as the handshake is
  // done, and the session may even end before the forward below exists.
  const early: ChannelPayload[] = [];
  const buffering = channel.onPayload((payload) => early.push(payload));
  const channelEnded = new Promise<ChannelEnd>((resolve) => channel.onEnd(resolve));
  let info: SessionInfo;
  try {
    info = await channel.open(options.signal);
  } catch (err) {
    giveUp();
    throw err; // A channel that fails to open has ended the session itself.
  }
  let mode: ForwardingMode;
  try {
    mode = forwardingMode(info);
  } catch (err) {
    giveUp();
    await channel.close().catch(() => undefined);
    throw err;
  }
  buffering.dispose();
  server.off('connection', hold);
  const forward = new LocalForward(channel, channelEnded, server, { localPort, target: options.target, remotePort: options.remotePort, remoteHost: options.remoteHost, mode }, keepAliveFor(info));
  for (const payload of early) forward.receive(payload);
  for (const socket of waiting) forward.adopt(socket);
  if (options.signal) {
    const signal = options.signal;
    const onAbort = () => void forward.close().catch(() => undefined);
    signal.addEventListener('abort', onAbort, { once: true });
    forward.onEnd(() => signal.removeEventListener('abort', onAbort));
    if (signal.aborted) onAbort();
  }
  return forward;
}

/** Multiplexed when the session is local port forwarding and the agent is new enough (§9.1). */
export function forwardingMode(info: SessionInfo): ForwardingMode {
  if (info.sessionType !== 'Port' || info.properties?.type !== 'LocalPortForwarding') {
    throw new UserError(`The instance started a ${info.sessionType || 'different'} session instead of port forwarding; its SSM Agent may not support it. Update the agent.`, undefined);
  }
  return agentVersionAbove(info.agentVersion, MULTIPLEXING_AFTER) ? 'multiplexed' : 'basic';
}

/** smux keepalives for agents that expect them (§9.2); none otherwise. */
export function keepAliveFor(info: SessionInfo): SmuxOptions['keepAlive'] {
  return agentVersionAbove(info.agentVersion, SMUX_KEEPALIVE_UNTIL) ? undefined : SMUX_KEEPALIVE;
}

/**
 * Whether `version` is strictly above `threshold`, compared as the plugin does: both must be
 * numbers separated by dots, with the same count of parts; anything else counts as "not above".
 */
export function agentVersionAbove(version: string | undefined, threshold: string): boolean {
  const parts = (v: string) => v.split('.').map((p) => (/^\d+$/.test(p) ? Number(p) : NaN));
  if (!version) return false;
  const a = parts(version);
  const b = parts(threshold);
  if (a.length !== b.length || a.some(Number.isNaN)) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i] > b[i];
  return false;
}

/**
 * Ends a port session gracefully: the TerminateSession flag, which the agent handles after all
 * data sent before it, then the TerminateSession API if the session has not ended by then.
 */
export async function endPortSession(channel: PortChannel, ended: Promise<ChannelEnd>, graceMs = TERMINATE_GRACE_MS): Promise<void> {
  channel.sendControl(PayloadType.Flag, flagPayload(PortFlag.TerminateSession)).catch(() => undefined);
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([ended, new Promise((resolve) => (timer = setTimeout(resolve, graceMs)))]);
  clearTimeout(timer);
  await channel.close();
}

interface ForwardDetails {
  readonly localPort: number;
  readonly target: string;
  readonly remotePort: number;
  readonly remoteHost?: string;
  readonly mode: ForwardingMode;
}

/** Carries local connections over the session, one way or the other. */
interface Carrier {
  carry(socket: Socket): void;
  receive(payload: ChannelPayload): void;
  close(): void;
}

/** A running forward: the listener, its connections, and the session under them. */
export class LocalForward implements PortForward {
  readonly localPort: number;
  readonly target: string;
  readonly remotePort: number;
  readonly remoteHost?: string;
  readonly mode: ForwardingMode;
  private readonly sockets = new Set<Socket>();
  private readonly carrier: Carrier;
  private readonly connectionEmitter = new Emitter<number>();
  private readonly endEmitter = new Emitter<Error | undefined>();
  private channelOver = false;
  private closing?: Promise<void>;
  private ended?: { reason?: Error };

  constructor(
    private readonly channel: PortChannel,
    /** Subscribed before the channel opened, so an early end is not missed. */
    private readonly channelEnded: Promise<ChannelEnd>,
    private readonly server: Server,
    details: ForwardDetails,
    keepAlive?: SmuxOptions['keepAlive'],
  ) {
    ({ localPort: this.localPort, target: this.target, remotePort: this.remotePort, remoteHost: this.remoteHost, mode: this.mode } = details);
    this.carrier = this.mode === 'multiplexed' ? new MultiplexedCarrier(channel, keepAlive, (err) => this.fail(err)) : new BasicCarrier(channel);
    channel.onPayload((payload) => this.receive(payload));
    void channelEnded.then((end) => {
      this.channelOver = true;
      if (!this.closing) this.shutDown(endReason(end));
    });
    server.on('connection', (socket: Socket) => this.adopt(socket));
  }

  get activeConnections(): number {
    return this.sockets.size;
  }

  onConnectionChange(listener: (active: number) => void): { dispose(): void } {
    return this.connectionEmitter.event(listener);
  }

  onEnd(listener: (reason?: Error) => void): { dispose(): void } {
    const subscription = this.endEmitter.event(listener);
    const ended = this.ended;
    if (ended) queueMicrotask(() => listener(ended.reason));
    return subscription;
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      this.stopLocal();
      try {
        if (!this.channelOver) await endPortSession(this.channel, this.channelEnded);
      } finally {
        this.finish(undefined);
      }
    })();
    return this.closing;
  }

  /** @internal A local connection, accepted (and paused) by the listener. */
  adopt(socket: Socket): void {
    if (socket.destroyed) return; // reset while it waited for the session to start
    if (this.ended || this.closing) {
      socket.destroy();
      return;
    }
    this.sockets.add(socket);
    socket.on('error', () => undefined); // a reset client is an ordinary end of its connection
    socket.once('close', () => {
      this.sockets.delete(socket);
      this.connectionEmitter.fire(this.sockets.size);
    });
    this.connectionEmitter.fire(this.sockets.size);
    this.carrier.carry(socket);
  }

  /** @internal A payload from the agent, in order. */
  receive(payload: ChannelPayload): void {
    this.carrier.receive(payload);
  }

  private fail(error: Error): void {
    if (this.closing || this.ended) return;
    this.shutDown(error);
    this.channel.close().catch(() => undefined);
  }

  private shutDown(reason: Error | undefined): void {
    this.stopLocal();
    this.finish(reason);
  }

  private stopLocal(): void {
    this.server.close();
    this.carrier.close();
    for (const socket of this.sockets) socket.destroy();
  }

  private finish(reason: Error | undefined): void {
    if (this.ended) return;
    this.ended = { reason };
    this.endEmitter.fire(reason);
    this.endEmitter.clear();
    this.connectionEmitter.clear();
  }
}

/** Every local connection is one smux stream; the agent dials the target once per stream. */
class MultiplexedCarrier implements Carrier {
  private readonly mux: SmuxSession;

  constructor(channel: PortChannel, keepAlive: SmuxOptions['keepAlive'], onFailure: (error: Error) => void) {
    this.mux = new SmuxSession(
      { write: (bytes) => channel.sendOutput(bytes) },
      { keepAlive, onReceivePressure: (paused) => (paused ? channel.pauseIncoming() : channel.resumeIncoming()) },
    );
    this.mux.onClose((error) => error && onFailure(error));
  }

  carry(socket: Socket): void {
    const stream = this.mux.openStream();
    // The socket's end becomes our FIN; the agent's FIN ends the socket's writing side.
    socket.pipe(stream);
    stream.pipe(socket);
    stream.on('error', () => socket.destroy());
    socket.once('close', () => stream.destroy());
    socket.resume();
  }

  receive({ payloadType, payload }: ChannelPayload): void {
    // ConnectToPortError (the agent could not dial) names no stream; the agent also FINs that
    // stream, which closes its local connection.
    if (payloadType === PayloadType.Output) this.mux.receive(payload);
  }

  close(): void {
    this.mux.close();
  }
}

/**
 * One connection at a time, as raw bytes; the others wait in order.
 *
 * Which target connection output comes from is never said, so it is inferred from when the agent
 * dials: at the start of the session, so what a server that speaks first (an SSH banner) sends
 * before any local connection is kept for the first one; after a DisconnectToPort, only on the
 * next input, so what arrives before the next connection has sent anything comes from the old
 * target and is dropped. (The plugin hands all of it to whichever connection is current.)
 */
class BasicCarrier implements Carrier {
  private current?: Socket;
  /** Whether output now belongs to the current connection. */
  private currentHeard = false;
  private readonly queue: Socket[] = [];
  private beforeFirst: Buffer[] | undefined = [];
  /** The current socket's buffer is full and incoming is paused until it drains. */
  private awaitingDrain = false;

  constructor(private readonly channel: PortChannel) {}

  carry(socket: Socket): void {
    this.queue.push(socket);
    this.next();
  }

  receive({ payloadType, payload }: ChannelPayload): void {
    if (payloadType !== PayloadType.Output) return;
    if (!this.current) this.beforeFirst?.push(payload);
    else if (this.currentHeard) this.deliver(this.current, payload);
  }

  close(): void {
    this.queue.length = 0;
    this.current = undefined;
  }

  private next(): void {
    if (this.current) return;
    const socket = this.queue.shift();
    if (!socket) return;
    if (socket.destroyed) return this.next();
    this.current = socket;
    this.currentHeard = this.beforeFirst !== undefined;
    for (const payload of this.beforeFirst ?? []) this.deliver(socket, payload);
    this.beforeFirst = undefined;
    socket.on('data', (chunk: Buffer) => {
      this.currentHeard = true;
      socket.pause();
      this.channel.sendOutput(chunk).then(
        () => socket.resume(),
        () => socket.destroy(),
      );
    });
    // No half-close in basic mode: the agent has no way to hear of one, so as the plugin does,
    // the client's end closes the connection and the agent's connection to the target.
    const done = () => {
      if (this.current !== socket) return;
      this.current = undefined;
      socket.destroy();
      this.awaitingDrain = false;
      this.channel.resumeIncoming();
      this.channel.sendControl(PayloadType.Flag, flagPayload(PortFlag.DisconnectToPort)).catch(() => undefined);
      this.next();
    };
    socket.once('end', done);
    socket.once('close', done);
    socket.resume();
  }

  private deliver(socket: Socket, payload: Buffer): void {
    if (socket.write(payload) || this.awaitingDrain) return;
    this.awaitingDrain = true;
    this.channel.pauseIncoming();
    socket.once('drain', () => {
      this.awaitingDrain = false;
      this.channel.resumeIncoming();
    });
  }
}

function endReason(end: ChannelEnd): Error | undefined {
  switch (end.reason) {
    case 'failed':
      return end.error;
    case 'closed':
      return new Error(end.message ? `Session Manager ended the session: ${end.message}` : 'Session Manager ended the session.');
    case 'terminated':
      return undefined;
  }
}

function sessionRequest(options: PortForwardOptions, localPort: number): StartSessionRequest {
  // Every parameter is a list of strings. localPortNumber is only read by clients, but we say
  // where we listen, as the plugin does.
  const common = { portNumber: [String(options.remotePort)], localPortNumber: [String(localPort)] };
  return options.remoteHost
    ? { target: options.target, documentName: 'AWS-StartPortForwardingSessionToRemoteHost', parameters: { host: [options.remoteHost], ...common } }
    : { target: options.target, documentName: 'AWS-StartPortForwardingSession', parameters: common };
}

function checkOptions(options: PortForwardOptions): void {
  if (options.signal?.aborted) throw new CancelledError();
  if (!options.target) throw new UserError('Give the instance to forward to.', undefined);
  if (!isPort(options.remotePort, 1)) throw new UserError(`The remote port must be a whole number from 1 to 65535, not ${options.remotePort}.`, undefined);
  if (options.localPort !== undefined && !isPort(options.localPort, 0)) {
    throw new UserError(`The local port must be a whole number from 1 to 65535 (or 0 for any free port), not ${options.localPort}.`, undefined);
  }
  if (options.remoteHost !== undefined && !options.remoteHost.trim()) throw new UserError('The remote host is empty.', undefined);
}

function isPort(value: number, min: number): boolean {
  return Number.isInteger(value) && value >= min && value <= 65535;
}

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => reject(listenError(err, port, host)));
    server.listen(port, host, () => {
      server.removeAllListeners('error');
      // Later listener errors (none are expected once bound) must not crash the host process.
      server.on('error', () => undefined);
      resolve();
    });
  });
}

function listenError(err: NodeJS.ErrnoException, port: number, host: string): Error {
  const where = `${host}:${port}`;
  switch (err.code) {
    case 'EADDRINUSE':
      return new UserError(`Cannot listen on ${where}: the port is in use. Choose another local port, or 0 for any free one.`, err.code, { cause: err });
    case 'EACCES':
      return new UserError(`Cannot listen on ${where}: not allowed (ports below 1024 need administrator rights). Choose a port above 1024.`, err.code, { cause: err });
    case 'EADDRNOTAVAIL':
    case 'ENOTFOUND':
      return new UserError(`Cannot listen on ${where}: ${host} is not an address of this machine.`, err.code, { cause: err });
    default:
      return new UserError(`Cannot listen on ${where}: ${err.message}`, err.code, { cause: err });
  }
}

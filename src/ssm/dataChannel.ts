// One Session Manager data channel over a websocket: OpenDataChannel, the handshake, reliable
// ordered delivery both ways, pacing, and resuming after a dropped websocket
// (shared/ssm-protocol.md §3, §6, §7, §11). It carries payloads and knows nothing of terminals or
// ports: a shell session and a port-forwarding session both sit on top of it.
import { randomUUID } from 'node:crypto';
import WebSocket from 'ws';
import { isTransient } from '../aws/errors';
import { CancelledError } from '../core/progress';
import { Emitter, type Listen } from './events';
import { answerHandshake, CLIENT_VERSION, type SessionInfo } from './handshake';
import type { GenerateDataKey, SessionCipher } from './kms';
import { decodeMessage, encodeMessage, MessageType, PayloadType, type ClientMessage } from './messages';
import { Pacer } from './pacer';
import {
  acknowledgementFor,
  inputMessage,
  jsonPayload,
  parseAcknowledgement,
  parseChannelClosed,
  parseEncryptionChallenge,
  parseHandshakeComplete,
  parseHandshakeRequest,
} from './payloads';
import { ReorderBuffer } from './reorderBuffer';
import { SendQueue } from './sendQueue';
import { SendWindow, type InFlightMessage } from './sendWindow';

/** Where to connect. Both are credentials: never log them (describeStreamUrl drops the query). */
export interface StreamCredentials {
  readonly streamUrl: string;
  readonly tokenValue: string;
}

export interface DataChannelOptions {
  readonly sessionId: string;
  /** The instance id; part of the KMS encryption context. */
  readonly targetId: string;
  readonly stream: StreamCredentials;
  /**
   * ResumeSession, after the websocket dropped. An empty token means the session is over. Throw
   * an error that `isTransient` recognises to be asked again, any other to give up.
   */
  readonly resume: (signal: AbortSignal) => Promise<Partial<StreamCredentials>>;
  /** TerminateSession; called by close() and when the channel fails for good. */
  readonly terminate: () => Promise<void>;
  /** Needed only when Session Manager preferences turn KMS encryption on. */
  readonly generateDataKey?: GenerateDataKey;
  readonly clientVersion?: string;
  readonly tuning?: Partial<ChannelTuning>;
  readonly now?: () => number;
  /** Diagnostics for an output channel; never receives credentials. */
  readonly log?: (line: string) => void;
  /** Makes the websocket, e.g. with a proxy agent (ws ignores proxy variables). */
  readonly createWebSocket?: (url: string) => WebSocket;
}

export interface ChannelTuning {
  /** Sent input messages not yet acknowledged; beyond it senders wait (backpressure). */
  readonly maxUnacked: number;
  readonly messagesPerSecond: number;
  readonly burst: number;
  /** How often retransmission timeouts are checked. */
  readonly tickMs: number;
  /** Websocket pings; a socket that misses one pong is treated as dropped. */
  readonly pingIntervalMs: number;
  /** From the websocket upgrade to the agent's first message or handshake completing. */
  readonly readyTimeoutMs: number;
  /** How long to keep trying ResumeSession after a drop. */
  readonly resumeBudgetMs: number;
  /** How long the agent may leave our oldest message unacknowledged before we give up. */
  readonly giveUpAfterMs: number;
}

export const DEFAULT_TUNING: ChannelTuning = {
  maxUnacked: 200,
  messagesPerSecond: 900,
  burst: 100,
  tickMs: 100,
  pingIntervalMs: 30_000,
  readyTimeoutMs: 60_000,
  resumeBudgetMs: 120_000,
  giveUpAfterMs: 300_000,
};

/** A payload the agent sent, in order and decrypted. */
export interface ChannelPayload {
  readonly payloadType: number;
  readonly payload: Buffer;
}

export interface ChannelEnd {
  /** `closed`: the service ended the session; `terminated`: close() was called; `failed`: see error. */
  readonly reason: 'closed' | 'terminated' | 'failed';
  /** The service's explanation (idle timeout, terminated elsewhere…), when it gave one. */
  readonly message?: string;
  readonly error?: Error;
}

export type ConnectionState = 'connected' | 'reconnecting';

type Phase = 'idle' | 'connecting' | 'handshake' | 'ready' | 'ended';

export class DataChannel {
  private readonly tuning: ChannelTuning;
  private readonly now: () => number;
  private readonly window = new SendWindow();
  private readonly incoming = new ReorderBuffer<ClientMessage>();
  private readonly queue = new SendQueue();
  private readonly pacer: Pacer;
  /** Aborted when the channel ends: stops a KMS call or a resume in progress. */
  private readonly lifetime = new AbortController();
  /** Reused on every reconnect so the service sees the same client. */
  private readonly clientId = randomUUID();
  private streamUrl: string;
  private phase: Phase = 'idle';
  private socket?: WebSocket;
  private awaitingPong = false;
  /** Set by pause_publication: the peer is away, so send nothing new and resend nothing. */
  private paused = false;
  /** Set by pauseIncoming(): the websocket is not read, so the agent's acks wait unread too. */
  private incomingPaused = false;
  private incomingResumedAt = 0;
  private cipher?: SessionCipher;
  private info?: SessionInfo;
  /** Payload handling is serial, because answering a handshake awaits KMS. */
  private delivery: Promise<void> = Promise.resolve();
  private readonly timers: NodeJS.Timeout[] = [];
  private flushTimer?: NodeJS.Timeout;
  private ready?: { resolve(info: SessionInfo): void; reject(err: Error): void };

  private readonly payloadEmitter = new Emitter<ChannelPayload>();
  private readonly endEmitter = new Emitter<ChannelEnd>();
  private readonly connectionEmitter = new Emitter<ConnectionState>();
  /** Payloads from the agent, in sequence order: Output, StdErr, ExitCode (decrypted) and Flag. */
  readonly onPayload: Listen<ChannelPayload> = this.payloadEmitter.event;
  /** Fires once, when the channel is over for whatever reason. */
  readonly onEnd: Listen<ChannelEnd> = this.endEmitter.event;
  readonly onConnectionChange: Listen<ConnectionState> = this.connectionEmitter.event;

  constructor(private readonly options: DataChannelOptions) {
    this.tuning = { ...DEFAULT_TUNING, ...options.tuning };
    this.now = options.now ?? Date.now;
    this.pacer = new Pacer(this.tuning.messagesPerSecond, this.tuning.burst, this.now);
    this.streamUrl = options.stream.streamUrl;
  }

  get sessionId(): string {
    return this.options.sessionId;
  }

  /** Set once the session is ready. */
  get session(): SessionInfo | undefined {
    return this.info;
  }

  get ended(): boolean {
    return this.phase === 'ended';
  }

  /**
   * Connects and waits until the session is ready: handshake complete, or the first output of a
   * session without handshake. Subscribe to onPayload before, or the first output is missed.
   */
  async open(signal?: AbortSignal): Promise<SessionInfo> {
    if (this.phase !== 'idle') throw new Error('DataChannel.open() was called twice.');
    this.phase = 'connecting';
    const ready = new Promise<SessionInfo>((resolve, reject) => (this.ready = { resolve, reject }));
    ready.catch(() => undefined); // observed below; this keeps an early failure from going unhandled
    const abort = () => this.fail(new CancelledError(), true);
    signal?.addEventListener('abort', abort, { once: true });
    const readyTimer = setTimeout(
      () => this.fail(new Error(`The instance did not start the session within ${this.tuning.readyTimeoutMs / 1000} s. Check that its SSM Agent is running and online.`), true),
      this.tuning.readyTimeoutMs,
    );
    try {
      if (signal?.aborted) throw new CancelledError();
      await this.connect(this.options.stream.tokenValue, this.lifetime.signal);
      this.startTimers();
      return await ready;
    } catch (err) {
      this.fail(asError(err), true);
      throw err;
    } finally {
      clearTimeout(readyTimer);
      signal?.removeEventListener('abort', abort);
    }
  }

  /**
   * Sends bytes as Output payloads of at most 1,024 bytes. Resolves once every byte has a
   * sequence number (the channel keeps it until acknowledged), so awaiting it is backpressure.
   */
  sendOutput(data: Buffer): Promise<void> {
    const sent = this.queue.push(PayloadType.Output, data);
    this.flush();
    return sent;
  }

  /** Sends a control payload (Size, Flag) in sequence with the data. */
  sendControl(payloadType: number, payload: Buffer): Promise<void> {
    const sent = this.queue.push(payloadType, payload);
    this.flush();
    return sent;
  }

  /**
   * Stops reading the websocket until resumeIncoming(), for a consumer that cannot keep up.
   * The agent then stops sending as its unacknowledged messages pile up, as it does when the
   * plugin's reader blocks. A few messages already read may still be delivered.
   */
  pauseIncoming(): void {
    if (this.incomingPaused) return;
    this.incomingPaused = true;
    this.socket?.pause();
  }

  resumeIncoming(): void {
    if (!this.incomingPaused) return;
    this.incomingPaused = false;
    this.incomingResumedAt = this.now();
    this.awaitingPong = false;
    // No flush here: the acks waiting in the socket come first, or everything unacknowledged
    // would look overdue and be sent again.
    this.socket?.resume();
  }

  /** Ends the session: TerminateSession, then the websocket closes. */
  async close(): Promise<void> {
    if (this.phase === 'ended') return;
    this.end({ reason: 'terminated' });
    await this.options.terminate();
  }

  private connect(tokenValue: string, signal: AbortSignal): Promise<void> {
    const url = this.streamUrl;
    return new Promise((resolve, reject) => {
      // The URL is used exactly as the service returned it: its query names the service cell.
      const socket = this.options.createWebSocket?.(url) ?? new WebSocket(url, { perMessageDeflate: false, handshakeTimeout: 45_000 });
      const onAbort = () => socket.terminate();
      signal.addEventListener('abort', onAbort, { once: true });
      const settle = (err?: Error) => {
        signal.removeEventListener('abort', onAbort);
        socket.removeAllListeners('open');
        if (err) reject(err);
        else resolve();
      };
      socket.once('open', () => {
        if (signal.aborted) return settle(new CancelledError());
        socket.send(
          JSON.stringify({
            MessageSchemaVersion: '1.0',
            RequestId: randomUUID(),
            TokenValue: tokenValue,
            ClientId: this.clientId,
            ClientVersion: this.options.clientVersion ?? CLIENT_VERSION,
          }),
        );
        this.attach(socket);
        settle();
      });
      socket.once('error', (err) => {
        if (this.socket !== socket) settle(new ConnectError(`Could not open the Session Manager data channel at ${describeStreamUrl(url)}: ${err.message}`));
      });
      socket.once('close', () => {
        if (this.socket !== socket) settle(signal.aborted ? new CancelledError() : new ConnectError(`The Session Manager data channel at ${describeStreamUrl(url)} closed while opening.`));
      });
    });
  }

  private attach(socket: WebSocket): void {
    this.socket = socket;
    this.awaitingPong = false;
    if (this.incomingPaused) socket.pause();
    // A new socket carries again everything not acknowledged on the old one, oldest first.
    this.window.resendAll();
    socket.on('message', (data: WebSocket.RawData) => this.receive(toBuffer(data)));
    socket.on('pong', () => (this.awaitingPong = false));
    socket.on('error', (err) => this.log(`Data channel websocket error: ${err.message}`));
    socket.on('close', (code) => this.socketClosed(socket, code));
    this.flush();
  }

  private startTimers(): void {
    const tick = setInterval(() => this.onTick(), this.tuning.tickMs);
    const ping = setInterval(() => this.ping(), this.tuning.pingIntervalMs);
    tick.unref();
    ping.unref();
    this.timers.push(tick, ping);
  }

  private onTick(): void {
    // Acks that wait unread while incoming is paused are not the agent's silence.
    const oldest = this.window.oldestFirstSentAt();
    const silentSince = oldest === undefined ? undefined : Math.max(oldest, this.incomingResumedAt);
    if (this.socket && !this.incomingPaused && silentSince !== undefined && this.now() - silentSince > this.tuning.giveUpAfterMs) {
      this.fail(new Error(`The instance stopped acknowledging input for ${Math.round(this.tuning.giveUpAfterMs / 1000)} s; the session was ended.`), true);
      return;
    }
    this.flush();
  }

  private ping(): void {
    const socket = this.socket;
    // A paused socket reads no pongs either.
    if (!socket || this.incomingPaused) return;
    if (this.awaitingPong) {
      this.log('Data channel websocket missed a pong; reconnecting.');
      socket.terminate();
      return;
    }
    this.awaitingPong = true;
    socket.ping('keepalive');
  }

  private socketClosed(socket: WebSocket, code: number): void {
    if (this.socket !== socket) return;
    this.socket = undefined;
    if (this.phase === 'ended') return;
    // Any close we did not ask for, including the service's hourly "Bye" (1000), is a drop.
    this.log(`Data channel websocket closed (code ${code}); resuming the session.`);
    void this.reconnect();
  }

  private async reconnect(): Promise<void> {
    this.connectionEmitter.fire('reconnecting');
    const signal = this.lifetime.signal;
    const deadline = this.now() + this.tuning.resumeBudgetMs;
    let delay = 100 + Math.random() * 100;
    for (;;) {
      try {
        await sleep(delay, signal);
        const fresh = await this.options.resume(signal);
        if (!fresh.tokenValue) {
          this.fail(new Error('The session timed out while disconnected and cannot be resumed. Open a new one.'), false);
          return;
        }
        if (fresh.streamUrl) this.streamUrl = fresh.streamUrl;
        await this.connect(fresh.tokenValue, signal);
        this.log('Data channel resumed.');
        this.connectionEmitter.fire('connected');
        return;
      } catch (err) {
        if (this.phase === 'ended') return;
        const error = asError(err);
        const retriable = error instanceof ConnectError || isTransient(err);
        if (!retriable || this.now() + delay > deadline) {
          this.fail(retriable ? new Error(`Lost the connection to the session and could not resume it: ${error.message}`, { cause: err }) : error, true);
          return;
        }
        this.log(`Resuming failed (${error.message}); trying again.`);
        delay = Math.min(delay * 2, 5_000);
      }
    }
  }

  private receive(bytes: Buffer): void {
    if (this.phase === 'ended') return;
    this.awaitingPong = false;
    let message: ClientMessage;
    try {
      message = decodeMessage(bytes);
    } catch (err) {
      this.log(`Ignored a malformed data channel message: ${asError(err).message}`);
      return;
    }
    switch (message.messageType) {
      case MessageType.Acknowledge:
        this.paused = false;
        this.receiveAcknowledgement(message);
        return;
      case MessageType.OutputStreamData: {
        this.paused = false;
        const arrival = this.incoming.accept(message.sequenceNumber, message);
        if (arrival.acknowledge) this.sendRaw(encodeMessage(acknowledgementFor(message, this.now())));
        for (const deliverable of arrival.deliverable) this.serially(() => this.handlePayload(deliverable));
        return;
      }
      case MessageType.ChannelClosed: {
        const body = parseChannelClosed(message.payload);
        // Queued behind delivery, so output sent just before the close is still shown.
        this.serially(() => this.end({ reason: 'closed', message: body.Output || undefined }));
        return;
      }
      case MessageType.PausePublication:
        this.paused = true;
        return;
      case MessageType.StartPublication:
        this.paused = false;
        this.flush();
        return;
      default:
        return; // Types meant for the agent's control channel, or newer ones: ignored, as the plugin does.
    }
  }

  private receiveAcknowledgement(message: ClientMessage): void {
    try {
      const ack = parseAcknowledgement(message.payload);
      if (this.window.acknowledge(ack.AcknowledgedMessageSequenceNumber, this.now())) this.flush();
    } catch (err) {
      this.log(`Ignored a malformed acknowledgement: ${asError(err).message}`);
    }
  }

  private serially(task: () => void | Promise<void>): void {
    this.delivery = this.delivery.then(task).catch((err) => this.fail(asError(err), true));
  }

  private async handlePayload(message: ClientMessage): Promise<void> {
    if (this.phase === 'ended') return;
    switch (message.payloadType) {
      case PayloadType.HandshakeRequest:
        return this.answerHandshake(message.payload);
      case PayloadType.EncChallengeRequest: {
        if (!this.cipher) throw new Error('The instance sent an encryption challenge before agreeing a KMS key.');
        const challenge = parseEncryptionChallenge(message.payload).Challenge;
        this.sendNow(PayloadType.EncChallengeResponse, jsonPayload({ Challenge: this.cipher.answerChallenge(challenge) }));
        return;
      }
      case PayloadType.HandshakeComplete: {
        const complete = parseHandshakeComplete(message.payload);
        this.becomeReady({ ...(this.info ?? { sessionType: '', encrypted: false }), customerMessage: complete.CustomerMessage || undefined });
        return;
      }
      case PayloadType.Output:
      case PayloadType.StdErr:
      case PayloadType.ExitCode: {
        // Without a handshake the shell's first output is what says the session is ready.
        if (this.phase === 'connecting') this.becomeReady({ sessionType: 'Standard_Stream', encrypted: false });
        const payload = this.cipher ? this.cipher.decrypt(message.payload) : message.payload;
        this.payloadEmitter.fire({ payloadType: message.payloadType, payload });
        return;
      }
      case PayloadType.Flag:
        this.payloadEmitter.fire({ payloadType: message.payloadType, payload: message.payload });
        return;
      default:
        return;
    }
  }

  private async answerHandshake(payload: Buffer): Promise<void> {
    this.phase = 'handshake';
    const answer = await answerHandshake(parseHandshakeRequest(payload), {
      identity: { sessionId: this.options.sessionId, targetId: this.options.targetId },
      generateDataKey: this.options.generateDataKey,
      clientVersion: this.options.clientVersion ?? CLIENT_VERSION,
      signal: this.lifetime.signal,
    });
    this.cipher = answer.cipher;
    this.info = answer.info;
    this.sendNow(PayloadType.HandshakeResponse, jsonPayload(answer.response));
    if (answer.failure) throw answer.failure;
  }

  private becomeReady(info: SessionInfo): void {
    this.info = info;
    this.phase = 'ready';
    this.ready?.resolve(info);
    this.flush();
  }

  /** Handshake replies skip the queue: nothing else may be sent before the session is ready. */
  private sendNow(payloadType: number, payload: Buffer): void {
    const message = this.window.add((seq) => encodeMessage(inputMessage(seq, payloadType, payload, this.now())));
    this.transmit(message);
  }

  /**
   * Puts on the wire what may go now: first retransmissions whose timeout ran out, then new
   * payloads while the window has room, all within the pacing budget.
   */
  private flush(): void {
    if (!this.socket || this.paused || this.phase === 'ended') return;
    // Retransmitting while the acks sit unread in a paused socket would only resend what arrived.
    for (const message of this.incomingPaused ? [] : this.window.due(this.now())) {
      if (!this.pacer.tryTake()) return this.flushLater();
      this.transmit(message);
    }
    while (this.phase === 'ready' && this.queue.length > 0 && this.window.size < this.tuning.maxUnacked) {
      if (!this.pacer.tryTake()) return this.flushLater();
      const next = this.queue.shift();
      if (!next) return;
      const payload = this.cipher && next.payloadType === PayloadType.Output ? this.cipher.encrypt(next.payload) : next.payload;
      this.transmit(this.window.add((seq) => encodeMessage(inputMessage(seq, next.payloadType, payload, this.now()))));
    }
  }

  private flushLater(): void {
    if (this.flushTimer) return;
    this.flushTimer = setTimeout(() => {
      this.flushTimer = undefined;
      this.flush();
    }, Math.max(1, this.pacer.waitMs()));
  }

  private transmit(message: InFlightMessage): void {
    if (this.sendRaw(message.bytes)) this.window.markSent(message, this.now());
  }

  private sendRaw(bytes: Buffer): boolean {
    if (this.socket?.readyState !== WebSocket.OPEN) return false;
    this.socket.send(bytes);
    return true;
  }

  /** Ends the channel because of an error; `terminate` also ends the session on the service. */
  private fail(error: Error, terminate: boolean): void {
    if (this.phase === 'ended') return;
    this.end({ reason: 'failed', error });
    if (terminate) this.options.terminate().catch((err) => this.log(`TerminateSession failed: ${asError(err).message}`));
  }

  private end(end: ChannelEnd): void {
    if (this.phase === 'ended') return;
    this.phase = 'ended';
    for (const timer of this.timers) clearInterval(timer);
    clearTimeout(this.flushTimer);
    this.lifetime.abort();
    const error = end.error ?? new Error(end.message ?? 'The session has ended.');
    this.queue.fail(error);
    this.ready?.reject(error);
    const socket = this.socket;
    this.socket = undefined;
    socket?.close(1000);
    this.endEmitter.fire(end);
    this.payloadEmitter.clear();
    this.endEmitter.clear();
    this.connectionEmitter.clear();
  }

  private log(line: string): void {
    this.options.log?.(line);
  }
}

/** The websocket could not be opened; worth another try while resuming. */
class ConnectError extends Error {
  override name = 'ConnectError';
}

/** The stream URL without its query, which holds service-issued parameters; safe to show. */
export function describeStreamUrl(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.protocol}//${parsed.host}${parsed.pathname}`;
  } catch {
    return 'the Session Manager endpoint';
  }
}

function toBuffer(data: WebSocket.RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(new CancelledError());
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(new CancelledError());
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

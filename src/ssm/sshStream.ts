// A session's single byte stream as a Node Duplex (shared/ssm-protocol.md §9.4): the
// AWS-StartSSHSession document, where the agent dials the instance's sshd when the session starts
// and ends the session when sshd closes. What an OpenSSH ProxyCommand, or an SSH library in
// process, needs.
import { Duplex } from 'node:stream';
import type { Connection } from '../aws/connection';
import { UserError } from '../aws/errors';
import type { ChannelEnd } from './dataChannel';
import type { GenerateDataKey } from './kms';
import { PayloadType } from './messages';
import { endPortSession, type PortChannel } from './portForward';
import { startDataChannel } from './session';

export interface SshStreamOptions {
  /** Instance id (i-…) or managed node id (mi-…). */
  readonly target: string;
  /** The sshd port on the instance; default 22. */
  readonly port?: number;
  readonly signal?: AbortSignal;
  readonly generateDataKey?: GenerateDataKey;
}

/** Starts an AWS-StartSSHSession session and resolves with its stream once it is ready. */
export async function startSshStream(connection: Connection, options: SshStreamOptions): Promise<SessionStream> {
  const port = options.port ?? 22;
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new UserError(`The SSH port must be a whole number from 1 to 65535, not ${port}.`, undefined);
  const channel = await startDataChannel(
    connection,
    { target: options.target, documentName: 'AWS-StartSSHSession', parameters: { portNumber: [String(port)] } },
    { signal: options.signal, generateDataKey: options.generateDataKey },
  );
  // Built before open(): sshd speaks first, and its banner may follow the handshake at once.
  const stream = new SessionStream(channel);
  // A failed open destroys the stream with the error that open() throws below; nobody holds the
  // stream yet to hear it twice.
  const untilOpen = () => undefined;
  stream.on('error', untilOpen);
  await channel.open(options.signal);
  stream.off('error', untilOpen);
  return stream;
}

/**
 * Bytes written go to the remote port; bytes the agent sends are read. The readable side ends
 * when the session ends normally (the remote side closed), and errors when it failed. Ending the
 * writable side does not end the session: the protocol has no half-close, so call close().
 */
export class SessionStream extends Duplex {
  private readonly ended: Promise<ChannelEnd>;
  /** Set when the session is over; writes after a normal end are dropped, as the remote side is gone. */
  private over?: ChannelEnd;
  private closing?: Promise<void>;

  constructor(private readonly channel: PortChannel) {
    super({ allowHalfOpen: true });
    channel.onPayload(({ payloadType, payload }) => {
      // A slow reader stops the websocket being read; reading again resumes it (_read).
      if (payloadType === PayloadType.Output && !this.push(payload)) channel.pauseIncoming();
    });
    this.ended = new Promise((resolve) =>
      channel.onEnd((end) => {
        this.over = end;
        resolve(end);
        if (end.reason === 'failed') this.destroy(end.error);
        else this.push(null);
      }),
    );
  }

  get sessionId(): string {
    return this.channel.sessionId;
  }

  /** Ends the session after what was written so far, and resolves when it is over. */
  close(): Promise<void> {
    this.closing ??= endPortSession(this.channel, this.ended);
    return this.closing;
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    if (this.over && this.over.reason !== 'failed') return callback();
    this.channel.sendOutput(chunk).then(
      () => callback(),
      (err: Error) => callback(this.over && this.over.reason !== 'failed' ? null : err),
    );
  }

  override _read(): void {
    this.channel.resumeIncoming();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.close().then(
      () => callback(error),
      (err) => callback(error ?? err),
    );
  }
}

// Starting Session Manager sessions through the SSM API, and the interactive shell on top of a
// data channel. The terminal (a VS Code Pseudoterminal) and port forwarding build on these.
import { GenerateDataKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { ResumeSessionCommand, SSMClient, StartSessionCommand, TerminateSessionCommand } from '@aws-sdk/client-ssm';
import { StringDecoder } from 'node:string_decoder';
import type { Connection } from '../aws/connection';
import { errorCode, explainAwsError, isTransient, UserError } from '../aws/errors';
import { DataChannel, type ChannelEnd, type ChannelTuning, type ConnectionState } from './dataChannel';
import { Emitter, type Listen } from './events';
import type { SessionInfo } from './handshake';
import type { GenerateDataKey } from './kms';
import { PayloadType } from './messages';
import { terminalSizePayload, type TerminalSize } from './payloads';

export interface StartSessionRequest {
  /** Instance id (i-…) or managed node id (mi-…). */
  readonly target: string;
  /** Omitted: SSM-SessionManagerRunShell, the account's shell preferences. */
  readonly documentName?: string;
  /** Document parameters; every value is a list of strings, e.g. { portNumber: ['8888'] }. */
  readonly parameters?: Record<string, string[]>;
  /** Shown in CloudTrail; at most 256 characters. */
  readonly reason?: string;
}

export interface SessionOptions {
  readonly signal?: AbortSignal;
  /** kms:GenerateDataKey, for accounts whose Session Manager preferences turn on KMS encryption. */
  readonly generateDataKey?: GenerateDataKey;
  readonly log?: (line: string) => void;
  readonly tuning?: Partial<ChannelTuning>;
}

/**
 * Calls StartSession and returns the session's data channel, not yet opened, so the caller can
 * subscribe to its payloads before calling `open()`. A channel that fails to open terminates the
 * session itself.
 */
export async function startDataChannel(connection: Connection, request: StartSessionRequest, options: SessionOptions = {}): Promise<DataChannel> {
  const ssm = await connection.client(SSMClient, 'ssm');
  const profile = connection.profileName;
  const { target } = request;
  let started;
  try {
    started = await ssm.send(
      new StartSessionCommand({ Target: target, DocumentName: request.documentName, Parameters: request.parameters, Reason: request.reason }),
      { abortSignal: options.signal },
    );
  } catch (err) {
    throw explainStartFailure(err, target, profile);
  }
  const { SessionId: sessionId, StreamUrl: streamUrl, TokenValue: tokenValue } = started;
  if (!sessionId || !streamUrl || !tokenValue) throw new UserError(`Start a session on ${target} failed: the service returned no session.`, undefined);

  return new DataChannel({
    sessionId,
    targetId: target,
    stream: { streamUrl, tokenValue },
    resume: async (signal) => {
      try {
        const resumed = await ssm.send(new ResumeSessionCommand({ SessionId: sessionId }), { abortSignal: signal });
        return { streamUrl: resumed.StreamUrl, tokenValue: resumed.TokenValue };
      } catch (err) {
        // Transient errors go back raw so the channel tries again; others end the session.
        if (isTransient(err)) throw err;
        throw explainAwsError(err, { operation: `Resume session ${sessionId}`, action: 'ssm:ResumeSession', profile });
      }
    },
    terminate: async () => {
      try {
        await ssm.send(new TerminateSessionCommand({ SessionId: sessionId }));
      } catch (err) {
        throw explainAwsError(err, { operation: `End session ${sessionId}`, action: 'ssm:TerminateSession', profile });
      }
    },
    generateDataKey: options.generateDataKey ?? kmsDataKeys(connection),
    tuning: options.tuning,
    log: options.log,
  });
}

function explainStartFailure(err: unknown, target: string, profile: string): Error {
  if (errorCode(err) === 'TargetNotConnected') {
    return new UserError(
      `Start a session on ${target} failed: the instance is not connected to Session Manager. Check that it is running, that its SSM Agent is online, and that its instance profile allows Session Manager (AmazonSSMManagedInstanceCore).`,
      'TargetNotConnected',
      { cause: err },
    );
  }
  return explainAwsError(err, { operation: `Start a session on ${target}`, action: 'ssm:StartSession', resource: target, profile });
}

export interface ShellSessionOptions extends SessionOptions, StartSessionRequest {
  /** The terminal's size, sent as soon as the session is ready; without it the pty stays 80×24. */
  readonly size?: TerminalSize;
}

/** How a session ended; same shape as the data channel's end. */
export type SessionExit = ChannelEnd;

/** Starts an interactive shell on an instance and resolves when its shell is ready. */
export async function startShellSession(connection: Connection, options: ShellSessionOptions): Promise<ShellSession> {
  const channel = await startDataChannel(connection, options, options);
  const shell = new ShellSession(channel);
  await channel.open(options.signal);
  if (options.size) await shell.resize(options.size.cols, options.size.rows);
  return shell;
}

/** What a shell needs of its data channel; a port-forwarding session needs the same. */
export type PayloadChannel = Pick<
  DataChannel,
  'sessionId' | 'session' | 'onPayload' | 'onEnd' | 'onConnectionChange' | 'sendOutput' | 'sendControl' | 'close'
>;

/**
 * An interactive shell over a data channel. Output is decoded as one UTF-8 stream, so a
 * character split across messages arrives whole.
 */
export class ShellSession {
  private readonly decoder = new StringDecoder('utf8');
  private readonly dataEmitter = new Emitter<string>();
  private readonly exitEmitter = new Emitter<SessionExit>();
  /** Output that arrived before anyone listened (the prompt usually does); undefined once handed over. */
  private early: string[] | undefined = [];
  private exit?: SessionExit;
  private size?: TerminalSize;

  constructor(private readonly channel: PayloadChannel) {
    channel.onPayload(({ payloadType, payload }) => {
      // The plugin prints every payload type; StdErr and ExitCode come from command documents.
      if (payloadType === PayloadType.Output || payloadType === PayloadType.StdErr || payloadType === PayloadType.ExitCode) {
        this.emitText(this.decoder.write(payload));
      }
    });
    channel.onEnd((end) => {
      this.emitText(this.decoder.end());
      this.exit = end;
      this.exitEmitter.fire(end);
    });
  }

  get sessionId(): string {
    return this.channel.sessionId;
  }

  get info(): SessionInfo | undefined {
    return this.channel.session;
  }

  /** Disconnected and resuming, or connected again; for a status line. */
  get onConnectionChange(): Listen<ConnectionState> {
    return this.channel.onConnectionChange;
  }

  /** Decoded output. Output received before the first listener is handed to it. */
  readonly onData: Listen<string> = (listener) => {
    const subscription = this.dataEmitter.event(listener);
    if (this.early) {
      queueMicrotask(() => {
        const early = this.early ?? [];
        this.early = undefined;
        for (const text of early) this.dataEmitter.fire(text);
      });
    }
    return subscription;
  };

  /** Fires once when the session ends, also for a listener added after it ended. */
  readonly onExit: Listen<SessionExit> = (listener) => {
    const subscription = this.exitEmitter.event(listener);
    const exit = this.exit;
    if (exit) queueMicrotask(() => listener(exit));
    return subscription;
  };

  /**
   * Sends keystrokes or pasted text as the terminal produced them (Enter is "\r"). Resolves when
   * the channel has taken all of it; awaiting it paces a large paste.
   */
  write(data: string | Buffer): Promise<void> {
    return this.channel.sendOutput(typeof data === 'string' ? Buffer.from(data, 'utf8') : data);
  }

  /** Sets the remote terminal size; an unchanged size is not sent again. */
  resize(cols: number, rows: number): Promise<void> {
    if (!Number.isInteger(cols) || !Number.isInteger(rows) || cols <= 0 || rows <= 0) {
      return Promise.reject(new RangeError(`Terminal size ${cols}×${rows} is not valid.`));
    }
    if (this.size?.cols === cols && this.size.rows === rows) return Promise.resolve();
    this.size = { cols, rows };
    return this.channel.sendControl(PayloadType.Size, terminalSizePayload(this.size));
  }

  /** Ends the session on the instance (TerminateSession) and closes the channel. */
  close(): Promise<void> {
    return this.channel.close();
  }

  private emitText(text: string): void {
    if (!text) return;
    if (this.early) this.early.push(text);
    else this.dataEmitter.fire(text);
  }
}

/**
 * kms:GenerateDataKey through the connection, for sessions whose Session Manager preferences
 * ask for KMS encryption. The client is made only when a session asks for a key.
 */
function kmsDataKeys(connection: Connection): GenerateDataKey {
  return async (input, signal) => {
    const kms = await connection.client(KMSClient, 'kms');
    try {
      return await kms.send(new GenerateDataKeyCommand(input), { abortSignal: signal });
    } catch (err) {
      throw explainAwsError(err, { operation: 'Getting the session\'s KMS data key', action: 'kms:GenerateDataKey', resource: input.KeyId, profile: connection.profileName });
    }
  };
}

// The payloads carried inside ClientMessages: JSON control bodies and the 4-byte flag
// (shared/ssm-protocol.md §5, §6). Field names are the protocol's own.
import { randomUUID } from 'node:crypto';
import { MessageFlags, MessageType, PayloadType, type ClientMessage } from './messages';

/** Flag values of a PayloadType.Flag payload (§5.3); used by port forwarding. */
export const PortFlag = { DisconnectToPort: 1, TerminateSession: 2, ConnectToPortError: 3 } as const;

/** ActionStatus of a processed handshake action (§6.3). */
export const ActionStatus = { Success: 1, Failed: 2, Unsupported: 3 } as const;

export interface Acknowledgement {
  readonly AcknowledgedMessageType: string;
  readonly AcknowledgedMessageId: string;
  readonly AcknowledgedMessageSequenceNumber: number;
  readonly IsSequentialMessage: boolean;
}

export interface RequestedClientAction {
  readonly ActionType: string;
  readonly ActionParameters?: unknown;
}

export interface HandshakeRequest {
  readonly AgentVersion: string;
  readonly RequestedClientActions: readonly RequestedClientAction[];
}

export interface SessionTypeParameters {
  readonly SessionType: string;
  /** Resolved document properties; set for Port sessions, null for shells. */
  readonly Properties?: Record<string, unknown> | null;
}

export interface KmsEncryptionParameters {
  readonly KMSKeyId: string;
  /** Sent by agents from 3.3.808.0 on; goes into the KMS encryption context when present. */
  readonly Challenge?: string;
}

export interface ProcessedClientAction {
  readonly ActionType: string;
  readonly ActionStatus: number;
  readonly ActionResult: unknown;
  readonly Error: string;
}

export interface HandshakeResponse {
  readonly ClientVersion: string;
  readonly ProcessedClientActions: readonly ProcessedClientAction[];
  readonly Errors: readonly string[] | null;
}

export interface HandshakeComplete {
  readonly HandshakeTimeToComplete: number;
  readonly CustomerMessage: string;
}

/** Body of EncChallengeRequest and EncChallengeResponse: base64 of nonce‖ciphertext‖tag. */
export interface EncryptionChallenge {
  readonly Challenge: string;
}

export interface ChannelClosed {
  readonly SessionId?: string;
  readonly Output?: string;
}

export interface TerminalSize {
  readonly cols: number;
  readonly rows: number;
}

/** The acknowledgement message for one received sequenced message (§4.2, §5.4). */
export function acknowledgementFor(received: ClientMessage, now: number): ClientMessage {
  const body: Acknowledgement = {
    AcknowledgedMessageType: received.messageType,
    AcknowledgedMessageId: received.messageId,
    AcknowledgedMessageSequenceNumber: received.sequenceNumber,
    IsSequentialMessage: true,
  };
  return {
    messageType: MessageType.Acknowledge,
    schemaVersion: 1,
    createdDate: now,
    sequenceNumber: 0,
    flags: MessageFlags.Acknowledge,
    messageId: randomUUID(),
    payloadType: PayloadType.None,
    payload: jsonPayload(body),
  };
}

/** A sequenced client → agent message. Client data always has Flags 0. */
export function inputMessage(sequenceNumber: number, payloadType: number, payload: Buffer, now: number): ClientMessage {
  return {
    messageType: MessageType.InputStreamData,
    schemaVersion: 1,
    createdDate: now,
    sequenceNumber,
    flags: 0,
    messageId: randomUUID(),
    payloadType,
    payload,
  };
}

export function jsonPayload(body: unknown): Buffer {
  return Buffer.from(JSON.stringify(body), 'utf8');
}

export function terminalSizePayload(size: TerminalSize): Buffer {
  return jsonPayload({ cols: size.cols, rows: size.rows });
}

export function flagPayload(flag: number): Buffer {
  const bytes = Buffer.alloc(4);
  bytes.writeUInt32BE(flag, 0);
  return bytes;
}

export function readFlag(payload: Buffer): number | undefined {
  return payload.length >= 4 ? payload.readUInt32BE(0) : undefined;
}

export function parseAcknowledgement(payload: Buffer): Acknowledgement {
  const body = parseObject(payload, 'acknowledge');
  if (typeof body.AcknowledgedMessageSequenceNumber !== 'number') {
    throw new SyntaxError('acknowledge has no AcknowledgedMessageSequenceNumber.');
  }
  return body as unknown as Acknowledgement;
}

export function parseHandshakeRequest(payload: Buffer): HandshakeRequest {
  const body = parseObject(payload, 'HandshakeRequest');
  if (!Array.isArray(body.RequestedClientActions)) throw new SyntaxError('HandshakeRequest has no RequestedClientActions.');
  return { AgentVersion: String(body.AgentVersion ?? ''), RequestedClientActions: body.RequestedClientActions as RequestedClientAction[] };
}

export function parseHandshakeComplete(payload: Buffer): HandshakeComplete {
  const body = parseObject(payload, 'HandshakeComplete');
  return { HandshakeTimeToComplete: Number(body.HandshakeTimeToComplete ?? 0), CustomerMessage: String(body.CustomerMessage ?? '') };
}

export function parseEncryptionChallenge(payload: Buffer): EncryptionChallenge {
  const body = parseObject(payload, 'EncChallengeRequest');
  if (typeof body.Challenge !== 'string') throw new SyntaxError('EncChallengeRequest has no Challenge.');
  return { Challenge: body.Challenge };
}

/** channel_closed bodies are informative only; a malformed one still closes the channel. */
export function parseChannelClosed(payload: Buffer): ChannelClosed {
  try {
    const body = parseObject(payload, 'channel_closed');
    return { SessionId: optionalString(body.SessionId), Output: optionalString(body.Output) };
  } catch {
    return {};
  }
}

function parseObject(payload: Buffer, what: string): Record<string, unknown> {
  const body: unknown = JSON.parse(payload.toString('utf8'));
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw new SyntaxError(`${what} payload is not a JSON object.`);
  return body as Record<string, unknown>;
}

function optionalString(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

// The binary ClientMessage that carries every Session Manager data-channel message, in both
// directions. Layout and rules: shared/ssm-protocol.md §4. All integers are big-endian.
import { createHash } from 'node:crypto';

/** Message types the client sends or understands; others are ignored (§5.1). */
export const MessageType = {
  InputStreamData: 'input_stream_data',
  OutputStreamData: 'output_stream_data',
  Acknowledge: 'acknowledge',
  ChannelClosed: 'channel_closed',
  StartPublication: 'start_publication',
  PausePublication: 'pause_publication',
} as const;

/** What a payload holds (§5.2). Acknowledgements use 0. */
export const PayloadType = {
  None: 0,
  Output: 1,
  Error: 2,
  Size: 3,
  Parameter: 4,
  HandshakeRequest: 5,
  HandshakeResponse: 6,
  HandshakeComplete: 7,
  EncChallengeRequest: 8,
  EncChallengeResponse: 9,
  Flag: 10,
  StdErr: 11,
  ExitCode: 12,
} as const;

/** Bits of the Flags field: first and last message of a stream. Acknowledgements carry both. */
export const MessageFlags = { Syn: 1, Fin: 2, Acknowledge: 3 } as const;

export interface ClientMessage {
  readonly messageType: string;
  readonly schemaVersion: number;
  /** Unix epoch milliseconds; never 0. */
  readonly createdDate: number;
  readonly sequenceNumber: number;
  readonly flags: number;
  /** Canonical lowercase hyphenated UUID. */
  readonly messageId: string;
  readonly payloadType: number;
  readonly payload: Buffer;
}

/** What every writer puts in HeaderLength: the offset of the PayloadLength field. */
export const HEADER_LENGTH = 116;
const MESSAGE_TYPE_LENGTH = 32;
const DIGEST_LENGTH = 32;
const MESSAGE_TYPE_OFFSET = 4;
const SCHEMA_VERSION_OFFSET = 36;
const CREATED_DATE_OFFSET = 40;
const SEQUENCE_NUMBER_OFFSET = 48;
const FLAGS_OFFSET = 56;
const MESSAGE_ID_OFFSET = 64;
const DIGEST_OFFSET = 80;
const PAYLOAD_TYPE_OFFSET = 112;

/** A received message that breaks the protocol's validation rules; the caller drops it. */
export class MessageFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MessageFormatError';
  }
}

export function encodeMessage(message: ClientMessage): Buffer {
  const { payload } = message;
  if (Buffer.byteLength(message.messageType, 'utf8') > MESSAGE_TYPE_LENGTH) {
    throw new RangeError(`Message type "${message.messageType}" is longer than ${MESSAGE_TYPE_LENGTH} bytes.`);
  }
  const bytes = Buffer.alloc(HEADER_LENGTH + 4 + payload.length);
  bytes.writeUInt32BE(HEADER_LENGTH, 0);
  // The plugin and the agent pad with spaces; some readers trim only whitespace.
  bytes.fill(0x20, MESSAGE_TYPE_OFFSET, MESSAGE_TYPE_OFFSET + MESSAGE_TYPE_LENGTH);
  bytes.write(message.messageType, MESSAGE_TYPE_OFFSET, 'utf8');
  bytes.writeUInt32BE(message.schemaVersion, SCHEMA_VERSION_OFFSET);
  bytes.writeBigUInt64BE(BigInt(message.createdDate), CREATED_DATE_OFFSET);
  bytes.writeBigInt64BE(BigInt(message.sequenceNumber), SEQUENCE_NUMBER_OFFSET);
  bytes.writeBigUInt64BE(BigInt(message.flags), FLAGS_OFFSET);
  uuidToWire(message.messageId).copy(bytes, MESSAGE_ID_OFFSET);
  sha256(payload).copy(bytes, DIGEST_OFFSET);
  bytes.writeUInt32BE(message.payloadType, PAYLOAD_TYPE_OFFSET);
  bytes.writeUInt32BE(payload.length, HEADER_LENGTH);
  payload.copy(bytes, HEADER_LENGTH + 4);
  return bytes;
}

/**
 * Parses and validates one message. The payload is found through HeaderLength rather than at a
 * fixed offset, and start/pause_publication skip validation because the service fills their
 * length and digest with junk (§4, pitfall 17).
 */
export function decodeMessage(bytes: Buffer): ClientMessage {
  if (bytes.length < HEADER_LENGTH + 4) throw new MessageFormatError(`Message of ${bytes.length} bytes is shorter than a header.`);
  const headerLength = bytes.readUInt32BE(0);
  const messageType = bytes
    .subarray(MESSAGE_TYPE_OFFSET, MESSAGE_TYPE_OFFSET + MESSAGE_TYPE_LENGTH)
    .toString('utf8')
    .replace(/\0/g, '')
    .trim();
  const unvalidated = messageType === MessageType.StartPublication || messageType === MessageType.PausePublication;
  const createdDate = Number(bytes.readBigUInt64BE(CREATED_DATE_OFFSET));
  const payloadStart = headerLength + 4;
  const declaredLength = payloadStart <= bytes.length ? bytes.readUInt32BE(headerLength) : 0;
  const payload = bytes.subarray(payloadStart, Math.min(bytes.length, payloadStart + declaredLength));

  const message: ClientMessage = {
    messageType,
    schemaVersion: bytes.readUInt32BE(SCHEMA_VERSION_OFFSET),
    createdDate,
    sequenceNumber: Number(bytes.readBigInt64BE(SEQUENCE_NUMBER_OFFSET)),
    flags: Number(bytes.readBigUInt64BE(FLAGS_OFFSET)),
    messageId: wireToUuid(bytes.subarray(MESSAGE_ID_OFFSET, MESSAGE_ID_OFFSET + 16)),
    payloadType: bytes.readUInt32BE(PAYLOAD_TYPE_OFFSET),
    payload,
  };
  if (unvalidated) return message;

  if (headerLength === 0) throw new MessageFormatError('HeaderLength is 0.');
  if (payloadStart > bytes.length) throw new MessageFormatError(`HeaderLength ${headerLength} points past the end of the message.`);
  if (!messageType) throw new MessageFormatError('MessageType is empty.');
  if (createdDate === 0) throw new MessageFormatError(`CreatedDate of ${messageType} is 0.`);
  if (payload.length !== declaredLength) throw new MessageFormatError(`${messageType} declares ${declaredLength} payload bytes but carries ${payload.length}.`);
  if (declaredLength !== 0) {
    const digest = bytes.subarray(DIGEST_OFFSET, DIGEST_OFFSET + DIGEST_LENGTH);
    if (!sha256(payload).equals(digest)) throw new MessageFormatError(`Payload digest of ${messageType} does not match its payload.`);
  }
  return message;
}

/**
 * The wire form of a message id: the protocol writes the UUID's low 64 bits first, then the high
 * 64 bits (each half big-endian), so `00112233-…-8899aabbccddeeff` travels as `8899…ff 0011…77`.
 */
export function uuidToWire(uuid: string): Buffer {
  const hex = uuid.replace(/-/g, '');
  if (!/^[0-9a-fA-F]{32}$/.test(hex)) throw new RangeError(`"${uuid}" is not a UUID.`);
  const canonical = Buffer.from(hex, 'hex');
  return Buffer.concat([canonical.subarray(8, 16), canonical.subarray(0, 8)]);
}

export function wireToUuid(wire: Buffer): string {
  const hex = Buffer.concat([wire.subarray(8, 16), wire.subarray(0, 8)]).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

function sha256(bytes: Buffer): Buffer {
  return createHash('sha256').update(bytes).digest();
}

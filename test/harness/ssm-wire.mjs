// The agent's view of the Session Manager wire format, for the local SSM server. Written apart
// from src/ssm on purpose: the server is a second, independent reading of shared/ssm-protocol.md
// §4, so a mistake in the client's codec shows up as a failed exchange instead of agreeing with itself.
import { createHash, randomUUID } from 'node:crypto';

const HEADER_LENGTH = 116;

/**
 * @typedef {object} WireMessage
 * @property {string} messageType
 * @property {number} sequenceNumber
 * @property {number} flags
 * @property {string} messageId
 * @property {number} payloadType
 * @property {Buffer} payload
 * @property {number} [createdDate]
 */

/** @param {WireMessage} m @returns {Buffer} */
export function encode(m) {
  const out = Buffer.alloc(120 + m.payload.length, 0);
  out.writeUInt32BE(HEADER_LENGTH, 0);
  Buffer.from(m.messageType.padEnd(32, ' '), 'ascii').copy(out, 4);
  out.writeUInt32BE(1, 36);
  out.writeBigUInt64BE(BigInt(m.createdDate ?? Date.now()), 40);
  out.writeBigInt64BE(BigInt(m.sequenceNumber), 48);
  out.writeBigUInt64BE(BigInt(m.flags), 56);
  const id = Buffer.from(m.messageId.replaceAll('-', ''), 'hex');
  id.copy(out, 64, 8, 16);
  id.copy(out, 72, 0, 8);
  createHash('sha256').update(m.payload).digest().copy(out, 80);
  out.writeUInt32BE(m.payloadType, 112);
  out.writeUInt32BE(m.payload.length, 116);
  m.payload.copy(out, 120);
  return out;
}

/** @param {Buffer} bytes @returns {WireMessage} */
export function decode(bytes) {
  const headerLength = bytes.readUInt32BE(0);
  const length = bytes.readUInt32BE(headerLength);
  const payload = bytes.subarray(headerLength + 4, headerLength + 4 + length);
  if (length && !createHash('sha256').update(payload).digest().equals(bytes.subarray(80, 112))) {
    throw new Error('payload digest mismatch');
  }
  const id = Buffer.concat([bytes.subarray(72, 80), bytes.subarray(64, 72)]).toString('hex');
  return {
    messageType: bytes.subarray(4, 36).toString('ascii').replaceAll('\0', '').trim(),
    createdDate: Number(bytes.readBigUInt64BE(40)),
    sequenceNumber: Number(bytes.readBigInt64BE(48)),
    flags: Number(bytes.readBigUInt64BE(56)),
    messageId: `${id.slice(0, 8)}-${id.slice(8, 12)}-${id.slice(12, 16)}-${id.slice(16, 20)}-${id.slice(20)}`,
    payloadType: bytes.readUInt32BE(112),
    payload,
  };
}

/** An acknowledge message for `m`, as the agent writes it. */
export function ackFor(m) {
  const body = {
    AcknowledgedMessageType: m.messageType,
    AcknowledgedMessageId: m.messageId,
    AcknowledgedMessageSequenceNumber: m.sequenceNumber,
    IsSequentialMessage: true,
  };
  return encode({ messageType: 'acknowledge', sequenceNumber: 0, flags: 3, messageId: randomUUID(), payloadType: 0, payload: Buffer.from(JSON.stringify(body)) });
}

// The ClientMessage codec against the worked examples of shared/ssm-protocol.md §4, which were
// cross-checked byte for byte against the official plugin's Go code.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, test } from 'node:test';
import { decodeMessage, encodeMessage, MessageFormatError, uuidToWire, wireToUuid, type ClientMessage } from '../../src/ssm/messages';
import { acknowledgementFor, flagPayload, inputMessage, readFlag, terminalSizePayload } from '../../src/ssm/payloads';

/** Hex from a `hexdump -C`-style block: offsets and the ASCII column are dropped. */
function hexDump(dump: string): Buffer {
  const hex = dump
    .trim()
    .split('\n')
    .map((line) => line.replace(/^[0-9a-f]{4}\s+/, '').replace(/\s*\|.*$/, ''))
    .join(' ');
  return Buffer.from(hex.replace(/\s+/g, ''), 'hex');
}

// §4.1: input_stream_data "ls\n", seq 5.
const INPUT_LS =
  '00000074696e7075745f73747265616d5f64617461202020202020202020202020202020000000010000018bcfe56800000000000000000500000000000000008899aabbccddeeff0011223344554677e9fe7e88e89d532379960402db8f9458194dae772aa5fda5a12806c22215f0ff00000001000000036c730a';

const INPUT_LS_MESSAGE: ClientMessage = {
  messageType: 'input_stream_data',
  schemaVersion: 1,
  createdDate: 1_700_000_000_000,
  sequenceNumber: 5,
  flags: 0,
  messageId: '00112233-4455-4677-8899-aabbccddeeff',
  payloadType: 1,
  payload: Buffer.from('ls\n'),
};

// §4.2: the agent's first output, seq 0, SYN.
const AGENT_OUTPUT = hexDump(`
0000  00 00 00 74 6f 75 74 70 75 74 5f 73 74 72 65 61  |...toutput_strea|
0010  6d 5f 64 61 74 61 20 20 20 20 20 20 20 20 20 20  |m_data          |
0020  20 20 20 20 00 00 00 01 00 00 01 8b cf e5 6b e8  |    ..........k.|
0030  00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 01  |................|
0040  9a 0c 03 05 e8 2c 33 01 3f 25 04 e0 4f 89 41 d3  |.....,3.?%..O.A.|
0050  36 99 82 e7 2a 1a c6 1f 30 1a a9 dc 38 e9 4e b9  |6...*...0...8.N.|
0060  f0 17 c9 ee 81 e8 c2 54 78 cf a0 af 7d dd 69 15  |.......Tx...}.i.|
0070  00 00 00 01 00 00 00 08 73 68 2d 35 2e 32 24 20  |........sh-5.2$ |
`);

// §4.2: the header of the client's acknowledgement of that output.
const ACK_HEADER = hexDump(`
0000  00 00 00 74 61 63 6b 6e 6f 77 6c 65 64 67 65 20  |...tacknowledge |
0010  20 20 20 20 20 20 20 20 20 20 20 20 20 20 20 20  |                |
0020  20 20 20 20 00 00 00 01 00 00 01 8b cf e5 6c 1a  |    ..........l.|
0030  00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 03  |................|
0040  9b 9b 6b 2b a1 d1 c7 a2 b1 94 6a c9 24 92 4d 34  |..k+......j.$.M4|
0050  43 21 eb 22 ef 34 f6 77 7a c5 be 0c 03 53 00 a5  |C!.".4.wz....S..|
0060  2f 4e ba 06 f5 f7 a3 3a 70 e0 b2 fd 2b e8 ef a2  |/N.....:p...+...|
0070  00 00 00 00 00 00 00 b0                          |........|
`);
const ACK_JSON =
  '{"AcknowledgedMessageType":"output_stream_data","AcknowledgedMessageId":"3f2504e0-4f89-41d3-9a0c-0305e82c3301","AcknowledgedMessageSequenceNumber":0,"IsSequentialMessage":true}';

describe('ClientMessage codec: worked examples', () => {
  test('§4.1 input "ls\\n" encodes to the exact 123 bytes', () => {
    const bytes = encodeMessage(INPUT_LS_MESSAGE);
    assert.equal(bytes.length, 123);
    assert.equal(bytes.toString('hex'), INPUT_LS);
  });

  test('§4.1 decodes field by field', () => {
    const decoded = decodeMessage(Buffer.from(INPUT_LS, 'hex'));
    assert.deepEqual({ ...decoded, payload: decoded.payload.toString() }, { ...INPUT_LS_MESSAGE, payload: 'ls\n' });
  });

  test('§4.2 agent output decodes, including the swapped message id', () => {
    const decoded = decodeMessage(AGENT_OUTPUT);
    assert.equal(decoded.messageType, 'output_stream_data');
    assert.equal(decoded.createdDate, 0x18bcfe56be8);
    assert.equal(decoded.sequenceNumber, 0);
    assert.equal(decoded.flags, 1);
    assert.equal(decoded.messageId, '3f2504e0-4f89-41d3-9a0c-0305e82c3301');
    assert.equal(decoded.payloadType, 1);
    assert.equal(decoded.payload.toString(), 'sh-5.2$ ');
    assert.deepEqual(encodeMessage(decoded), AGENT_OUTPUT);
  });

  test('§4.2 the acknowledgement of that output: JSON body and header byte for byte', () => {
    const received = decodeMessage(AGENT_OUTPUT);
    const ack = acknowledgementFor(received, 0x18bcfe56c1a);
    assert.equal(ack.payload.toString(), ACK_JSON);
    assert.equal(ack.payload.length, 176);
    assert.equal(ack.sequenceNumber, 0);
    assert.equal(ack.flags, 3);
    assert.equal(ack.payloadType, 0);
    // The example's random id, put back to compare every header byte.
    const bytes = encodeMessage({ ...ack, messageId: 'b1946ac9-2492-4d34-9b9b-6b2ba1d1c7a2' });
    assert.deepEqual(bytes.subarray(0, 120), ACK_HEADER);
    assert.equal(bytes.subarray(120).toString(), ACK_JSON);
  });

  test('§4.3 terminal size payload and TerminateSession flag', () => {
    const size = terminalSizePayload({ cols: 120, rows: 40 });
    assert.equal(size.toString(), '{"cols":120,"rows":40}');
    assert.equal(size.length, 22);
    const flag = encodeMessage(inputMessage(9, 10, flagPayload(2), 1_700_000_000_000));
    assert.equal(flag.subarray(-12).toString('hex'), '0000000a' + '00000004' + '00000002');
    assert.equal(flag.readBigInt64BE(48), 9n);
    assert.equal(readFlag(decodeMessage(flag).payload), 2);
  });

  test('the digest is the raw SHA-256 of the payload', () => {
    const bytes = encodeMessage(INPUT_LS_MESSAGE);
    assert.deepEqual(bytes.subarray(80, 112), createHash('sha256').update('ls\n').digest());
    const empty = encodeMessage({ ...INPUT_LS_MESSAGE, payload: Buffer.alloc(0) });
    assert.equal(empty.subarray(80, 112).toString('hex'), createHash('sha256').update('').digest('hex'));
  });
});

describe('message id layout', () => {
  test('the low half of the UUID goes first on the wire', () => {
    assert.equal(uuidToWire('00112233-4455-4677-8899-aabbccddeeff').toString('hex'), '8899aabbccddeeff0011223344554677');
    assert.equal(wireToUuid(Buffer.from('8899aabbccddeeff0011223344554677', 'hex')), '00112233-4455-4677-8899-aabbccddeeff');
  });

  test('round-trips random UUIDs, and refuses non-UUIDs', () => {
    for (let i = 0; i < 20; i++) {
      const id = crypto.randomUUID();
      assert.equal(wireToUuid(uuidToWire(id)), id);
    }
    assert.throws(() => uuidToWire('not-a-uuid'), RangeError);
  });
});

describe('decodeMessage: validation and tolerance', () => {
  const base = () => Buffer.from(INPUT_LS, 'hex');

  test('finds the payload through HeaderLength, not at a fixed offset', () => {
    // A writer with 4 extra header bytes: HeaderLength 120, payload at 124.
    const original = base();
    const longer = Buffer.concat([original.subarray(0, 116), Buffer.alloc(4), original.subarray(116)]);
    longer.writeUInt32BE(120, 0);
    assert.equal(decodeMessage(longer).payload.toString(), 'ls\n');
  });

  test('accepts a NUL- or left-padded message type', () => {
    const nul = base();
    nul.fill(0, 4 + 17, 36);
    assert.equal(decodeMessage(nul).messageType, 'input_stream_data');
    const left = base();
    left.fill(0, 4, 36);
    left.write('input_stream_data', 4 + 15, 'ascii');
    assert.equal(decodeMessage(left).messageType, 'input_stream_data');
  });

  test('rejects a wrong digest, a zero date, an empty type, a short message', () => {
    const digest = base();
    digest[80] ^= 1;
    assert.throws(() => decodeMessage(digest), MessageFormatError);
    const date = base();
    date.fill(0, 40, 48);
    assert.throws(() => decodeMessage(date), /CreatedDate/);
    const type = base();
    type.fill(0x20, 4, 36);
    assert.throws(() => decodeMessage(type), /MessageType is empty/);
    assert.throws(() => decodeMessage(base().subarray(0, 100)), /shorter than a header/);
    assert.throws(() => decodeMessage(base().subarray(0, 121)), /declares 3 payload bytes/);
  });

  test('skips validation of start_publication and pause_publication, which carry junk', () => {
    for (const type of ['start_publication', 'pause_publication']) {
      const bytes = encodeMessage({ ...INPUT_LS_MESSAGE, messageType: type, createdDate: 1 });
      bytes.fill(0xee, 80, 112);
      bytes.writeUInt32BE(9999, 116);
      assert.equal(decodeMessage(bytes).messageType, type);
    }
  });

  test('refuses to encode a message type longer than 32 bytes', () => {
    assert.throws(() => encodeMessage({ ...INPUT_LS_MESSAGE, messageType: 'x'.repeat(33) }), RangeError);
  });
});

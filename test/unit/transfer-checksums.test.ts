import { Crc32cJs } from '@aws-sdk/checksums/crc';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { bareEtag, compositeCrc32c, crc32c, crc32cBase64, md5, multipartEtag } from '../../src/transfer/checksums';

/** The AWS SDK's own CRC32C (byte at a time), as a 32-bit number: the reference to agree with. */
async function sdkCrc32c(data: Uint8Array): Promise<number> {
  const hash = new Crc32cJs();
  hash.update(data);
  return Buffer.from(await hash.digest()).readUInt32BE(0);
}

describe('crc32c', () => {
  // RFC 3720 (iSCSI), appendix B.4.
  test('RFC 3720 vectors: 32 zero bytes, 32 0xFF bytes, ascending and descending bytes', () => {
    assert.equal(crc32c(new Uint8Array(32)), 0x8a9136aa);
    assert.equal(crc32c(new Uint8Array(32).fill(0xff)), 0x62a8ab43);
    assert.equal(crc32c(Uint8Array.from({ length: 32 }, (_, i) => i)), 0x46dd794e);
    assert.equal(crc32c(Uint8Array.from({ length: 32 }, (_, i) => 31 - i)), 0x113fdb5c);
  });

  test('the check value of "123456789" is 0xE3069283', () => {
    assert.equal(crc32c(Buffer.from('123456789')), 0xe3069283);
  });

  test('empty input is 0, and the result is an unsigned 32-bit number', () => {
    assert.equal(crc32c(new Uint8Array(0)), 0);
    const value = crc32c(new Uint8Array(32)); // 0x8A9136AA
    assert.ok(value > 0x7fffffff, 'a CRC with the top bit set stays positive');
    assert.ok(Number.isInteger(value) && value <= 0xffffffff);
  });

  test('incremental: crc32c(b, crc32c(a)) equals the CRC of a+b, at every split point', () => {
    const data = randomBytes(53);
    const whole = crc32c(data);
    for (let split = 0; split <= data.length; split++) {
      const a = data.subarray(0, split);
      const b = data.subarray(split);
      assert.equal(crc32c(b, crc32c(a)), whole, `split at ${split}`);
    }
  });

  test('incremental over many uneven chunks equals one pass', () => {
    const data = randomBytes(100_003);
    let crc = 0;
    for (let offset = 0, step = 1; offset < data.length; offset += step, step = (step * 7 + 3) % 4099 || 1) {
      crc = crc32c(data.subarray(offset, offset + step), crc);
    }
    assert.equal(crc, crc32c(data));
  });

  test('a subarray at an odd offset of a larger buffer gives the CRC of just those bytes', () => {
    const data = randomBytes(1000);
    const view = data.subarray(3, 3 + 517);
    assert.equal(crc32c(view), crc32c(Buffer.from(view)));
  });

  test('agrees with the AWS SDK\'s Crc32cJs on random data of many (odd) lengths', async () => {
    for (const length of [1, 2, 3, 5, 7, 8, 9, 15, 17, 31, 63, 255, 1023, 4097, 65_537, 1_000_003]) {
      const data = randomBytes(length);
      assert.equal(crc32c(data), await sdkCrc32c(data), `length ${length}`);
    }
  });
});

describe('crc32cBase64', () => {
  test('big-endian bytes, as the x-amz-checksum-crc32c header carries them', () => {
    // e3 06 92 83 → "4waSgw==" (little-endian would be "g5IG4w==").
    assert.equal(crc32cBase64(0xe3069283), '4waSgw==');
    assert.equal(crc32cBase64(0), 'AAAAAA==');
    assert.equal(crc32cBase64(1), 'AAAAAQ==');
  });

  test('equals the base64 of the SDK\'s digest', async () => {
    const data = randomBytes(12_345);
    const hash = new Crc32cJs();
    hash.update(data);
    assert.equal(crc32cBase64(crc32c(data)), Buffer.from(await hash.digest()).toString('base64'));
  });

  test('a negative (signed) 32-bit value is written as its unsigned form', () => {
    assert.equal(crc32cBase64(0xe3069283 | 0), '4waSgw==');
  });
});

describe('md5 and multipartEtag', () => {
  test('md5 is the binary digest', () => {
    assert.equal(md5(Buffer.from('hello world')).toString('hex'), '5eb63bbbe01eeed093cb22bb8f5acdc3');
  });

  test('multipartEtag: MD5 of the parts\' binary MD5s, quoted, with -N', () => {
    // Computed separately: md5(md5("hello ") ‖ md5("world")) with Python's hashlib.
    const parts = [md5(Buffer.from('hello ')), md5(Buffer.from('world'))];
    assert.equal(multipartEtag(parts), '"e09e4fd6265b36115fe3db32df945d84-2"');
  });

  test('one part: still the MD5 of the MD5, not the MD5 of the data', () => {
    const data = Buffer.from('only part');
    const expected = createHash('md5').update(md5(data)).digest('hex');
    assert.equal(multipartEtag([md5(data)]), `"${expected}-1"`);
    assert.notEqual(expected, md5(data).toString('hex'));
  });
});

describe('compositeCrc32c', () => {
  test('base64 of the CRC32C of the parts\' big-endian CRCs, then -N', async () => {
    const parts = [randomBytes(1000), randomBytes(2000), randomBytes(3)];
    const crcs = parts.map((p) => crc32c(p));
    const joined = Buffer.concat(crcs.map((c) => {
      const b = Buffer.alloc(4);
      b.writeUInt32BE(c);
      return b;
    }));
    const expected = `${crc32cBase64(await sdkCrc32c(joined))}-3`;
    const composite = compositeCrc32c(crcs);
    assert.equal(composite, expected);
    assert.match(composite, /^[A-Za-z0-9+/]{6}==-3$/);
  });

  test('the composite is not the CRC of the whole data (it is a checksum of checksums)', () => {
    const a = randomBytes(100);
    const b = randomBytes(100);
    assert.notEqual(compositeCrc32c([crc32c(a), crc32c(b)]), `${crc32cBase64(crc32c(Buffer.concat([a, b])))}-2`);
  });

  test('order of parts matters', () => {
    const crcs = [crc32c(Buffer.from('a')), crc32c(Buffer.from('b'))];
    assert.notEqual(compositeCrc32c(crcs), compositeCrc32c([...crcs].reverse()));
  });
});

describe('bareEtag', () => {
  test('drops quotes and a weak W/ prefix', () => {
    assert.equal(bareEtag('"abc"'), 'abc');
    assert.equal(bareEtag('W/"abc-2"'), 'abc-2');
    assert.equal(bareEtag('abc'), 'abc');
    assert.equal(bareEtag('&quot;abc&quot;'), '&quot;abc&quot;', 'XML entities are not its business');
  });

  test('undefined and empty become empty', () => {
    assert.equal(bareEtag(undefined), '');
    assert.equal(bareEtag(''), '');
    assert.equal(bareEtag('""'), '');
  });
});

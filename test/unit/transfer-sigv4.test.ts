import { SignatureV4 } from '@smithy/signature-v4';
import type { AwsCredentialIdentity, SourceData } from '@smithy/types';
import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import { describe, test } from 'node:test';
import { objectPath } from '../../src/transfer/objectWriter';
import { RequestSigner, type SignableRequest } from '../../src/transfer/sigv4';

/** The SDK's signer on node:crypto, as the engine used it before it signed for itself. */
class NodeSha256 {
  private readonly hash;
  constructor(secret?: SourceData) {
    this.hash = secret ? createHmac('sha256', secret as string | Uint8Array) : createHash('sha256');
  }
  update(data: SourceData): void {
    this.hash.update(data as string | Uint8Array);
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.hash.digest());
  }
}

async function sdkHeaders(identity: AwsCredentialIdentity, request: SignableRequest, now: Date, region = 'eu-west-1'): Promise<Record<string, string>> {
  const signer = new SignatureV4({ credentials: identity, region, service: 's3', sha256: NodeSha256, uriEscapePath: false, applyChecksum: false });
  const [hostname, port] = request.headers.host.split(':');
  const signed = await signer.sign(
    { method: request.method, protocol: 'https:', hostname, port: port ? Number(port) : undefined, path: request.path, query: { ...request.query }, headers: { ...request.headers, 'x-amz-content-sha256': request.payloadHash } },
    { signingDate: now },
  );
  return signed.headers as Record<string, string>;
}

const KEYS = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' };
const NOW = new Date('2026-11-26T17:35:11.482Z');

function put(key: string, extra: Record<string, string> = {}, query: Record<string, string> = {}): SignableRequest {
  return {
    method: 'PUT',
    path: `/lab-bucket/${objectPath(key)}`,
    query,
    headers: { host: 's3.eu-west-1.amazonaws.com', 'content-length': '4096', 'content-md5': '1B2M2Y8AsgTpgAmY7PhCfg==', ...extra },
    payloadHash: 'UNSIGNED-PAYLOAD',
  };
}

describe('RequestSigner: the same signature as the SDK signer', () => {
  const cases: Array<[string, SignableRequest, AwsCredentialIdentity]> = [
    ['a PutObject', put('runs/2025/sample.fastq.gz'), KEYS],
    ['odd names: spaces, unicode, reserved characters', put("with space/é (1)/a+b=c&d!*'.tif"), KEYS],
    ['an UploadPart, with a query to sort', put('big.bam', {}, { uploadId: 'VXBsb2FkIElE+/=', partNumber: '17' }), KEYS],
    ['metadata, storage class, encryption and a CRC32C', put('x', {
      'content-type': 'image/tiff', 'x-amz-meta-research-cloud-mtime': '1795713979764', 'x-amz-storage-class': 'INTELLIGENT_TIERING',
      'x-amz-server-side-encryption': 'aws:kms', 'x-amz-server-side-encryption-aws-kms-key-id': 'arn:aws:kms:eu-west-1:111122223333:key/abc', 'x-amz-checksum-crc32c': 'yZRlqg==',
    }), KEYS],
    ['temporary credentials: the session token is signed', put('y'), { ...KEYS, sessionToken: 'FwoGZXIvYXdzEBYaDH//token==' }],
    ['header values with a tab, runs of spaces and spaces at the ends', put('w', { 'x-amz-meta-note': ' lane\t3   of  8 ', 'x-amz-meta-plain': 'one two' }), KEYS],
    ['a host with a port', { ...put('z'), headers: { ...put('z').headers, host: '127.0.0.1:7480' } }, KEYS],
  ];
  for (const [name, request, identity] of cases) {
    test(name, async () => {
      const ours = await new RequestSigner(async () => identity, 'eu-west-1').sign(request, NOW.getTime());
      const sdk = await sdkHeaders(identity, request, NOW);
      assert.equal(ours.authorization, sdk.authorization);
      assert.equal(ours['x-amz-date'], sdk['x-amz-date']);
      assert.equal(ours['x-amz-security-token'], sdk['x-amz-security-token']);
    });
  }

  test('the key is derived again on a new day and for new credentials', async () => {
    let identity: AwsCredentialIdentity = KEYS;
    const signer = new RequestSigner(async () => identity, 'eu-west-1');
    const request = put('k');
    const tomorrow = new Date(NOW.getTime() + 86_400_000);
    assert.equal((await signer.sign(request, NOW.getTime())).authorization, (await sdkHeaders(identity, request, NOW)).authorization);
    assert.equal((await signer.sign(request, tomorrow.getTime())).authorization, (await sdkHeaders(identity, request, tomorrow)).authorization);
    identity = { accessKeyId: 'AKIDROTATED', secretAccessKey: 'another-secret' };
    assert.equal((await signer.sign(request, tomorrow.getTime())).authorization, (await sdkHeaders(identity, request, tomorrow)).authorization);
  });
});

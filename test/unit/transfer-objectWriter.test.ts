import type { AwsCredentialIdentity } from '@smithy/types';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import dns from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import { afterEach, beforeEach, describe, test, type TestContext } from 'node:test';
import { errorCode, isCredentialOrAccessError, isTransient } from '../../src/aws/errors';
import { isCancellation } from '../../src/core/progress';
import { crc32c, crc32cBase64 } from '../../src/transfer/checksums';
import { memoizeCredentials, objectPath, ObjectWriter, parseS3Error, type ObjectWriterOptions } from '../../src/transfer/objectWriter';
import { closedPort, FAKE_CREDENTIALS, rejectionOf, xmlError } from '../fixtures/s3';
import { checkSigV4, md5Etag, startFakeS3, type FakeS3Server } from '../fixtures/s3-server';

let server: FakeS3Server;
const writers: ObjectWriter[] = [];
beforeEach(async () => {
  server = await startFakeS3();
});
afterEach(async () => {
  for (const w of writers.splice(0)) w.destroy();
  await server.close();
});

function makeWriter(options: Partial<ObjectWriterOptions> = {}): ObjectWriter {
  const writer = new ObjectWriter({
    credentials: async () => FAKE_CREDENTIALS,
    region: 'us-east-1',
    endpoint: server.endpoint,
    forcePathStyle: true,
    checksum: 'md5',
    maxSockets: 4,
    ...options,
  });
  writers.push(writer);
  return writer;
}

const BODY = Buffer.from('the quick brown fox jumps over the lazy dog\n'.repeat(100));
const md5Base64 = (b: Buffer) => createHash('md5').update(b).digest('base64');

/** Resolves *.localhost to 127.0.0.1 for this test, as systemd-resolved would. */
function resolveDotLocalhost(t: TestContext): void {
  const original = dns.lookup;
  t.mock.method(dns, 'lookup', (hostname: string, ...rest: unknown[]) =>
    (original as (...args: unknown[]) => void)(hostname.endsWith('.localhost') ? '127.0.0.1' : hostname, ...rest),
  );
}

/**
 * Sends what the writer means for https://… to the local http server instead, keeping the
 * headers (Host included) and recording where it was meant to go.
 */
function redirectHttps(t: TestContext): Array<{ hostname?: string | null; port?: number | string | null; path?: string | null }> {
  const intended: Array<{ hostname?: string | null; port?: number | string | null; path?: string | null }> = [];
  t.mock.method(https, 'request', (options: http.RequestOptions, callback: (res: http.IncomingMessage) => void) => {
    intended.push({ hostname: options.hostname, port: options.port, path: options.path });
    return http.request({ ...options, agent: undefined, hostname: '127.0.0.1', port: server.port }, callback);
  });
  return intended;
}

describe('ObjectWriter.putObject', () => {
  test('path-style PUT to endpoint/bucket/key with the body, the ETag and MD5 returned', async () => {
    const result = await makeWriter().putObject({ bucket: 'lab', key: 'runs/a.txt', body: BODY });
    assert.equal(server.requests.length, 1);
    const [request] = server.requests;
    assert.equal(request.method, 'PUT');
    assert.equal(request.url, '/lab/runs/a.txt');
    assert.equal(request.headers.host, `127.0.0.1:${server.port}`);
    assert.deepEqual(request.body, BODY);
    assert.equal(result.etag, md5Etag(BODY));
    assert.deepEqual(result.md5, createHash('md5').update(BODY).digest());
    assert.equal(result.crc32c, undefined, 'no CRC in md5 mode');
  });

  test('headers: Content-MD5 (signed), UNSIGNED-PAYLOAD even over http, length, extras; no CRC header in md5 mode', async () => {
    await makeWriter().putObject({ bucket: 'lab', key: 'k', body: BODY, headers: { 'content-type': 'text/plain', 'x-amz-meta-mtime': '1700000000000' } });
    const { headers } = server.requests[0];
    assert.equal(headers['content-md5'], md5Base64(BODY));
    // The body is covered by the signed Content-MD5, so it is not hashed again for SigV4.
    assert.equal(headers['x-amz-content-sha256'], 'UNSIGNED-PAYLOAD');
    assert.equal(headers['content-length'], String(BODY.length));
    assert.equal(headers['content-type'], 'text/plain');
    assert.equal(headers['x-amz-meta-mtime'], '1700000000000');
    assert.equal(headers['x-amz-checksum-crc32c'], undefined);
    assert.match(String(headers['x-amz-date']), /^\d{8}T\d{6}Z$/);
  });

  test('Authorization: AWS4-HMAC-SHA256 over the expected headers, and it verifies', async () => {
    await makeWriter().putObject({ bucket: 'lab', key: 'runs/a.txt', body: BODY, headers: { 'content-type': 'text/plain', 'x-amz-meta-mtime': '1' } });
    const request = server.requests[0];
    assert.match(String(request.headers.authorization), /^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/\d{8}\/us-east-1\/s3\/aws4_request, SignedHeaders=[a-z0-9;-]+, Signature=[0-9a-f]{64}$/);
    const check = checkSigV4(request, FAKE_CREDENTIALS.secretAccessKey);
    assert.deepEqual(check.signedHeaders, ['content-length', 'content-md5', 'content-type', 'host', 'x-amz-content-sha256', 'x-amz-date', 'x-amz-meta-mtime']);
    assert.equal(check.valid, true, check.canonicalRequest);
    // And a wrong secret does not verify, so the check above means something.
    assert.equal(checkSigV4(request, 'another secret').valid, false);
  });

  test('crc32c mode: x-amz-checksum-crc32c of the body, signed, and the CRC returned', async () => {
    const result = await makeWriter({ checksum: 'crc32c' }).putObject({ bucket: 'lab', key: 'k', body: BODY });
    const request = server.requests[0];
    assert.equal(request.headers['x-amz-checksum-crc32c'], crc32cBase64(crc32c(BODY)));
    assert.equal(result.crc32c, crc32c(BODY));
    const check = checkSigV4(request, FAKE_CREDENTIALS.secretAccessKey);
    assert.ok(check.signedHeaders.includes('x-amz-checksum-crc32c'));
    assert.equal(check.valid, true);
    // Content-MD5 is sent in either mode.
    assert.equal(request.headers['content-md5'], md5Base64(BODY));
  });

  test('virtual-hosted style: Host is bucket.endpoint-host:port and the path is just the key', async (t) => {
    resolveDotLocalhost(t);
    await makeWriter({ endpoint: `http://localhost:${server.port}`, forcePathStyle: false }).putObject({ bucket: 'lab', key: 'runs/a.txt', body: BODY });
    const request = server.requests[0];
    assert.equal(request.headers.host, `lab.localhost:${server.port}`);
    assert.equal(request.url, '/runs/a.txt');
    assert.equal(checkSigV4(request, FAKE_CREDENTIALS.secretAccessKey).valid, true);
  });

  test('an endpoint with a path keeps it in front of bucket and key', async () => {
    await makeWriter({ endpoint: `${server.endpoint}/storage/` }).putObject({ bucket: 'lab', key: 'x/y', body: BODY });
    assert.equal(server.requests[0].url, '/storage/lab/x/y');
    assert.equal(checkSigV4(server.requests[0], FAKE_CREDENTIALS.secretAccessKey).valid, true);
  });

  test('a key with spaces, unicode and reserved characters is escaped once per segment, and the signature still verifies', async () => {
    const key = 'a b/ü+&=?#%.txt';
    await makeWriter().putObject({ bucket: 'lab', key, body: BODY });
    const request = server.requests[0];
    assert.equal(request.url, '/lab/a%20b/%C3%BC%2B%26%3D%3F%23%25.txt');
    assert.equal(decodeURIComponent(request.url.slice('/lab/'.length)), key);
    assert.equal(checkSigV4(request, FAKE_CREDENTIALS.secretAccessKey).valid, true);
  });

  test('temporary credentials: x-amz-security-token is sent and signed', async () => {
    await makeWriter({ credentials: async () => ({ ...FAKE_CREDENTIALS, sessionToken: 'SESSION/TOKEN+=' }) }).putObject({ bucket: 'lab', key: 'k', body: BODY });
    const request = server.requests[0];
    assert.equal(request.headers['x-amz-security-token'], 'SESSION/TOKEN+=');
    const check = checkSigV4(request, FAKE_CREDENTIALS.secretAccessKey);
    assert.ok(check.signedHeaders.includes('x-amz-security-token'));
    assert.equal(check.valid, true);
  });

  test('an empty body is a valid PUT', async () => {
    const result = await makeWriter().putObject({ bucket: 'lab', key: 'empty', body: Buffer.alloc(0) });
    const request = server.requests[0];
    assert.equal(request.headers['content-length'], '0');
    assert.equal(request.headers['content-md5'], '1B2M2Y8AsgTpgAmY7PhCfg==');
    assert.equal(result.etag, '"d41d8cd98f00b204e9800998ecf8427e"');
  });
});

describe('ObjectWriter over https (AWS)', () => {
  test('default endpoint: virtual-hosted s3.<region>.amazonaws.com, UNSIGNED-PAYLOAD, still signed', async (t) => {
    const intended = redirectHttps(t);
    const writer = makeWriter({ endpoint: undefined, forcePathStyle: false, region: 'eu-west-1', checksum: 'crc32c' });
    await writer.putObject({ bucket: 'lab', key: 'runs/a.txt', body: BODY });
    assert.deepEqual(intended, [{ hostname: 'lab.s3.eu-west-1.amazonaws.com', port: undefined, path: '/runs/a.txt' }]);
    const request = server.requests[0];
    assert.equal(request.headers.host, 'lab.s3.eu-west-1.amazonaws.com');
    assert.equal(request.headers['x-amz-content-sha256'], 'UNSIGNED-PAYLOAD');
    const check = checkSigV4(request, FAKE_CREDENTIALS.secretAccessKey);
    assert.match(check.scope, /^\d{8}\/eu-west-1\/s3\/aws4_request$/);
    assert.equal(check.valid, true);
  });

  test('a dotted bucket name goes path-style over TLS (wildcard certificates do not cover it)', async (t) => {
    const intended = redirectHttps(t);
    await makeWriter({ endpoint: undefined, forcePathStyle: false, region: 'eu-west-1' }).putObject({ bucket: 'my.lab.data', key: 'a', body: BODY });
    assert.deepEqual(intended, [{ hostname: 's3.eu-west-1.amazonaws.com', port: undefined, path: '/my.lab.data/a' }]);
    assert.equal(server.requests[0].headers.host, 's3.eu-west-1.amazonaws.com');
  });
});

describe('ObjectWriter.uploadPart', () => {
  test('sends partNumber and uploadId as query parameters, signed', async () => {
    const uploadId = '2~abc.DEF_ghi-jkl';
    const result = await makeWriter({ checksum: 'crc32c' }).uploadPart({ bucket: 'lab', key: 'big.bin', uploadId, partNumber: 3, body: BODY });
    const request = server.requests[0];
    const url = new URL(request.url, 'http://x');
    assert.equal(url.pathname, '/lab/big.bin');
    assert.equal(url.searchParams.get('partNumber'), '3');
    assert.equal(url.searchParams.get('uploadId'), uploadId);
    assert.deepEqual([...url.searchParams.keys()], ['partNumber', 'uploadId']);
    assert.equal(request.headers['x-amz-checksum-crc32c'], crc32cBase64(crc32c(BODY)));
    assert.equal(checkSigV4(request, FAKE_CREDENTIALS.secretAccessKey).valid, true);
    assert.equal(result.etag, md5Etag(BODY));
  });
});

describe('ObjectWriter errors', () => {
  test('an S3 XML error: 503 SlowDown → name SlowDown, status 503, request id, transient', async () => {
    server.reply = () => ({ status: 503, body: xmlError('SlowDown', 'Please reduce your request rate.') });
    const err = (await rejectionOf(makeWriter().putObject({ bucket: 'lab', key: 'k', body: BODY }))) as Error & { $metadata: { httpStatusCode: number; requestId?: string }; $fault: string };
    assert.equal(err.name, 'SlowDown');
    assert.equal(err.message, 'Please reduce your request rate.');
    assert.equal(err.$metadata.httpStatusCode, 503);
    assert.equal(err.$metadata.requestId, 'FAKEREQUESTID');
    assert.equal(err.$fault, 'server');
    assert.equal(errorCode(err), 'SlowDown');
    assert.equal(isTransient(err), true);
  });

  test('an empty-body 403 → AccessDenied, which stops a job', async () => {
    server.reply = () => ({ status: 403 });
    const err = (await rejectionOf(makeWriter().putObject({ bucket: 'lab', key: 'k', body: BODY }))) as Error & { $metadata: { httpStatusCode: number }; $fault: string };
    assert.equal(err.name, 'AccessDenied');
    assert.equal(err.message, 'S3 answered HTTP 403 (AccessDenied).');
    assert.equal(err.$metadata.httpStatusCode, 403);
    assert.equal(err.$fault, 'client');
    assert.equal(isCredentialOrAccessError(err), true);
    assert.equal(isTransient(err), false);
  });

  test('a 400 XML error with escaped characters in the message', async () => {
    server.reply = () => ({ status: 400, body: xmlError('BadDigest', 'The Content-MD5 you specified did not match what we received: "a" & <b>') });
    const err = await rejectionOf(makeWriter().putObject({ bucket: 'lab', key: 'k', body: BODY }));
    assert.equal((err as Error).name, 'BadDigest');
    assert.equal((err as Error).message, 'The Content-MD5 you specified did not match what we received: "a" & <b>');
    assert.equal(isTransient(err), false);
  });

  test('a 200 without an ETag is an error, not a success', async () => {
    server.reply = () => ({ status: 200 });
    const err = (await rejectionOf(makeWriter().putObject({ bucket: 'lab', key: 'k', body: BODY }))) as Error & { $metadata: { httpStatusCode: number } };
    assert.equal(err.name, 'MissingETag');
    assert.equal(err.$metadata.httpStatusCode, 200);
    assert.match(err.message, /no ETag/);
  });

  test('abort via the signal rejects as a cancellation while the server has not answered', async () => {
    server.reply = () => 'hang';
    const controller = new AbortController();
    const put = makeWriter().putObject({ bucket: 'lab', key: 'k', body: BODY, signal: controller.signal });
    while (server.requests.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    controller.abort();
    const err = await rejectionOf(put);
    assert.equal((err as Error).name, 'AbortError');
    assert.equal(isCancellation(err), true);
  });

  test('an already aborted signal rejects', async () => {
    const err = await rejectionOf(makeWriter().putObject({ bucket: 'lab', key: 'k', body: BODY, signal: AbortSignal.abort() }));
    assert.equal(isCancellation(err), true);
  });

  test('no progress for idleTimeoutMs → TimeoutError, transient', async () => {
    server.reply = () => 'hang';
    const started = Date.now();
    const err = await rejectionOf(makeWriter({ idleTimeoutMs: 100 }).putObject({ bucket: 'lab', key: 'k', body: BODY }));
    assert.equal((err as Error).name, 'TimeoutError');
    assert.equal(isTransient(err), true);
    assert.ok(Date.now() - started < 2000);
  });

  test('connection refused → ECONNREFUSED, transient', async () => {
    const port = await closedPort();
    const err = await rejectionOf(makeWriter({ endpoint: `http://127.0.0.1:${port}` }).putObject({ bucket: 'lab', key: 'k', body: BODY }));
    assert.equal(errorCode(err), 'ECONNREFUSED');
    assert.equal(isTransient(err), true);
  });
});

describe('ObjectWriter connections', () => {
  test('never more than maxSockets requests at once, and sockets are reused (keep-alive)', async () => {
    server.reply = async (request) => {
      await new Promise((resolve) => setTimeout(resolve, 15));
      return { status: 200, headers: { ETag: md5Etag(request.body) } };
    };
    const writer = makeWriter({ maxSockets: 2 });
    await Promise.all(Array.from({ length: 10 }, (_, i) => writer.putObject({ bucket: 'lab', key: `k${i}`, body: BODY })));
    assert.equal(server.requests.length, 10);
    assert.equal(server.inFlight.max, 2);
    assert.equal(server.connections, 2);
  });
});

describe('parseS3Error', () => {
  test('the code from the XML; otherwise from the status', () => {
    assert.equal(parseS3Error(503, '', {}).name, 'SlowDown');
    assert.equal(parseS3Error(403, '', {}).name, 'AccessDenied');
    assert.equal(parseS3Error(404, '', {}).name, 'NotFound');
    assert.equal(parseS3Error(500, '', {}).name, 'Http500');
    assert.equal(isTransient(parseS3Error(500, '', {})), true);
    assert.equal(parseS3Error(404, xmlError('NoSuchBucket', 'The specified bucket does not exist'), {}).name, 'NoSuchBucket');
    assert.equal(parseS3Error(400, xmlError('EntityTooSmall'), {}).message, 'S3 answered HTTP 400 (EntityTooSmall).');
  });
});

describe('objectPath', () => {
  test('escapes each segment by RFC 3986, keeps slashes (even repeated ones)', () => {
    assert.equal(objectPath('a b/ü+&=?#%.txt'), 'a%20b/%C3%BC%2B%26%3D%3F%23%25.txt');
    assert.equal(objectPath("it's (1)*!"), 'it%27s%20%281%29%2A%21');
    assert.equal(objectPath('keep-_.~AZaz09'), 'keep-_.~AZaz09');
    assert.equal(objectPath('a//b/'), 'a//b/');
    assert.equal(objectPath('🧬/x'), '%F0%9F%A7%AC/x');
  });
});

describe('memoizeCredentials', () => {
  function countingProvider(make: (call: number) => AwsCredentialIdentity) {
    const calls = { count: 0 };
    const provider = async () => make(++calls.count);
    return { provider, calls };
  }
  const keys = (call: number, expiration?: Date): AwsCredentialIdentity => ({ accessKeyId: `AKID${call}`, secretAccessKey: 's', expiration });

  test('static credentials: the provider is called once', async () => {
    const { provider, calls } = countingProvider((n) => keys(n));
    const memo = memoizeCredentials(provider);
    for (let i = 0; i < 5; i++) assert.equal((await memo()).accessKeyId, 'AKID1');
    assert.equal(calls.count, 1);
  });

  test('concurrent first calls share one provider call', async () => {
    const { provider, calls } = countingProvider((n) => keys(n));
    const memo = memoizeCredentials(provider);
    const all = await Promise.all(Array.from({ length: 10 }, () => memo()));
    assert.ok(all.every((c) => c.accessKeyId === 'AKID1'));
    assert.equal(calls.count, 1);
  });

  test('credentials far from expiry are kept; within five minutes of it they are refreshed', async () => {
    const { provider, calls } = countingProvider((n) => keys(n, new Date(Date.now() + (n === 1 ? 4 * 60_000 : 60 * 60_000))));
    const memo = memoizeCredentials(provider);
    assert.equal((await memo()).accessKeyId, 'AKID1');
    // AKID1 expires in 4 minutes: refreshed on the next use.
    assert.equal((await memo()).accessKeyId, 'AKID2');
    // AKID2 has an hour left: kept.
    assert.equal((await memo()).accessKeyId, 'AKID2');
    assert.equal((await memo()).accessKeyId, 'AKID2');
    assert.equal(calls.count, 2);
  });

  test(
    'requests that need a refresh at the same time share one provider call',
    async () => {
      let calls = 0;
      const memo = memoizeCredentials(async () => {
        calls++;
        await new Promise((resolve) => setTimeout(resolve, 10));
        return keys(calls, new Date(Date.now() + (calls === 1 ? 60_000 : 3_600_000)));
      });
      await memo();
      await Promise.all(Array.from({ length: 10 }, () => memo()));
      assert.equal(calls, 2);
    },
  );

  test('credentials with 6 minutes left are not refreshed', async () => {
    const { provider, calls } = countingProvider((n) => keys(n, new Date(Date.now() + 6 * 60_000)));
    const memo = memoizeCredentials(provider);
    await memo();
    await memo();
    assert.equal(calls.count, 1);
  });

  test('a failing provider is asked again on the next use', async () => {
    let calls = 0;
    const memo = memoizeCredentials(async () => {
      if (++calls === 1) throw new Error('SSO expired');
      return keys(calls);
    });
    await assert.rejects(memo(), /SSO expired/);
    assert.equal((await memo()).accessKeyId, 'AKID2');
    assert.equal(calls, 2);
  });

  test('the writer signs with memoized credentials: one provider call for many requests', async () => {
    const { provider, calls } = countingProvider((n) => ({ ...FAKE_CREDENTIALS, expiration: new Date(Date.now() + 3_600_000 + n) }));
    const writer = makeWriter({ credentials: provider });
    for (let i = 0; i < 4; i++) await writer.putObject({ bucket: 'lab', key: `k${i}`, body: BODY });
    assert.equal(calls.count, 1);
    assert.ok(server.requests.every((r) => checkSigV4(r, FAKE_CREDENTIALS.secretAccessKey).valid));
  });
});

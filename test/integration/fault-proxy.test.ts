// The fault proxy in front of a real S3 (Ceph RGW): signed requests pass through it unchanged, each
// kind of fault reaches the client as the failure it stands for, the same seed fails the same
// requests, and the stats count what reached the server.
import {
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListPartsCommand,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startFaultProxy } from '../harness/fault-proxy.mjs';
import { startRgw } from '../harness/rgw.mjs';

const Bucket = 'fault-proxy';

describe('fault proxy in front of Ceph RGW', () => {
  let rgw: Awaited<ReturnType<typeof startRgw>>;
  let proxy: Awaited<ReturnType<typeof startFaultProxy>>;
  /** Straight to RGW: to see what the server really holds. */
  let direct: S3Client;
  /** Through the proxy, one attempt per call, so each fault surfaces as it is. */
  let viaProxy: S3Client;

  before(async () => {
    rgw = await startRgw();
    proxy = await startFaultProxy({ target: rgw.endpoint, seed: 7 });
    direct = client(rgw.endpoint);
    viaProxy = client(proxy.endpoint);
    await direct.send(new CreateBucketCommand({ Bucket }));
  });

  after(async () => {
    viaProxy?.destroy();
    direct?.destroy();
    await proxy?.stop();
    await rgw?.stop();
  });

  function client(endpoint: string): S3Client {
    return new S3Client({
      endpoint,
      region: rgw.region,
      credentials: { accessKeyId: rgw.accessKeyId, secretAccessKey: rgw.secretAccessKey },
      forcePathStyle: true,
      maxAttempts: 1,
      // RGW 16.2 answers the SDK's default aws-chunked uploads with 411 (see TESTING.md).
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
  }

  it('passes signed requests through with faults off: RGW accepts the proxy\'s Host', async () => {
    proxy.setFaults({});
    await viaProxy.send(new PutObjectCommand({ Bucket, Key: 'plain.txt', Body: 'through the proxy' }));
    const head = await viaProxy.send(new HeadObjectCommand({ Bucket, Key: 'plain.txt' }));
    assert.equal(head.ContentLength, 'through the proxy'.length);
    assert.equal((await direct.send(new HeadObjectCommand({ Bucket, Key: 'plain.txt' }))).ContentLength, head.ContentLength);
    assert.equal(proxy.stats.operations.PutObject.forwarded, 1);
    assert.equal(proxy.stats.operations.HeadObject.forwarded, 1);
  });

  it('slowDown answers 503 SlowDown without forwarding', async () => {
    proxy.setFaults({ slowDown: 1 });
    const before = { ...proxy.stats.operations.PutObject };
    const error = await rejection(viaProxy.send(new PutObjectCommand({ Bucket, Key: 'throttled.txt', Body: 'x' })));
    assert.ok(error instanceof S3ServiceException, `expected an S3 error, got ${error}`);
    assert.equal(error.name, 'SlowDown');
    assert.equal(error.$metadata.httpStatusCode, 503);
    assert.equal(proxy.stats.operations.PutObject.slowDown, before.slowDown + 1);
    assert.equal(proxy.stats.operations.PutObject.forwarded, before.forwarded);
    await assert.rejects(direct.send(new HeadObjectCommand({ Bucket, Key: 'throttled.txt' })), { name: 'NotFound' });
  });

  it('reset surfaces as a connection error', async () => {
    proxy.setFaults({ reset: 1 });
    const error = await rejection(viaProxy.send(new PutObjectCommand({ Bucket, Key: 'reset.txt', Body: 'x' })));
    assert.match(`${(error as NodeJS.ErrnoException).code} ${(error as Error).message}`, /ECONNRESET|socket hang up/);
    assert.ok(proxy.stats.faults.reset >= 1);
    await assert.rejects(direct.send(new HeadObjectCommand({ Bucket, Key: 'reset.txt' })), { name: 'NotFound' });
  });

  it('resetMidBody cuts an upload so the server keeps nothing of it', async () => {
    proxy.setFaults({ resetMidBody: 1 });
    const error = await rejection(viaProxy.send(new PutObjectCommand({ Bucket, Key: 'cut.bin', Body: Buffer.alloc(256 * 1024, 1) })));
    assert.match(`${(error as NodeJS.ErrnoException).code} ${(error as Error).message}`, /ECONNRESET|EPIPE|socket hang up/);
    await assert.rejects(direct.send(new HeadObjectCommand({ Bucket, Key: 'cut.bin' })), { name: 'NotFound' });
  });

  it('resetMidBody cuts a download after half its bytes', async () => {
    proxy.setFaults({ resetMidBody: 1 });
    const got = await viaProxy.send(new GetObjectCommand({ Bucket, Key: 'plain.txt' }));
    assert.equal(got.ContentLength, 'through the proxy'.length);
    await assert.rejects(got.Body!.transformToString());
  });

  it('lostResponse: the client fails although the server stored the object', async () => {
    proxy.setFaults({ lostResponse: 1 });
    await rejection(viaProxy.send(new PutObjectCommand({ Bucket, Key: 'lost.txt', Body: 'stored anyway' })));
    const head = await direct.send(new HeadObjectCommand({ Bucket, Key: 'lost.txt' }));
    assert.equal(head.ContentLength, 'stored anyway'.length);
    assert.equal(proxy.stats.operations.PutObject.lostResponse, 1);
  });

  it('fails the same parts for the same seed, whatever the upload id, and counts what reached RGW', async () => {
    const faults = { slowDown: 0.3, reset: 0.2, only: (_req: unknown, operation: string) => operation === 'UploadPart' };
    // A retry is a new attempt with a new draw, so a rerun needs a proxy that has seen none.
    const rerun = await startFaultProxy({ target: rgw.endpoint, seed: 7, faults });
    const viaRerun = client(rerun.endpoint);
    proxy.setFaults(faults);
    try {
      const first = await uploadParts(viaProxy);
      const second = await uploadParts(viaRerun);
      assert.deepEqual(second.failed, first.failed);
      assert.ok(first.failed.length > 0 && first.failed.length < PARTS.length, `some parts should fail: ${first.failed}`);
      assert.deepEqual(first.stored, PARTS.filter((n) => !first.failed.includes(n)));
      const counted = proxy.stats.operations.UploadPart;
      assert.equal(counted.received, PARTS.length);
      assert.equal(counted.forwarded, first.stored.length);
      assert.equal(counted.slowDown + counted.reset, first.failed.length);
    } finally {
      viaRerun.destroy();
      await rerun.stop();
    }
  });

  const PARTS = Array.from({ length: 12 }, (_, i) => i + 1);

  /** Uploads PARTS of a new multipart upload concurrently, one attempt each. */
  async function uploadParts(s3: S3Client) {
    const Key = 'parts.bin';
    const { UploadId } = await direct.send(new CreateMultipartUploadCommand({ Bucket, Key }));
    const outcomes = await Promise.allSettled(PARTS.map((PartNumber) => s3.send(
      new UploadPartCommand({ Bucket, Key, UploadId, PartNumber, Body: Buffer.alloc(1024, PartNumber) }))));
    const listed = await direct.send(new ListPartsCommand({ Bucket, Key, UploadId }));
    return {
      failed: PARTS.filter((_, i) => outcomes[i].status === 'rejected'),
      stored: (listed.Parts ?? []).map((p) => p.PartNumber),
    };
  }
});

/** The error a promise rejects with (assert.rejects only checks it). */
async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  assert.fail('expected the request to fail');
}

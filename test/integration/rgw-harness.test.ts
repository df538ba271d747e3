// Checks the throwaway Ceph RGW harness end to end: a real S3 round trip through the SDK, then
// that stop() leaves no daemon, listener or temp dir behind.

import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { connect } from 'node:net';
import { test } from 'node:test';
import {
  CreateBucketCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';

test('RGW harness serves S3 and stop() removes everything', async (t) => {
  // Imported dynamically: this package is CommonJS to tsc, which rejects a static import of an ES module.
  const { startRgw } = await import('../harness/rgw.mjs');
  const rgw = await startRgw();
  // Matters only if an assertion fails before the explicit stop below (stop() is idempotent).
  t.after(() => rgw.stop());

  const s3 = new S3Client({
    endpoint: rgw.endpoint,
    region: rgw.region,
    credentials: { accessKeyId: rgw.accessKeyId, secretAccessKey: rgw.secretAccessKey },
    forcePathStyle: true,
    // RGW 16.2 answers the SDK's default aws-chunked uploads with 411 (see TESTING.md).
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
  t.after(() => s3.destroy());
  const Bucket = 'harness-check';

  await s3.send(new CreateBucketCommand({ Bucket }));
  await s3.send(new PutObjectCommand({ Bucket, Key: 'top.txt', Body: 'top' }));
  await s3.send(new PutObjectCommand({ Bucket, Key: 'dir/a.txt', Body: 'hello rgw' }));
  await s3.send(new PutObjectCommand({ Bucket, Key: 'dir/sub/b.txt', Body: 'b' }));

  const got = await s3.send(new GetObjectCommand({ Bucket, Key: 'dir/a.txt' }));
  assert.equal(await got.Body?.transformToString(), 'hello rgw');

  const listed = await s3.send(new ListObjectsV2Command({ Bucket, Delimiter: '/' }));
  assert.deepEqual(listed.CommonPrefixes?.map((p) => p.Prefix), ['dir/']);
  assert.deepEqual(listed.Contents?.map((o) => o.Key), ['top.txt']);

  await s3.send(new PutObjectCommand({ Bucket, Key: 'cold.txt', Body: 'cold', StorageClass: 'STANDARD_IA' }));
  const head = await s3.send(new HeadObjectCommand({ Bucket, Key: 'cold.txt' }));
  assert.equal(head.StorageClass, 'STANDARD_IA');

  await rgw.stop();
  for (const [daemon, pid] of Object.entries(rgw.pids)) {
    assert.equal(isRunning(pid), false, `${daemon} (pid ${pid}) still running after stop()`);
  }
  assert.equal(await isListening(rgw.endpoint), false, `${rgw.endpoint} still listening after stop()`);
  assert.equal(existsSync(rgw.dir), false, `${rgw.dir} still exists after stop()`);
});

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw error;
  }
}

function isListening(endpoint: string): Promise<boolean> {
  const { hostname, port } = new URL(endpoint);
  return new Promise((resolve) => {
    const socket = connect(Number(port), hostname);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

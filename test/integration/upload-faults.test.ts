// The upload engine through a fault-injecting proxy in front of Ceph RGW: throttling, resets,
// cut bodies and lost replies must not lose or corrupt a byte; a cancelled job resumes without
// re-sending finished parts; a discarded job leaves no multipart upload open.
import { CreateBucketCommand, GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { connectionToRgw } from '../fixtures/rgw-connection';
import { isCancellation } from '../../src/core/progress';
import { Journal, journalPath } from '../../src/transfer/journal';
import { MiB } from '../../src/transfer/plan';
import { discardJob, listIncompleteUploads, newJobId, prepareUpload, resumeJob, runPrepared } from '../../src/transfer/uploadService';
import { startFaultProxy } from '../harness/fault-proxy.mjs';
import { startRgw } from '../harness/rgw.mjs';

const BUCKET = 'integration-faults';

describe('upload engine under faults, cancel and resume (Ceph RGW behind a fault proxy)', () => {
  let rgw: Awaited<ReturnType<typeof startRgw>>;
  let proxy: Awaited<ReturnType<typeof startFaultProxy>>;
  let direct: S3Client;
  let scratch: string;

  const connectionThroughProxy = () => connectionToRgw(rgw, scratch, proxy.endpoint);

  before(async () => {
    rgw = await startRgw();
    proxy = await startFaultProxy({ target: rgw.endpoint, seed: 7 });
    scratch = await mkdtemp(join(tmpdir(), 'rc-faults-'));
    // Verification reads go straight to RGW, past the proxy.
    direct = new S3Client({
      endpoint: rgw.endpoint,
      region: rgw.region,
      forcePathStyle: true,
      credentials: { accessKeyId: rgw.accessKeyId, secretAccessKey: rgw.secretAccessKey },
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
    await direct.send(new CreateBucketCommand({ Bucket: BUCKET }));
  });

  after(async () => {
    direct?.destroy();
    await proxy?.stop();
    await rgw?.stop();
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  it('completes byte-identical through 503 SlowDown, resets, cut bodies and lost replies', async () => {
    const files = await makeTree(join(scratch, 'faulty'), { small: 120, big: [24 * MiB + 7, 40 * MiB] });
    proxy.setFaults({ slowDown: 0.1, reset: 0.05, resetMidBody: 0.05, lostResponse: 0.03 });
    const connection = connectionThroughProxy();
    try {
      const prepared = await prepareUpload(connection, { sources: [join(scratch, 'faulty')], bucket: BUCKET, prefix: 'faulty/', engine: { maxAttempts: 10 } });
      const outcome = await runPrepared(connection, prepared, { jobsDirectory: join(scratch, 'jobs') });
      assert.deepEqual(outcome.result.failed.map((f) => f.error.message), []);
      assert.ok(outcome.result.retries > 0, 'the engine had to retry');
    } finally {
      proxy.setFaults({});
      connection.dispose();
    }
    const { faults } = proxy.stats;
    for (const kind of ['slowDown', 'reset', 'resetMidBody', 'lostResponse'] as const) assert.ok(faults[kind] > 0, `the proxy injected ${kind}: ${JSON.stringify(faults)}`);
    await assertStoredExactly(files, 'faulty/');
    assert.deepEqual(await listIncompleteUploads(direct, BUCKET), []);
  });

  it('resumes a cancelled job without sending its finished parts again, and leaves nothing open', async () => {
    const size = 96 * MiB; // twelve 8 MiB parts
    const source = join(scratch, 'resumable');
    await mkdir(source, { recursive: true });
    const body = randomBytes(size);
    await writeFile(join(source, 'run.bam'), body);
    const jobsDirectory = join(scratch, 'jobs');
    const id = newJobId();
    const controller = new AbortController();
    const connection = connectionThroughProxy();
    // Slow each part a little so the cancel lands in the middle of the upload.
    proxy.setFaults({ delayMs: 150, only: (_req: unknown, operation: string) => operation === 'UploadPart' });
    try {
      const prepared = await prepareUpload(connection, { sources: [source], bucket: BUCKET, prefix: 'resumed/', engine: { concurrency: 2 } });
      const stopped = await runPrepared(connection, prepared, {
        jobsDirectory,
        jobId: id,
        signal: controller.signal,
        progress: (report) => {
          if (report.bytesDone >= 40 * MiB) controller.abort();
        },
      }).then(
        () => undefined,
        (err: unknown) => err,
      );
      assert.ok(isCancellation(stopped), `the job stopped as cancelled: ${stopped}`);
      const journal = await Journal.open(journalPath(jobsDirectory, id));
      const open = [...journal.openUploads.values()];
      assert.equal(open.length, 1, 'the multipart upload stays open for resume');
      const finishedBefore = open[0].parts.size;
      assert.ok(finishedBefore >= 5 && finishedBefore < 12, `some parts finished before the cancel: ${finishedBefore}`);
      assert.equal((await listIncompleteUploads(direct, BUCKET, 'resumed/')).length, 1);

      // Note the part numbers the proxy receives from now on (a request cut by the cancel may
      // still be on its way to RGW; it was received before, so it is not counted).
      const sentOnResume: number[] = [];
      proxy.setFaults({
        only: (req: { url?: string }, operation: string) => {
          if (operation === 'UploadPart') sentOnResume.push(Number(new URL(req.url ?? '', 'http://x').searchParams.get('partNumber')));
          return false;
        },
      });
      const resumed = await resumeJob(connection, journal.file, {});
      assert.deepEqual(resumed.result.failed, []);
      const finished = [...open[0].parts.keys()];
      assert.deepEqual(sentOnResume.filter((n) => finished.includes(n)), [], 'no part finished before the cancel was sent again');
      assert.deepEqual([...sentOnResume].sort((a, b) => a - b), Array.from({ length: 12 }, (_, i) => i + 1).filter((n) => !finished.includes(n)), 'each other part was sent once');
    } finally {
      proxy.setFaults({});
      connection.dispose();
    }
    await assertStoredExactly(new Map([['resumable/run.bam', body]]), 'resumed/');
    assert.deepEqual(await listIncompleteUploads(direct, BUCKET), [], 'no multipart upload left open');
  });

  it('discarding a cancelled job aborts its multipart uploads', async () => {
    const source = join(scratch, 'discarded');
    await mkdir(source, { recursive: true });
    await writeFile(join(source, 'big.bin'), randomBytes(48 * MiB));
    const jobsDirectory = join(scratch, 'jobs');
    const id = newJobId();
    const controller = new AbortController();
    const connection = connectionThroughProxy();
    proxy.setFaults({ delayMs: 150, only: (_req: unknown, operation: string) => operation === 'UploadPart' });
    try {
      const prepared = await prepareUpload(connection, { sources: [source], bucket: BUCKET, prefix: 'discarded/', engine: { concurrency: 2 } });
      await runPrepared(connection, prepared, {
        jobsDirectory,
        jobId: id,
        signal: controller.signal,
        progress: (report) => {
          if (report.bytesDone >= 16 * MiB) controller.abort();
        },
      }).catch(() => undefined);
      assert.equal((await listIncompleteUploads(direct, BUCKET, 'discarded/')).length, 1);
      assert.equal(await discardJob(connection, journalPath(jobsDirectory, id)), 1);
    } finally {
      proxy.setFaults({});
      connection.dispose();
    }
    assert.deepEqual(await listIncompleteUploads(direct, BUCKET, 'discarded/'), []);
    await assert.rejects(Journal.open(journalPath(jobsDirectory, id)), 'the checkpoint is gone');
  });

  /** Every file is stored under prefix + its relative path with the same bytes, and nothing else. */
  async function assertStoredExactly(files: Map<string, Buffer>, prefix: string): Promise<void> {
    for (const [path, body] of files) {
      const reply = await direct.send(new GetObjectCommand({ Bucket: BUCKET, Key: `${prefix}${path}` }));
      const stored = Buffer.from(await reply.Body!.transformToByteArray());
      assert.equal(sha256(stored), sha256(body), `${path} differs`);
    }
  }
});

/** Small files of a few KB and some big ones, under `root`, keyed by path relative to its parent. */
async function makeTree(root: string, shape: { small: number; big: number[] }): Promise<Map<string, Buffer>> {
  const files = new Map<string, Buffer>();
  const name = root.split('/').pop()!;
  for (let i = 0; i < shape.small; i++) files.set(`${name}/small/${String(i).padStart(4, '0')}.dat`, randomBytes(1 + ((i * 977) % 9000)));
  shape.big.forEach((size, i) => files.set(`${name}/big/${i}.bin`, randomBytes(size)));
  for (const [path, body] of files) {
    const full = join(root, '..', path);
    await mkdir(join(full, '..'), { recursive: true });
    await writeFile(full, body);
  }
  return files;
}

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

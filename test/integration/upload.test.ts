// The upload engine against Ceph RGW: a tree of awkward files must come back byte-identical.
import { CreateBucketCommand, GetObjectCommand, HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Connection } from '../../src/aws/connection';
import { connectionToRgw } from '../fixtures/rgw-connection';
import { listAllObjects } from '../../src/s3/listing';
import { MiB } from '../../src/transfer/plan';
import { listIncompleteUploads, prepareUpload, runPrepared } from '../../src/transfer/uploadService';
import { startRgw } from '../harness/rgw.mjs';

const BUCKET = 'integration-upload';

describe('upload engine against Ceph RGW', () => {
  let rgw: Awaited<ReturnType<typeof startRgw>>;
  let connection: Connection;
  let s3: S3Client;
  let scratch: string;
  /** Relative path → bytes of every file in the tree. */
  const tree = new Map<string, Buffer>();

  before(async () => {
    rgw = await startRgw();
    scratch = await mkdtemp(join(tmpdir(), 'rc-upload-'));
    connection = connectionToRgw(rgw, scratch);
    s3 = await connection.s3();
    await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
    const deep = Array.from({ length: 10 }, (_, i) => `level${i}`).join('/');
    const files: Array<[string, Buffer]> = [
      ['empty.txt', Buffer.alloc(0)],
      ['nested/empty too.dat', Buffer.alloc(0)],
      ['ünïcödé/Proben Ø µm — 測試.txt', Buffer.from('unicode names survive\n')],
      ['with space/and+plus & percent%20.csv', Buffer.from('a,b\n1,2\n')],
      [`${deep}/leaf.txt`, Buffer.from('ten levels down\n')],
      ['boundary/5MiB-minus-1.bin', randomBytes(5 * MiB - 1)],
      ['boundary/5MiB.bin', randomBytes(5 * MiB)],
      ['boundary/5MiB-plus-1.bin', randomBytes(5 * MiB + 1)],
      ['boundary/16MiB.bin', randomBytes(16 * MiB)], // exactly the multipart threshold: two parts
      ['big/run-100MiB.bam', randomBytes(100 * MiB)],
    ];
    for (const [path, body] of files) {
      tree.set(path, body);
      const full = join(scratch, 'data', path);
      await mkdir(join(full, '..'), { recursive: true });
      await writeFile(full, body);
    }
  });

  after(async () => {
    connection?.dispose();
    await rgw?.stop();
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  it('uploads the tree and every object comes back byte-identical, with no upload left open', async () => {
    const prepared = await prepareUpload(connection, { sources: [join(scratch, 'data')], bucket: BUCKET, prefix: 'set1/' });
    assert.equal(prepared.plan.files, tree.size);
    assert.equal(prepared.plan.multipartFiles, 2, 'the 16 MiB and 100 MiB files go multipart');
    const outcome = await runPrepared(connection, prepared, { jobsDirectory: join(scratch, 'jobs') });
    assert.deepEqual(outcome.result.failed, []);
    assert.equal(outcome.result.files, tree.size);

    const keys: string[] = [];
    for await (const page of listAllObjects(s3, BUCKET, 'set1/')) keys.push(...page.map((o) => o.key));
    assert.deepEqual(keys.sort(), [...tree.keys()].map((p) => `set1/data/${p}`).sort());
    for (const [path, body] of tree) {
      const reply = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: `set1/data/${path}` }));
      const stored = Buffer.from(await reply.Body!.transformToByteArray());
      assert.equal(sha256(stored), sha256(body), `${path} differs`);
    }
    assert.deepEqual(await listIncompleteUploads(s3, BUCKET), []);
  });

  it('stores the modification time and a content type from the name', async () => {
    const head = await s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: 'set1/data/with space/and+plus & percent%20.csv' }));
    assert.equal(head.ContentType, 'text/csv');
    assert.match(head.Metadata?.mtime ?? '', /^\d{13}$/);
  });
});

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

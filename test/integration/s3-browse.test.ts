// The S3 layer against a real S3 implementation (Ceph RGW), through the same Connection the
// extension uses, configured only by the AWS environment conventions.
import { CreateBucketCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Connection } from '../../src/aws/connection';
import { connectionToRgw } from '../fixtures/rgw-connection';
import { explainAwsError } from '../../src/aws/errors';
import { downloadToFolder } from '../../src/s3/download';
import { listAllObjects, listBuckets, listPage } from '../../src/s3/listing';
import { createFolder, deleteKeys, expandTargets, objectProperties, presignGet } from '../../src/s3/objects';
import { startRgw } from '../harness/rgw.mjs';

const BUCKET = 'integration-browse';

describe('S3 browsing against Ceph RGW', () => {
  let rgw: Awaited<ReturnType<typeof startRgw>>;
  let connection: Connection;
  let s3: S3Client;
  let configDir: string;
  /** Every key put in the bucket, with its bytes, to compare downloads against. */
  const bodies = new Map<string, Buffer>();

  before(async () => {
    rgw = await startRgw();
    configDir = await mkdtemp(join(tmpdir(), 'rc-aws-'));
    connection = connectionToRgw(rgw, configDir);
    s3 = await connection.s3();
    await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
    const put = async (key: string, body: Buffer) => {
      bodies.set(key, body);
      await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: body }));
    };
    // 1,050 keys in one folder so listing has to page; nested folders; odd names; one object big
    // enough to be fetched with ranged parallel GETs.
    const flat = Array.from({ length: 1050 }, (_, i) => `flat/item-${String(i).padStart(4, '0')}.txt`);
    await runLimited(flat.map((key) => () => put(key, Buffer.from(`body of ${key}\n`))), 32);
    await put('project/raw/sample 1.fastq', randomBytes(1000));
    await put('project/raw/ünïcödé + symbols &=@.txt', Buffer.from('odd names survive\n'));
    await put('project/raw/deep/a/b/c/leaf.txt', Buffer.from('deep\n'));
    await put('project/big/run.bam', randomBytes(40 * 1024 * 1024 + 123));
    await put('project/empty.txt', Buffer.alloc(0));
  });

  after(async () => {
    connection?.dispose();
    await rgw?.stop();
    if (configDir) await rm(configDir, { recursive: true, force: true });
  });

  it('lists buckets', async () => {
    const names = (await listBuckets(s3)).map((b) => b.name);
    assert.ok(names.includes(BUCKET), `ListBuckets should include ${BUCKET}: ${names.join(', ')}`);
  });

  it('lists a folder with the delimiter: sub-folders as prefixes, objects directly under it', async () => {
    const top = await listPage(s3, { bucket: BUCKET, prefix: '' });
    assert.deepEqual(top.prefixes, ['flat/', 'project/']);
    assert.deepEqual(top.objects, []);
    const project = await listPage(s3, { bucket: BUCKET, prefix: 'project/' });
    assert.deepEqual(project.prefixes, ['project/big/', 'project/raw/']);
    assert.deepEqual(project.objects.map((o) => [o.key, o.size]), [['project/empty.txt', 0]]);
    assert.ok(project.objects[0].lastModified instanceof Date);
    assert.equal(project.nextToken, undefined);
  });

  it('pages a folder of 1,050 keys in pages of 1,000 and returns each key once', async () => {
    const first = await listPage(s3, { bucket: BUCKET, prefix: 'flat/' });
    assert.equal(first.objects.length, 1000);
    assert.ok(first.nextToken, 'a truncated page carries a continuation token');
    const second = await listPage(s3, { bucket: BUCKET, prefix: 'flat/', continuationToken: first.nextToken });
    assert.equal(second.objects.length, 50);
    assert.equal(second.nextToken, undefined);
    const keys = [...first.objects, ...second.objects].map((o) => o.key);
    assert.equal(new Set(keys).size, 1050);
  });

  it('filters a folder by name prefix on the server', async () => {
    const page = await listPage(s3, { bucket: BUCKET, prefix: 'flat/', filter: 'item-104' });
    assert.deepEqual(page.objects.map((o) => o.key), Array.from({ length: 10 }, (_, i) => `flat/item-104${i}.txt`));
  });

  it('downloads a prefix into a folder, byte-identical, keeping structure', async () => {
    const dest = await mkdtemp(join(tmpdir(), 'rc-download-'));
    try {
      const result = await downloadToFolder(s3, [{ bucket: BUCKET, prefix: 'project/' }], dest, { partSize: 8 * 1024 * 1024 });
      assert.deepEqual(result.failed, []);
      const expected = [...bodies].filter(([key]) => key.startsWith('project/'));
      assert.equal(result.files, expected.length);
      for (const [key, body] of expected) {
        const local = await readFile(join(dest, key)); // project/… lands as DEST/project/…
        assert.equal(sha256(local), sha256(body), `${key} differs after download`);
      }
      const written = await walk(dest);
      assert.deepEqual(written.sort(), expected.map(([key]) => key).sort(), 'no temp or extra files are left');
    } finally {
      await rm(dest, { recursive: true, force: true });
    }
  });

  it('fetches a presigned URL with plain HTTP, and the URL stops working for another key', async () => {
    const url = await presignGet(s3, BUCKET, 'project/raw/sample 1.fastq', 300);
    const reply = await fetch(url);
    assert.equal(reply.status, 200);
    assert.equal(sha256(Buffer.from(await reply.arrayBuffer())), sha256(bodies.get('project/raw/sample 1.fastq')!));
    const tampered = url.replace('sample%201.fastq', 'empty.txt').replace('sample 1.fastq', 'empty.txt');
    assert.notEqual(tampered, url);
    assert.equal((await fetch(tampered)).status, 403, 'the signature covers the key');
  });

  it('reads object properties', async () => {
    const props = await objectProperties(s3, BUCKET, 'project/raw/sample 1.fastq');
    assert.equal(props.size, 1000);
    assert.equal(props.storageClass, 'STANDARD');
    assert.match(props.bucketVersioning, /Never enabled|Suspended|Enabled/);
  });

  it('creates a folder marker and deletes a whole prefix in batches', async () => {
    const marker = await createFolder(s3, BUCKET, 'flat/', 'made-here');
    assert.equal(marker, 'flat/made-here/');
    const keys = await expandTargets(s3, [{ bucket: BUCKET, key: 'flat/' }]);
    assert.equal(keys.get(BUCKET)!.length, 1051, 'every key under flat/, with the new folder marker');
    const result = await deleteKeys(s3, keys);
    assert.deepEqual(result.failed, []);
    const left: string[] = [];
    for await (const page of listAllObjects(s3, BUCKET, 'flat/')) left.push(...page.map((o) => o.key));
    assert.deepEqual(left, []);
    const project = await listPage(s3, { bucket: BUCKET, prefix: 'project/' });
    assert.equal(project.prefixes.length, 2, 'other prefixes are untouched');
  });

  it('explains a missing bucket in a sentence', async () => {
    const err = await listPage(s3, { bucket: 'no-such-bucket-here', prefix: '' }).catch((e: unknown) => e);
    const explained = explainAwsError(err, { operation: 'Listing s3://no-such-bucket-here/' });
    assert.match(explained.message, /^Listing s3:\/\/no-such-bucket-here\/ failed: the bucket does not exist/);
  });
});

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

async function walk(root: string, dir = root): Promise<string[]> {
  const files: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) files.push(...(await walk(root, path)));
    else files.push(relative(root, path));
  }
  return files;
}

async function runLimited(tasks: Array<() => Promise<unknown>>, limit: number): Promise<void> {
  const queue = [...tasks];
  await Promise.all(Array.from({ length: limit }, async () => {
    for (let task = queue.shift(); task; task = queue.shift()) await task();
  }));
}

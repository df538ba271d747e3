// The research-cloud command line against Ceph RGW, run as a user runs it: a separate process,
// configured only by the AWS environment conventions, read through its exit status, stdout and
// stderr. src/cli/main.ts runs through tsx, the code esbuild bundles into dist/cli.js.
import { CreateBucketCommand, CreateMultipartUploadCommand, GetObjectCommand, HeadObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { appendFile, mkdir, mkdtemp, readdir, readFile, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { Connection } from '../../src/aws/connection';
import { listAllObjects } from '../../src/s3/listing';
import { MiB } from '../../src/transfer/plan';
import { listIncompleteUploads } from '../../src/transfer/uploadService';
import { startRgw } from '../harness/rgw.mjs';

const BUCKET = 'integration-cli';
const REPO = join(__dirname, '..', '..');

interface Run {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

describe('research-cloud against Ceph RGW', () => {
  let rgw: Awaited<ReturnType<typeof startRgw>>;
  let connection: Connection;
  let s3: S3Client;
  let scratch: string;
  let data: string;
  let env: NodeJS.ProcessEnv;
  /** Path relative to data/ → bytes, for the tree every test starts from. */
  const tree = new Map<string, Buffer>([
    ['a.txt', Buffer.from('alpha\n')],
    ['b.csv', Buffer.from('x,y\n1,2\n')],
    ['nested/c.json', Buffer.from('{"c":3}\n')],
    ['nested/deeper/d.bin', randomBytes(100_000)],
    ['with space/é.txt', Buffer.from('unicode\n')],
  ]);

  before(async () => {
    rgw = await startRgw();
    scratch = await mkdtemp(join(tmpdir(), 'rc-cli-'));
    data = join(scratch, 'data');
    env = {
      PATH: process.env.PATH,
      HOME: scratch,
      XDG_CACHE_HOME: join(scratch, 'cache'),
      AWS_CONFIG_FILE: join(scratch, 'no-config'),
      AWS_SHARED_CREDENTIALS_FILE: join(scratch, 'no-credentials'),
      AWS_ENDPOINT_URL_S3: rgw.endpoint,
      AWS_REGION: rgw.region,
      AWS_ACCESS_KEY_ID: rgw.accessKeyId,
      AWS_SECRET_ACCESS_KEY: rgw.secretAccessKey,
    };
    connection = new Connection({}, env);
    s3 = await connection.s3();
    await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
    for (const [path, body] of tree) {
      await mkdir(join(data, path, '..'), { recursive: true });
      await writeFile(join(data, path), body);
    }
  });

  after(async () => {
    connection?.dispose();
    await rgw?.stop();
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  /** Runs research-cloud with `args`; `whileRunning` may act on the process (send it Ctrl-C). */
  function cli(args: string[], whileRunning?: (child: ChildProcess) => Promise<void>): Promise<Run> {
    const child = spawn(process.execPath, ['--import', 'tsx', join(REPO, 'src/cli/main.ts'), ...args], { cwd: REPO, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const exited = new Promise<Run>((resolve) => child.on('close', (status) => resolve({ status, stdout, stderr })));
    const timeout = setTimeout(() => child.kill('SIGKILL'), 60_000);
    return Promise.all([exited, whileRunning?.(child)]).then(([run]) => {
      clearTimeout(timeout);
      return run;
    });
  }

  async function cliJson<T>(args: string[], expectedStatus = 0): Promise<T> {
    const run = await cli([...args, '--json']);
    assert.equal(run.status, expectedStatus, `${args.join(' ')}\nstdout: ${run.stdout}\nstderr: ${run.stderr}`);
    return JSON.parse(run.stdout) as T;
  }

  async function keys(prefix: string): Promise<string[]> {
    const found: string[] = [];
    for await (const page of listAllObjects(s3, BUCKET, prefix)) found.push(...page.map((o) => o.key));
    return found.sort();
  }

  async function objectBytes(key: string): Promise<Buffer> {
    const reply = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
    return Buffer.from(await reply.Body!.transformToByteArray());
  }

  async function checkpoints(): Promise<string[]> {
    return readdir(join(scratch, 'cache', 'research-cloud', 'jobs')).catch(() => []);
  }

  interface UploadJson {
    status: string;
    jobId?: string;
    plan: { files: number; bytes: number };
    uploaded?: { files: number; bytes: number; alreadyDone: number };
    failures?: unknown[];
    deleted?: number;
    sync?: { upload: string[]; unchanged: number; delete: string[] };
    error?: string;
  }

  it('upload --json: every file arrives under the prefix and the folder name, with one JSON result', async () => {
    const result = await cliJson<UploadJson>(['upload', data, `s3://${BUCKET}/set1`]);
    assert.equal(result.status, 'completed');
    assert.equal(result.plan.files, tree.size);
    assert.equal(result.uploaded?.files, tree.size);
    assert.equal(result.uploaded?.bytes, [...tree.values()].reduce((n, b) => n + b.length, 0));
    assert.deepEqual(result.failures, []);
    assert.match(result.jobId ?? '', /^\d{4}-\d\d-\d\dT/);
    assert.deepEqual(await keys('set1/'), [...tree.keys()].map((p) => `set1/data/${p}`).sort());
    for (const [path, body] of tree) assert.ok((await objectBytes(`set1/data/${path}`)).equals(body), path);
    assert.deepEqual(await checkpoints(), [], 'a finished job leaves no checkpoint');
  });

  it('the bundle, dist/cli.js, uploads too: its reader threads start from dist/fileReaderWorker.js', async () => {
    execFileSync(process.execPath, ['esbuild.mjs'], { cwd: REPO, stdio: 'ignore' });
    const big = join(scratch, 'bundle-data', 'big.bin');
    await mkdir(join(big, '..'), { recursive: true });
    const body = randomBytes(17 * MiB); // three parts of 8 MiB: ranges read in the threads
    await writeFile(big, body);
    const run = spawn(process.execPath, [join(REPO, 'dist/cli.js'), 'upload', join(big, '..'), `s3://${BUCKET}/bundle`, '--json'], { cwd: scratch, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    run.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    const status = await new Promise<number | null>((resolve) => run.on('close', resolve));
    assert.equal(status, 0, stdout);
    assert.equal(JSON.parse(stdout).status, 'completed');
    assert.ok((await objectBytes('bundle/bundle-data/big.bin')).equals(body));
  });

  it('upload without --json: a summary for people on stdout, nothing on stderr', async () => {
    const run = await cli(['upload', join(data, 'a.txt'), `s3://${BUCKET}/plain/`]);
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /^Uploading to s3:\/\/integration-cli\/plain\/: 1 file, 6 B;/);
    assert.match(run.stdout, /Uploaded 1 file, 6 B, to s3:\/\/integration-cli\/plain\/ in /);
    assert.equal(run.stderr, '');
    assert.deepEqual(await keys('plain/'), ['plain/a.txt']);
  });

  it('object options reach S3: storage class, no content type', async () => {
    const run = await cli(['upload', join(data, 'b.csv'), `s3://${BUCKET}/options/`, '--storage-class', 'STANDARD_IA', '--no-content-type']);
    assert.equal(run.status, 0, run.stderr);
    const head = await s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: 'options/b.csv' }));
    assert.equal(head.StorageClass, 'STANDARD_IA');
    assert.notEqual(head.ContentType, 'text/csv');
  });

  it('a path that cannot be uploaded (a named pipe) is listed and makes the exit status 1; a skipped link does not', async () => {
    const mixed = join(scratch, 'mixed');
    await mkdir(mixed);
    await writeFile(join(mixed, 'ok.txt'), 'fine\n');
    execFileSync('mkfifo', [join(mixed, 'pipe')]);
    await symlink(join(mixed, 'ok.txt'), join(mixed, 'link'));

    const run = await cli(['upload', mixed, `s3://${BUCKET}/mixed/`]);
    assert.equal(run.status, 1, run.stderr);
    assert.match(run.stderr, /1 path could not be uploaded:\n  \S+\/mixed\/pipe: not a regular file/);
    assert.match(run.stderr, /Skipped 1 symbolic link \(--follow-symlinks follows them\):\n  \S+\/mixed\/link\n/);
    assert.deepEqual(await keys('mixed/'), ['mixed/mixed/ok.txt']);

    const excluded = await cli(['upload', mixed, `s3://${BUCKET}/mixed/`, '--exclude', '**/pipe']);
    assert.equal(excluded.status, 0, excluded.stderr);
    assert.doesNotMatch(excluded.stderr, /pipe/);
  });

  it('--dry-run prints the plan and sends nothing', async () => {
    const run = await cli(['upload', data, `s3://${BUCKET}/dry/`, '--dry-run']);
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /^Dry run: nothing is sent\.\nWould upload to s3:\/\/integration-cli\/dry\/:\n  5 files, /);
    assert.match(run.stdout, /estimated time: /);
    const json = await cliJson<UploadJson>(['upload', data, `s3://${BUCKET}/dry/`, '--dry-run']);
    assert.equal(json.status, 'dry-run');
    assert.equal(json.plan.files, tree.size);
    assert.deepEqual(await keys('dry/'), []);
    assert.deepEqual(await checkpoints(), []);
  });

  it('sync --dry-run right after the upload: nothing to move', async () => {
    const json = await cliJson<UploadJson>(['sync', data, `s3://${BUCKET}/set1/`, '--dry-run']);
    assert.deepEqual(json.sync, { upload: [], unchanged: tree.size, delete: [] });
    const run = await cli(['sync', data, `s3://${BUCKET}/set1/`, '--dry-run']);
    assert.match(run.stdout, /Nothing would be uploaded: 5 files unchanged\./);
    for (const compare of ['size-and-time', 'checksum']) {
      const other = await cliJson<UploadJson>(['sync', data, `s3://${BUCKET}/set1/`, '--dry-run', '--compare', compare]);
      assert.deepEqual(other.sync?.upload, [], compare);
    }
  });

  it('sync after one file changed, then after one was touched: each time exactly that one moves', async () => {
    await appendFile(join(data, 'nested/c.json'), '{"more":true}\n');
    const changed = await cliJson<UploadJson>(['sync', data, `s3://${BUCKET}/set1/`]);
    assert.deepEqual(changed.sync, { upload: ['data/nested/c.json'], unchanged: tree.size - 1, delete: [] });
    assert.equal(changed.uploaded?.files, 1);
    assert.ok((await objectBytes('set1/data/nested/c.json')).equals(await readFile(join(data, 'nested/c.json'))));

    const now = new Date();
    await utimes(join(data, 'a.txt'), now, now);
    const touched = await cliJson<UploadJson>(['sync', data, `s3://${BUCKET}/set1/`]);
    assert.deepEqual(touched.sync?.upload, ['data/a.txt']);
    assert.equal(touched.uploaded?.files, 1);

    const again = await cliJson<UploadJson>(['sync', data, `s3://${BUCKET}/set1/`]);
    assert.deepEqual(again.sync?.upload, []);
    assert.equal(again.status, 'completed');
  });

  it('sync --delete: listed first by --dry-run, refused without --yes and no terminal, done with --yes; other folders untouched', async () => {
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'set1/data/nested/stale.txt', Body: 'gone locally' }));
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'set1/sibling/keep.txt', Body: 'another folder under the same prefix' }));
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'set1/data-2/keep.txt', Body: 'a name that starts like the folder' }));

    const dry = await cli(['sync', data, `s3://${BUCKET}/set1/`, '--delete', '--dry-run']);
    assert.equal(dry.status, 0, dry.stderr);
    assert.match(dry.stdout, /^Dry run: nothing is sent\.\nWould delete 1 remote object that has no local file:\n  s3:\/\/integration-cli\/set1\/data\/nested\/stale\.txt\n/);

    const refused = await cli(['sync', data, `s3://${BUCKET}/set1/`, '--delete']);
    assert.equal(refused.status, 2);
    assert.match(refused.stderr, /add --yes to allow it/);

    const result = await cliJson<UploadJson>(['sync', data, `s3://${BUCKET}/set1/`, '--delete', '--yes']);
    assert.equal(result.deleted, 1);
    assert.deepEqual(result.sync?.delete, ['set1/data/nested/stale.txt']);
    const left = await keys('set1/');
    assert.ok(!left.includes('set1/data/nested/stale.txt'));
    assert.ok(left.includes('set1/sibling/keep.txt') && left.includes('set1/data-2/keep.txt'), left.join('\n'));
  });

  it('a bucket that does not exist stops the job: exit 3, a sentence, no checkpoint left', async () => {
    const run = await cli(['upload', data, 's3://no-such-bucket-here/x/']);
    assert.equal(run.status, 3);
    assert.match(run.stderr, /^Opening s3:\/\/no-such-bucket-here\/ for upload failed: the bucket does not exist\./m);
    assert.doesNotMatch(run.stderr, /\n\s+at |resume/);
    assert.doesNotMatch(run.stdout + run.stderr, new RegExp(rgw.secretAccessKey));
    assert.deepEqual(await checkpoints(), []);
  });

  describe('Ctrl-C, resume, discard, cleanup', () => {
    let big: string;
    let bigBody: Buffer;

    before(async () => {
      big = join(scratch, 'big');
      bigBody = randomBytes(40 * MiB);
      await mkdir(big);
      await writeFile(join(big, 'run.bam'), bigBody);
    });

    /** Uploads the big file one 5 MiB part at a time and sends Ctrl-C once its multipart upload has started. */
    async function cancelledUpload(prefix: string): Promise<{ run: Run; jobId: string }> {
      const run = await cli(['upload', big, `s3://${BUCKET}/${prefix}`, '--part-size', '5', '--concurrency', '1'], async (child) => {
        while (child.exitCode === null) {
          const names = await checkpoints();
          const texts = await Promise.all(names.map((n) => readFile(join(scratch, 'cache', 'research-cloud', 'jobs', n), 'utf8').catch(() => '')));
          if (texts.some((t) => t.includes('"e":"mpu"'))) break;
          await sleep(20);
        }
        child.kill('SIGINT');
      });
      const jobId = /research-cloud resume (\S+)/.exec(run.stderr)?.[1];
      assert.ok(jobId, run.stderr);
      return { run, jobId };
    }

    it('the first Ctrl-C stops the job: exit 3, the exact resume command; resume finishes it byte-identical', async () => {
      const { run, jobId } = await cancelledUpload('cancel1/');
      assert.equal(run.status, 3);
      assert.match(run.stderr, /^Stopping… \(Ctrl-C again quits at once\)\nCancelled\.\nThe checkpoint and any open multipart uploads are kept\. Go on with:\n  research-cloud resume \S+\n/);
      assert.match(run.stderr, new RegExp(`research-cloud discard ${jobId}`));

      const jobs = await cliJson<{ jobs: Array<{ id: string; openMultipartUploads: number; destination: string }> }>(['jobs']);
      assert.deepEqual(jobs.jobs.map((j) => [j.id, j.openMultipartUploads, j.destination]), [[jobId, 1, `s3://${BUCKET}/cancel1/`]]);

      const resumed = await cliJson<UploadJson>(['resume', jobId]);
      assert.equal(resumed.status, 'completed');
      assert.equal(resumed.uploaded?.files, 1);
      assert.ok((await objectBytes('cancel1/big/run.bam')).equals(bigBody));
      assert.deepEqual(await checkpoints(), []);
      assert.deepEqual(await listIncompleteUploads(s3, BUCKET), []);
    });

    it('cleanup leaves a job\'s upload to the job and aborts orphans with --yes; discard aborts the job\'s', async () => {
      const { jobId } = await cancelledUpload('cancel2/');
      await s3.send(new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: 'orphan/part.bin' }));

      interface CleanupJson {
        uploads: Array<{ key: string; jobId?: string }>;
        aborted: number;
      }
      const listed = await cliJson<CleanupJson>(['cleanup', `s3://${BUCKET}`]);
      assert.deepEqual(listed.uploads.map((u) => [u.key, u.jobId]).sort(), [['cancel2/big/run.bam', jobId], ['orphan/part.bin', undefined]]);
      assert.equal(listed.aborted, 0, 'no terminal and no --yes: nothing is aborted');

      const cleaned = await cliJson<CleanupJson>(['cleanup', `s3://${BUCKET}`, '--yes']);
      assert.equal(cleaned.aborted, 1);
      assert.deepEqual((await listIncompleteUploads(s3, BUCKET)).map((u) => u.key), ['cancel2/big/run.bam']);

      const discarded = await cliJson<{ abortedUploads: number }>(['discard', jobId]);
      assert.equal(discarded.abortedUploads, 1);
      assert.deepEqual(await listIncompleteUploads(s3, BUCKET), []);
      assert.deepEqual(await checkpoints(), []);
      assert.deepEqual(await keys('cancel2/'), []);
    });
  });

  it('download: a folder with or without its slash, and a single object', async () => {
    const into = join(scratch, 'downloads');
    interface DownloadJson {
      status: string;
      files: number;
    }
    const folder = await cliJson<DownloadJson>(['download', `s3://${BUCKET}/set1/data`, into]);
    assert.equal(folder.status, 'completed');
    assert.equal(folder.files, tree.size);
    for (const path of tree.keys()) {
      assert.ok((await readFile(join(into, 'data', path))).equals(await readFile(join(data, path))), path);
    }
    const again = await cli(['download', `s3://${BUCKET}/set1/data/`, into]);
    assert.equal(again.status, 0, again.stderr);
    assert.match(again.stdout, /Downloaded 0 files, 0 B, into .* 5 files already there, skipped\./);

    const single = await cliJson<DownloadJson>(['download', `s3://${BUCKET}/plain/a.txt`, join(scratch, 'one')]);
    assert.equal(single.files, 1);
    assert.equal(await readFile(join(scratch, 'one', 'a.txt'), 'utf8'), 'alpha\n');

    const missing = await cli(['download', `s3://${BUCKET}/nothing-here`, into]);
    assert.equal(missing.status, 1);
    assert.match(missing.stderr, /Nothing was downloaded: there is no object or folder s3:\/\/integration-cli\/nothing-here\./);
  });
});

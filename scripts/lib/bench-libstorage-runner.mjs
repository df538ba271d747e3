// The @aws-sdk/lib-storage peer of scripts/bench-upload.mjs: every file under SOURCE_DIR sent
// with its own `Upload` (queueSize 4, partSize 8 MiB, the file as a read stream), 16 files at a
// time, which is how an application built on the AWS SDK uploads a folder. The client is set up
// as S3-compatible stores need (path-style, checksums only where required); everything else is
// the SDK's default. Endpoint, keys and region come from the environment.
//   node scripts/lib/bench-libstorage-runner.mjs SOURCE_DIR BUCKET
// Prints one line of JSON on stdout; exits 1 (JSON with "error") if any file failed.
import { S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { createReadStream } from 'node:fs';
import { opendir, stat } from 'node:fs/promises';
import { basename, join, relative, sep } from 'node:path';

const POOL = 16;
const QUEUE_SIZE = 4;
const PART_SIZE = 8 * 2 ** 20;

const [source, bucket] = process.argv.slice(2);
if (!source || !bucket) {
  console.error('usage: node scripts/lib/bench-libstorage-runner.mjs SOURCE_DIR BUCKET');
  process.exit(2);
}

const client = new S3Client({
  endpoint: process.env.AWS_ENDPOINT_URL_S3,
  region: process.env.AWS_REGION ?? 'us-east-1',
  forcePathStyle: true,
  requestChecksumCalculation: 'WHEN_REQUIRED',
  responseChecksumValidation: 'WHEN_REQUIRED',
});

async function* walk(dir) {
  for await (const entry of await opendir(dir)) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* walk(path);
    else if (entry.isFile()) yield path;
  }
}

const started = performance.now();
let files = 0;
let bytes = 0;
const failed = [];
try {
  const paths = walk(source);
  const root = join(source, '..');
  const worker = async () => {
    for (;;) {
      const next = await paths.next();
      if (next.done) return;
      const path = next.value;
      const key = relative(root, path).split(sep).join('/');
      try {
        const { size } = await stat(path);
        await new Upload({
          client,
          params: { Bucket: bucket, Key: key, Body: createReadStream(path) },
          queueSize: QUEUE_SIZE,
          partSize: PART_SIZE,
          leavePartsOnError: false,
        }).done();
        files++;
        bytes += size;
      } catch (error) {
        failed.push(`${path}: ${error?.name}: ${error?.message}`);
      }
    }
  };
  // An async generator runs one next() at a time, so the workers share the walk safely.
  await Promise.all(Array.from({ length: POOL }, worker));
  process.stdout.write(`${JSON.stringify({ files, bytes, seconds: (performance.now() - started) / 1000, failedCount: failed.length, failed: failed.slice(0, 5), source: basename(source) })}\n`);
  if (failed.length) process.exitCode = 1;
} catch (error) {
  process.stdout.write(`${JSON.stringify({ error: `${error?.name}: ${error?.message}` })}\n`);
  process.exitCode = 1;
} finally {
  client.destroy();
}

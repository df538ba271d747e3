import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  CreateBucketCommand,
  DeleteObjectsCommand,
  GetBucketEncryptionCommand,
  GetBucketVersioningCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
} from '@aws-sdk/client-s3';
import type { ProgressReport } from '../../src/core/progress';
import {
  createBucket,
  createFolder,
  deleteKeys,
  expandTargets,
  MAX_PRESIGN_SECONDS,
  objectProperties,
  presignGet,
} from '../../src/s3/objects';
import { deleteObjectsReply, FAKE_CREDENTIALS, listObjectsReply, mockedS3, s3Error, s3Object, sendOptions, testS3Client } from '../fixtures/s3';

function mocked(t: { after: (fn: () => void) => void }) {
  const m = mockedS3();
  t.after(() => m.mock.restore());
  return m;
}

const keys = (n: number, prefix = 'k') => Array.from({ length: n }, (_, i) => `${prefix}${String(i).padStart(4, '0')}`);

describe('deleteKeys', () => {
  test('sends 2,500 keys as quiet requests of 1,000, 1,000 and 500, in order', async (t) => {
    const { s3, mock } = mocked(t);
    mock.on(DeleteObjectsCommand).resolves(deleteObjectsReply());
    const all = keys(2500);
    const result = await deleteKeys(s3, new Map([['lab-data', all]]));
    const inputs = mock.commandCalls(DeleteObjectsCommand).map((c) => c.args[0].input);
    assert.deepEqual(inputs.map((i) => i.Delete?.Objects?.length), [1000, 1000, 500]);
    for (const input of inputs) {
      assert.equal(input.Bucket, 'lab-data');
      assert.equal(input.Delete?.Quiet, true);
    }
    assert.deepEqual(inputs.flatMap((i) => i.Delete?.Objects?.map((o) => o.Key)), all);
    assert.deepEqual(result, { deleted: 2500, failed: [] });
  });

  test('reports keys S3 could not delete as failures and counts the rest as deleted', async (t) => {
    const { s3, mock } = mocked(t);
    mock
      .on(DeleteObjectsCommand)
      .resolvesOnce(
        deleteObjectsReply([
          { key: 'k0003', code: 'AccessDenied', message: 'Access Denied' },
          { key: 'k0999', code: 'InternalError' },
        ]),
      )
      .resolvesOnce(deleteObjectsReply([{ key: 'k1200', code: 'AccessDenied', message: 'Access Denied' }]));
    const result = await deleteKeys(s3, new Map([['lab-data', keys(1500)]]));
    assert.equal(result.deleted, 1497);
    assert.deepEqual(result.failed, [
      { bucket: 'lab-data', key: 'k0003', code: 'AccessDenied', message: 'Access Denied' },
      { bucket: 'lab-data', key: 'k0999', code: 'InternalError', message: 'InternalError' },
      { bucket: 'lab-data', key: 'k1200', code: 'AccessDenied', message: 'Access Denied' },
    ]);
  });

  test('deletes per bucket, and reports progress after each request against the total', async (t) => {
    const { s3, mock } = mocked(t);
    mock
      .on(DeleteObjectsCommand, { Bucket: 'one' })
      .resolves(deleteObjectsReply([{ key: 'k0000', code: 'AccessDenied' }]))
      .on(DeleteObjectsCommand, { Bucket: 'two' })
      .resolves(deleteObjectsReply());
    const reports: ProgressReport[] = [];
    const result = await deleteKeys(s3, new Map([['one', keys(1001)], ['two', keys(3)]]), { progress: (r) => reports.push(r) });
    assert.deepEqual(
      mock.commandCalls(DeleteObjectsCommand).map((c) => [c.args[0].input.Bucket, c.args[0].input.Delete?.Objects?.length]),
      [['one', 1000], ['one', 1], ['two', 3]],
    );
    assert.deepEqual(reports, [
      { itemsDone: 1000, itemsTotal: 1004, bytesDone: 0 },
      { itemsDone: 1001, itemsTotal: 1004, bytesDone: 0 },
      { itemsDone: 1004, itemsTotal: 1004, bytesDone: 0 },
    ]);
    assert.equal(result.deleted, 1002);
    assert.deepEqual(result.failed.map((f) => [f.bucket, f.key]), [['one', 'k0000'], ['one', 'k0000']]);
  });

  test('stops before the next request once aborted, and passes the signal to each request', async (t) => {
    const { s3, mock } = mocked(t);
    const controller = new AbortController();
    mock.on(DeleteObjectsCommand).callsFake(() => {
      controller.abort();
      return deleteObjectsReply();
    });
    await assert.rejects(deleteKeys(s3, new Map([['lab-data', keys(2500)]]), { signal: controller.signal }), { name: 'AbortError' });
    const calls = mock.commandCalls(DeleteObjectsCommand);
    assert.equal(calls.length, 1);
    assert.equal(sendOptions(calls[0])?.abortSignal, controller.signal);
  });

  test('sends nothing when already aborted, or when there is nothing to delete', async (t) => {
    const { s3, mock } = mocked(t);
    mock.on(DeleteObjectsCommand).resolves(deleteObjectsReply());
    await assert.rejects(deleteKeys(s3, new Map([['b', ['k']]]), { signal: AbortSignal.abort() }));
    assert.deepEqual(await deleteKeys(s3, new Map([['b', []]])), { deleted: 0, failed: [] });
    assert.equal(mock.commandCalls(DeleteObjectsCommand).length, 0);
  });

  test('a failed request rejects (it is not a per-key failure)', async (t) => {
    const { s3, mock } = mocked(t);
    mock.on(DeleteObjectsCommand).rejects(s3Error('AccessDenied', 403, 'Access Denied'));
    await assert.rejects(deleteKeys(s3, new Map([['b', ['k']]])), { name: 'AccessDenied' });
  });
});

describe('expandTargets', () => {
  test('expands a prefix through every listing page, its marker only when listed, and keeps single keys', async (t) => {
    const { s3, mock } = mocked(t);
    mock
      .on(ListObjectsV2Command, { Bucket: 'lab-data', Prefix: 'runs/' })
      .resolvesOnce(listObjectsReply({ objects: [s3Object('runs/'), s3Object('runs/a.fastq'), s3Object('runs/b.fastq')], nextToken: 'p2' }))
      .resolvesOnce(listObjectsReply({ objects: [s3Object('runs/deep/c.fastq')] }));
    const expanded = await expandTargets(s3, [
      { bucket: 'lab-data', key: 'runs/' },
      { bucket: 'lab-data', key: 'notes.txt' },
      { bucket: 'other', key: 'x.csv' },
    ]);
    assert.deepEqual(
      [...expanded],
      [
        ['lab-data', ['runs/', 'runs/a.fastq', 'runs/b.fastq', 'runs/deep/c.fastq', 'notes.txt']],
        ['other', ['x.csv']],
      ],
    );
    const listed = mock.commandCalls(ListObjectsV2Command).map((c) => [c.args[0].input.Prefix, c.args[0].input.ContinuationToken]);
    assert.deepEqual(listed, [['runs/', undefined], ['runs/', 'p2']]);
  });

  test('lists nothing for single keys, and counts a key selected twice once', async (t) => {
    const { s3, mock } = mocked(t);
    mock.on(ListObjectsV2Command).resolves(listObjectsReply({ objects: [s3Object('runs/'), s3Object('runs/a')] }));
    const expanded = await expandTargets(s3, [
      { bucket: 'b', key: 'runs/a' },
      { bucket: 'b', key: 'runs/' },
      { bucket: 'b', key: 'runs/a' },
    ]);
    assert.deepEqual(expanded.get('b'), ['runs/a', 'runs/']);
    assert.equal(mock.commandCalls(ListObjectsV2Command).length, 1);
  });

  test('passes the abort signal to the listing', async (t) => {
    const { s3, mock } = mocked(t);
    mock.on(ListObjectsV2Command).resolves(listObjectsReply());
    const controller = new AbortController();
    await expandTargets(s3, [{ bucket: 'b', key: 'p/' }], controller.signal);
    assert.equal(sendOptions(mock.commandCalls(ListObjectsV2Command)[0])?.abortSignal, controller.signal);
  });
});

describe('createFolder', () => {
  test('puts an empty object named parent/name/ and returns its key', async (t) => {
    const { s3, mock } = mocked(t);
    mock.on(PutObjectCommand).resolves({ $metadata: {} });
    assert.equal(await createFolder(s3, 'lab-data', 'runs/', 'run-3'), 'runs/run-3/');
    const input = mock.commandCalls(PutObjectCommand)[0].args[0].input;
    assert.equal(input.Bucket, 'lab-data');
    assert.equal(input.Key, 'runs/run-3/');
    // Zero bytes, however the body is given ('' or an empty Uint8Array).
    const body = input.Body;
    assert.ok(body === '' || (body instanceof Uint8Array && body.byteLength === 0), `body ${String(body)}`);
    assert.ok(input.ContentLength === undefined || input.ContentLength === 0);
  });

  test('trims spaces and slashes around the name; at the top the key has no leading slash', async (t) => {
    const { s3, mock } = mocked(t);
    mock.on(PutObjectCommand).resolves({ $metadata: {} });
    assert.equal(await createFolder(s3, 'lab-data', '', '  //results// '), 'results/');
    assert.equal(await createFolder(s3, 'lab-data', 'a/', 'b/c'), 'a/b/c/');
  });

  test('refuses an empty name without sending anything', async (t) => {
    const { s3, mock } = mocked(t);
    for (const name of ['', '   ', '/', ' // ']) {
      await assert.rejects(createFolder(s3, 'lab-data', 'runs/', name), /cannot be empty/);
    }
    assert.equal(mock.commandCalls(PutObjectCommand).length, 0);
  });
});

describe('createBucket', () => {
  test('omits the location constraint in us-east-1', async (t) => {
    const { s3, mock } = mocked(t);
    mock.on(CreateBucketCommand).resolves({ $metadata: {} });
    await createBucket(s3, 'new-lab-bucket', 'us-east-1');
    const input = mock.commandCalls(CreateBucketCommand)[0].args[0].input;
    assert.equal(input.Bucket, 'new-lab-bucket');
    assert.equal(input.CreateBucketConfiguration, undefined);
  });

  test('sets it to the region anywhere else', async (t) => {
    const { s3, mock } = mocked(t);
    mock.on(CreateBucketCommand).resolves({ $metadata: {} });
    await createBucket(s3, 'new-lab-bucket', 'eu-west-1');
    assert.deepEqual(mock.commandCalls(CreateBucketCommand)[0].args[0].input.CreateBucketConfiguration, { LocationConstraint: 'eu-west-1' });
  });

  test('lets S3 errors through', async (t) => {
    const { s3, mock } = mocked(t);
    mock.on(CreateBucketCommand).rejects(s3Error('BucketAlreadyExists', 409));
    await assert.rejects(createBucket(s3, 'taken', 'us-east-1'), { name: 'BucketAlreadyExists' });
  });
});

describe('objectProperties', () => {
  const modified = new Date('2026-11-20T08:30:00Z');

  test('combines HEAD with the bucket\'s versioning and encryption', async (t) => {
    const { s3, mock } = mocked(t);
    mock
      .on(HeadObjectCommand, { Bucket: 'lab-data', Key: 'runs/a.fastq' })
      .resolves({
        $metadata: {},
        ContentLength: 1234,
        LastModified: modified,
        ETag: '"abc"',
        ContentType: 'text/plain',
        StorageClass: 'GLACIER_IR',
        VersionId: 'v1',
        ServerSideEncryption: 'aws:kms',
        SSEKMSKeyId: 'arn:aws:kms:eu-west-1:1:key/k',
        Metadata: { sample: 's1' },
        Restore: 'ongoing-request="false"',
      })
      .on(GetBucketVersioningCommand)
      .resolves({ $metadata: {}, Status: 'Enabled' })
      .on(GetBucketEncryptionCommand)
      .resolves({
        $metadata: {},
        ServerSideEncryptionConfiguration: {
          Rules: [{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: 'arn:aws:kms:eu-west-1:1:key/k' } }],
        },
      });
    assert.deepEqual(await objectProperties(s3, 'lab-data', 'runs/a.fastq'), {
      bucket: 'lab-data',
      key: 'runs/a.fastq',
      size: 1234,
      lastModified: modified,
      etag: '"abc"',
      contentType: 'text/plain',
      storageClass: 'GLACIER_IR',
      versionId: 'v1',
      serverSideEncryption: 'aws:kms',
      kmsKeyId: 'arn:aws:kms:eu-west-1:1:key/k',
      metadata: { sample: 's1' },
      restore: 'ongoing-request="false"',
      bucketVersioning: 'Enabled',
      bucketEncryption: 'aws:kms (arn:aws:kms:eu-west-1:1:key/k)',
    });
    assert.deepEqual(mock.commandCalls(GetBucketVersioningCommand)[0].args[0].input, { Bucket: 'lab-data' });
  });

  test('defaults: STANDARD storage class, no metadata, versioning never enabled, SSE without a key', async (t) => {
    const { s3, mock } = mocked(t);
    mock
      .on(HeadObjectCommand)
      .resolves({ $metadata: {}, ContentLength: 5 })
      .on(GetBucketVersioningCommand)
      .resolves({ $metadata: {} })
      .on(GetBucketEncryptionCommand)
      .resolves({ $metadata: {}, ServerSideEncryptionConfiguration: { Rules: [{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] } });
    const props = await objectProperties(s3, 'b', 'k');
    assert.equal(props.storageClass, 'STANDARD');
    assert.deepEqual(props.metadata, {});
    assert.equal(props.bucketVersioning, 'Never enabled');
    assert.equal(props.bucketEncryption, 'AES256');
  });

  test('no encryption configuration reads as None; a configuration without rules too', async (t) => {
    const { s3, mock } = mocked(t);
    mock
      .on(HeadObjectCommand)
      .resolves({ $metadata: {} })
      .on(GetBucketVersioningCommand)
      .resolves({ $metadata: {}, Status: 'Suspended' })
      .on(GetBucketEncryptionCommand)
      .rejectsOnce(s3Error('ServerSideEncryptionConfigurationNotFoundError', 404, 'The server side encryption configuration was not found'))
      .resolves({ $metadata: {}, ServerSideEncryptionConfiguration: { Rules: [] } });
    const first = await objectProperties(s3, 'b', 'k');
    assert.equal(first.bucketEncryption, 'None');
    assert.equal(first.bucketVersioning, 'Suspended');
    assert.equal(first.size, 0);
    assert.equal((await objectProperties(s3, 'b', 'k')).bucketEncryption, 'None');
  });

  test('bucket facts it may not read say so instead of failing', async (t) => {
    const { s3, mock } = mocked(t);
    mock
      .on(HeadObjectCommand)
      .resolves({ $metadata: {}, ContentLength: 1 })
      .on(GetBucketVersioningCommand)
      .rejects(s3Error('AccessDenied', 403, 'Access Denied'))
      .on(GetBucketEncryptionCommand)
      .rejects(s3Error('NotImplemented', 501, 'A header you provided implies functionality that is not implemented'));
    const props = await objectProperties(s3, 'b', 'k');
    assert.equal(props.bucketVersioning, 'Unknown (not allowed to read it)');
    assert.equal(props.bucketEncryption, 'Unknown (NotImplemented)');
    assert.equal(props.size, 1);
  });

  test('fails when the object itself cannot be read', async (t) => {
    const { s3, mock } = mocked(t);
    mock
      .on(HeadObjectCommand)
      .rejects(s3Error('NotFound', 404, 'UnknownError'))
      .on(GetBucketVersioningCommand)
      .resolves({ $metadata: {} })
      .on(GetBucketEncryptionCommand)
      .resolves({ $metadata: {} });
    await assert.rejects(objectProperties(s3, 'b', 'gone'), { name: 'NotFound' });
  });
});

describe('presignGet', () => {
  // A real (unmocked) client: presigning is local signing, no request is sent.
  const s3 = testS3Client({ region: 'eu-west-1', endpoint: 'http://127.0.0.1:9000', forcePathStyle: true });

  test('signs a GET of the object that expires after the given seconds', async () => {
    const url = new URL(await presignGet(s3, 'lab-data', 'runs/run 1/a.fastq', 3600));
    assert.equal(url.host, '127.0.0.1:9000');
    assert.equal(url.pathname, '/lab-data/runs/run%201/a.fastq');
    assert.equal(url.searchParams.get('X-Amz-Expires'), '3600');
    assert.equal(url.searchParams.get('X-Amz-Algorithm'), 'AWS4-HMAC-SHA256');
    assert.match(url.searchParams.get('X-Amz-Credential') ?? '', /^AKIDEXAMPLE\/\d{8}\/eu-west-1\/s3\/aws4_request$/);
    assert.match(url.searchParams.get('X-Amz-Signature') ?? '', /^[0-9a-f]{64}$/);
    assert.equal(url.toString().includes(FAKE_CREDENTIALS.secretAccessKey), false, 'the secret key is not in the URL');
  });

  test('accepts exactly 7 days', async () => {
    assert.equal(MAX_PRESIGN_SECONDS, 604800);
    const url = new URL(await presignGet(s3, 'lab-data', 'k', MAX_PRESIGN_SECONDS));
    assert.equal(url.searchParams.get('X-Amz-Expires'), '604800');
  });

  test('refuses 0, negative, over 7 days and non-numbers', async () => {
    for (const seconds of [0, -1, MAX_PRESIGN_SECONDS + 1, Number.NaN, Number.POSITIVE_INFINITY]) {
      await assert.rejects(presignGet(s3, 'lab-data', 'k', seconds), /from 1 second to 7 days/, String(seconds));
    }
  });

  // BUG (reported, not fixed): the check is `> 0`, then the value is rounded, so 0.4 passes
  // and signs a URL with X-Amz-Expires=0, which the message says is refused ("from 1 second").
  test('never signs a URL that expires after 0 seconds', async () => {
    const result = await presignGet(s3, 'lab-data', 'k', 0.4).then(
      (url) => new URL(url).searchParams.get('X-Amz-Expires'),
      () => 'refused',
    );
    assert.equal(result, 'refused');
  });
});

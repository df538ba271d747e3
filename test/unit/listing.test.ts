import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ListBucketsCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { listAllObjects, listBuckets, listPage, sortObjects, type ObjectInfo } from '../../src/s3/listing';
import { bucketsReply, listObjectsReply, mockedS3, s3Error, s3Object, sendOptions } from '../fixtures/s3';

/** A mocked client restored when the test ends. */
function mocked(t: { after: (fn: () => void) => void }) {
  const m = mockedS3();
  t.after(() => m.mock.restore());
  return m;
}

describe('listPage', () => {
  test('asks for one level under the prefix: Delimiter "/", Prefix, MaxKeys, no token', async (t) => {
    const { s3, mock } = mocked(t);
    mock.on(ListObjectsV2Command).resolves(listObjectsReply());
    await listPage(s3, { bucket: 'lab-data', prefix: 'runs/' });
    const calls = mock.commandCalls(ListObjectsV2Command);
    assert.equal(calls.length, 1);
    assert.deepEqual(calls[0].args[0].input, {
      Bucket: 'lab-data',
      Prefix: 'runs/',
      Delimiter: '/',
      MaxKeys: 1000,
      ContinuationToken: undefined,
    });
  });

  test('appends the filter to the prefix, and passes page size, token and abort signal', async (t) => {
    const { s3, mock } = mocked(t);
    mock.on(ListObjectsV2Command).resolves(listObjectsReply());
    const controller = new AbortController();
    await listPage(s3, { bucket: 'lab-data', prefix: 'runs/', filter: 'run-2026', pageSize: 50, continuationToken: 'token-2', signal: controller.signal });
    const [call] = mock.commandCalls(ListObjectsV2Command);
    assert.equal(call.args[0].input.Prefix, 'runs/run-2026');
    assert.equal(call.args[0].input.MaxKeys, 50);
    assert.equal(call.args[0].input.ContinuationToken, 'token-2');
    assert.equal(call.args[0].input.Delimiter, '/');
    assert.equal(sendOptions(call)?.abortSignal, controller.signal);
  });

  test('returns sub-prefixes and objects, without the folder\'s own marker key', async (t) => {
    const { s3, mock } = mocked(t);
    const modified = new Date('2026-11-01T10:00:00Z');
    mock.on(ListObjectsV2Command).resolves(
      listObjectsReply({
        prefixes: ['runs/run-1/', 'runs/run-2/'],
        objects: [s3Object('runs/', 0), s3Object('runs/notes.txt', 12, modified, { StorageClass: 'GLACIER' }), s3Object('runs/sheet.csv', 340)],
      }),
    );
    const page = await listPage(s3, { bucket: 'lab-data', prefix: 'runs/' });
    assert.deepEqual(page.prefixes, ['runs/run-1/', 'runs/run-2/']);
    assert.deepEqual(page.objects.map((o) => o.key), ['runs/notes.txt', 'runs/sheet.csv']);
    assert.deepEqual(page.objects[0], { key: 'runs/notes.txt', size: 12, lastModified: modified, storageClass: 'GLACIER', etag: '"etag-runs/notes.txt"' });
    assert.equal(page.nextToken, undefined);
  });

  test('at the top of a bucket, a key named "" is not listed and "/" is', async (t) => {
    const { s3, mock } = mocked(t);
    mock.on(ListObjectsV2Command).resolves(listObjectsReply({ objects: [s3Object('/', 0), s3Object('top.txt', 1)] }));
    const page = await listPage(s3, { bucket: 'lab-data', prefix: '' });
    assert.deepEqual(page.objects.map((o) => o.key), ['/', 'top.txt']);
  });

  test('an empty reply is an empty page', async (t) => {
    const { s3, mock } = mocked(t);
    mock.on(ListObjectsV2Command).resolves({ $metadata: {} });
    assert.deepEqual(await listPage(s3, { bucket: 'lab-data', prefix: 'empty/' }), { prefixes: [], objects: [], nextToken: undefined });
  });

  test('objects without a size count as 0 bytes', async (t) => {
    const { s3, mock } = mocked(t);
    mock.on(ListObjectsV2Command).resolves({ $metadata: {}, Contents: [{ Key: 'a' }] });
    const page = await listPage(s3, { bucket: 'b', prefix: '' });
    assert.equal(page.objects[0].size, 0);
  });

  test('gives a next token only when the reply is truncated', async (t) => {
    const { s3, mock } = mocked(t);
    mock
      .on(ListObjectsV2Command)
      .resolvesOnce(listObjectsReply({ objects: [s3Object('a', 1)], nextToken: 'more' }))
      // A last page that still carries a token: only IsTruncated says whether more follow.
      .resolves({ ...listObjectsReply({ objects: [s3Object('b', 1)] }), NextContinuationToken: 'stale' });
    assert.equal((await listPage(s3, { bucket: 'b', prefix: '' })).nextToken, 'more');
    assert.equal((await listPage(s3, { bucket: 'b', prefix: '', continuationToken: 'more' })).nextToken, undefined);
  });

  test('lets S3 errors through', async (t) => {
    const { s3, mock } = mocked(t);
    mock.on(ListObjectsV2Command).rejects(s3Error('NoSuchBucket', 404, 'The specified bucket does not exist'));
    await assert.rejects(listPage(s3, { bucket: 'gone', prefix: '' }), { name: 'NoSuchBucket' });
  });
});

describe('listBuckets', () => {
  test('follows continuation tokens to the last page and sorts by name', async (t) => {
    const { s3, mock } = mocked(t);
    mock
      .on(ListBucketsCommand)
      .resolvesOnce(bucketsReply(['zebra-data', 'alpha-lab'], 'page-2'))
      .resolvesOnce(bucketsReply(['mid-bucket'], 'page-3'))
      .resolvesOnce(bucketsReply(['beta']));
    const buckets = await listBuckets(s3);
    assert.deepEqual(buckets.map((b) => b.name), ['alpha-lab', 'beta', 'mid-bucket', 'zebra-data']);
    assert.deepEqual(buckets[0].created, new Date('2025-01-01T00:00:00Z'));
    const tokens = mock.commandCalls(ListBucketsCommand).map((c) => c.args[0].input.ContinuationToken);
    assert.deepEqual(tokens, [undefined, 'page-2', 'page-3']);
  });

  test('skips entries without a name, and an empty account has no buckets', async (t) => {
    const { s3, mock } = mocked(t);
    mock.on(ListBucketsCommand).resolvesOnce({ $metadata: {}, Buckets: [{ Name: 'a-bucket' }, {}] }).resolvesOnce({ $metadata: {} });
    assert.deepEqual((await listBuckets(s3)).map((b) => b.name), ['a-bucket']);
    assert.deepEqual(await listBuckets(s3), []);
  });

  test('passes the abort signal to every request', async (t) => {
    const { s3, mock } = mocked(t);
    mock.on(ListBucketsCommand).resolvesOnce(bucketsReply(['a'], 'next')).resolvesOnce(bucketsReply(['b']));
    const controller = new AbortController();
    await listBuckets(s3, controller.signal);
    for (const call of mock.commandCalls(ListBucketsCommand)) assert.equal(sendOptions(call)?.abortSignal, controller.signal);
  });
});

describe('listAllObjects', () => {
  async function collect(pages: AsyncGenerator<ObjectInfo[]>): Promise<string[][]> {
    const keys: string[][] = [];
    for await (const page of pages) keys.push(page.map((o) => o.key));
    return keys;
  }

  test('follows pages under the prefix, without a delimiter, yielding each page', async (t) => {
    const { s3, mock } = mocked(t);
    mock
      .on(ListObjectsV2Command)
      .resolvesOnce(listObjectsReply({ objects: [s3Object('runs/', 0), s3Object('runs/a/1.fastq', 5)], nextToken: 't2' }))
      .resolvesOnce(listObjectsReply({ objects: [s3Object('runs/a/2.fastq', 5)], nextToken: 't3' }))
      .resolvesOnce(listObjectsReply({ objects: [s3Object('runs/b/3.fastq', 5)] }));
    const pages = await collect(listAllObjects(s3, 'lab-data', 'runs/'));
    // Recursive listing includes the marker: deleting a folder must delete it too.
    assert.deepEqual(pages, [['runs/', 'runs/a/1.fastq'], ['runs/a/2.fastq'], ['runs/b/3.fastq']]);
    const inputs = mock.commandCalls(ListObjectsV2Command).map((c) => c.args[0].input);
    assert.deepEqual(inputs, [
      { Bucket: 'lab-data', Prefix: 'runs/', ContinuationToken: undefined },
      { Bucket: 'lab-data', Prefix: 'runs/', ContinuationToken: 't2' },
      { Bucket: 'lab-data', Prefix: 'runs/', ContinuationToken: 't3' },
    ]);
    for (const input of inputs) assert.equal('Delimiter' in input, false);
  });

  test('skips empty pages but keeps following the token', async (t) => {
    const { s3, mock } = mocked(t);
    mock
      .on(ListObjectsV2Command)
      .resolvesOnce(listObjectsReply({ objects: [], nextToken: 't2' }))
      .resolvesOnce(listObjectsReply({ objects: [s3Object('x', 1)] }));
    assert.deepEqual(await collect(listAllObjects(s3, 'b', '')), [['x']]);
    assert.equal(mock.commandCalls(ListObjectsV2Command).length, 2);
  });

  test('stops listing when the consumer stops reading', async (t) => {
    const { s3, mock } = mocked(t);
    mock.on(ListObjectsV2Command).resolves(listObjectsReply({ objects: [s3Object('x', 1)], nextToken: 'forever' }));
    for await (const page of listAllObjects(s3, 'b', '')) {
      assert.equal(page.length, 1);
      break;
    }
    assert.equal(mock.commandCalls(ListObjectsV2Command).length, 1);
  });
});

describe('sortObjects', () => {
  const objects: ObjectInfo[] = [
    { key: 'b.txt', size: 10, lastModified: new Date('2026-01-02') },
    { key: 'B.txt', size: 300, lastModified: new Date('2026-03-01') },
    { key: 'a.txt', size: 20, lastModified: new Date('2025-12-31') },
    { key: 'c.txt', size: 20 },
  ];

  test('by name: in S3\'s order (code points, so uppercase first)', () => {
    assert.deepEqual(sortObjects(objects, 'name').map((o) => o.key), ['B.txt', 'a.txt', 'b.txt', 'c.txt']);
  });

  test('by date: newest first, undated last', () => {
    assert.deepEqual(sortObjects(objects, 'date').map((o) => o.key), ['B.txt', 'b.txt', 'a.txt', 'c.txt']);
  });

  test('by size: largest first, ties in their loaded order', () => {
    assert.deepEqual(sortObjects(objects, 'size').map((o) => o.key), ['B.txt', 'a.txt', 'c.txt', 'b.txt']);
  });

  test('returns a new array and leaves the input as it was', () => {
    const before = objects.map((o) => o.key);
    const sorted = sortObjects(objects, 'size');
    assert.notEqual(sorted, objects);
    assert.deepEqual(objects.map((o) => o.key), before);
  });
});

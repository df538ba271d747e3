import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { contentType, hashedKey, isCompressible, MTIME_METADATA, objectHeaders, STORAGE_CLASSES } from '../../src/transfer/objectHeaders';

describe('objectHeaders', () => {
  test('mtime metadata in whole milliseconds, and the content type from the name', () => {
    assert.deepEqual(objectHeaders('runs/table.csv', 1714972089123.6, {}, false), {
      'x-amz-meta-mtime': '1714972089124',
      'content-type': 'text/csv',
    });
    assert.equal(MTIME_METADATA, 'mtime');
  });

  test('no content type for an unknown extension, or when turned off', () => {
    assert.deepEqual(objectHeaders('reads.fastq', 1, {}, false), { 'x-amz-meta-mtime': '1' });
    assert.deepEqual(objectHeaders('table.csv', 1, { contentTypeFromName: false }, false), { 'x-amz-meta-mtime': '1' });
  });

  test('content-encoding: gzip only when the body was gzipped', () => {
    assert.equal(objectHeaders('a.csv', 1, { gzip: true }, true)['content-encoding'], 'gzip');
    assert.equal(objectHeaders('a.csv', 1, { gzip: true }, false)['content-encoding'], undefined);
    // The type stays that of the content, not application/gzip.
    assert.equal(objectHeaders('a.csv', 1, { gzip: true }, true)['content-type'], 'text/csv');
  });

  test('storage class: omitted for STANDARD (the default), sent otherwise', () => {
    assert.equal(objectHeaders('a', 1, { storageClass: 'STANDARD' }, false)['x-amz-storage-class'], undefined);
    assert.equal('x-amz-storage-class' in objectHeaders('a', 1, { storageClass: 'STANDARD' }, false), false);
    for (const storageClass of STORAGE_CLASSES.filter((c) => c !== 'STANDARD')) {
      assert.equal(objectHeaders('a', 1, { storageClass }, false)['x-amz-storage-class'], storageClass);
    }
  });

  test('server-side encryption: SSE-S3, SSE-KMS with and without a key id', () => {
    const s3 = objectHeaders('a', 1, { encryption: { type: 'AES256' } }, false);
    assert.equal(s3['x-amz-server-side-encryption'], 'AES256');
    assert.equal(s3['x-amz-server-side-encryption-aws-kms-key-id'], undefined);
    const kms = objectHeaders('a', 1, { encryption: { type: 'aws:kms', keyId: 'arn:aws:kms:eu-west-1:123:key/abc' } }, false);
    assert.equal(kms['x-amz-server-side-encryption'], 'aws:kms');
    assert.equal(kms['x-amz-server-side-encryption-aws-kms-key-id'], 'arn:aws:kms:eu-west-1:123:key/abc');
    const kmsDefault = objectHeaders('a', 1, { encryption: { type: 'aws:kms' } }, false);
    assert.equal(kmsDefault['x-amz-server-side-encryption'], 'aws:kms');
    assert.equal('x-amz-server-side-encryption-aws-kms-key-id' in kmsDefault, false);
    assert.equal('x-amz-server-side-encryption' in objectHeaders('a', 1, {}, false), false);
  });

  test('all header names are lower case (they are signed as given)', () => {
    const headers = objectHeaders('a.csv', 1, { storageClass: 'GLACIER', encryption: { type: 'aws:kms', keyId: 'k' } }, true);
    for (const name of Object.keys(headers)) assert.equal(name, name.toLowerCase());
  });
});

describe('contentType', () => {
  test('from the extension, case-insensitive, the last extension winning', () => {
    assert.equal(contentType('a.json', {}), 'application/json');
    assert.equal(contentType('photos/IMG.PNG', {}), 'image/png');
    assert.equal(contentType('archive.tar.gz', {}), 'application/gzip');
    assert.equal(contentType('nb/analysis.ipynb', {}), 'application/x-ipynb+json');
  });

  test('undefined for no extension, dot folders, or when off', () => {
    assert.equal(contentType('Makefile', {}), undefined);
    assert.equal(contentType('conf.d/settings', {}), undefined);
    assert.equal(contentType('a.json', { contentTypeFromName: false }), undefined);
  });
});

describe('isCompressible', () => {
  test('text and raw data are; compressed formats and media are not', () => {
    for (const name of ['a.csv', 'a.txt', 'reads.fastq', 'x.json', 'noext', 'table.tsv', 'a.vcf']) assert.equal(isCompressible(name), true, name);
    for (const name of ['a.gz', 'a.tar.gz', 'x.BAM', 'y.cram', 'z.parquet', 'p.JPG', 'movie.mp4', 'doc.pdf', 'a.zst', 'w.h5']) assert.equal(isCompressible(name), false, name);
  });

  test('only the last extension counts, and a dot in a folder name does not', () => {
    assert.equal(isCompressible('data.gz/table.csv'), true);
    assert.equal(isCompressible('archive.csv.gz'), false);
  });
});

describe('hashedKey', () => {
  test('prefix, the first 4 hex of SHA-1 of the path, then the path', () => {
    // printf 'data/run1/a.txt' | sha1sum → 4e17084a…
    assert.equal(hashedKey('lab/', 'data/run1/a.txt'), 'lab/4e17/data/run1/a.txt');
    assert.equal(hashedKey('', 'data/run1/a.txt'), '4e17/data/run1/a.txt');
  });

  test('stable across calls and always under the prefix', () => {
    for (let i = 0; i < 200; i++) {
      const path = `run/${i}/sample_${i * 7}.fastq`;
      const key = hashedKey('projects/x/', path);
      assert.equal(key, hashedKey('projects/x/', path));
      assert.match(key, /^projects\/x\/[0-9a-f]{4}\//);
      assert.ok(key.endsWith(`/${path}`));
    }
  });

  test('spreads paths over many prefixes', () => {
    const shards = new Set(Array.from({ length: 500 }, (_, i) => hashedKey('', `f${i}`).slice(0, 4)));
    assert.ok(shards.size > 450, `${shards.size} distinct of 500`);
  });
});

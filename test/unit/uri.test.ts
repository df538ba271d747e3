import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { baseName, bucketNameProblem, formatS3Uri, parentPrefix, parseS3Location, s3Arn } from '../../src/s3/uri';

describe('parseS3Location', () => {
  test('a bare bucket name is the whole bucket', () => {
    assert.deepEqual(parseS3Location('lab-data'), { bucket: 'lab-data', key: '' });
  });

  test('a bucket name with a path narrows to that prefix, kept as typed', () => {
    assert.deepEqual(parseS3Location('lab-data/runs/2026/'), { bucket: 'lab-data', key: 'runs/2026/' });
    assert.deepEqual(parseS3Location('lab-data/runs/sample.fastq'), { bucket: 'lab-data', key: 'runs/sample.fastq' });
    assert.deepEqual(parseS3Location('lab-data/'), { bucket: 'lab-data', key: '' });
  });

  test('s3:// URIs, in any case of the scheme and with spaces around', () => {
    assert.deepEqual(parseS3Location('s3://lab-data'), { bucket: 'lab-data', key: '' });
    assert.deepEqual(parseS3Location('s3://lab-data/'), { bucket: 'lab-data', key: '' });
    assert.deepEqual(parseS3Location('  S3://lab-data/runs/run 1/ \n'), { bucket: 'lab-data', key: 'runs/run 1/' });
  });

  test('S3 ARNs, in any AWS partition', () => {
    assert.deepEqual(parseS3Location('arn:aws:s3:::lab-data'), { bucket: 'lab-data', key: '' });
    assert.deepEqual(parseS3Location('arn:aws:s3:::lab-data/runs/'), { bucket: 'lab-data', key: 'runs/' });
    assert.deepEqual(parseS3Location('arn:aws-cn:s3:::lab-data/x'), { bucket: 'lab-data', key: 'x' });
    assert.deepEqual(parseS3Location('arn:aws-us-gov:s3:::lab-data'), { bucket: 'lab-data', key: '' });
  });

  test('names with dots and digits are fine', () => {
    assert.deepEqual(parseS3Location('data.lab.example.edu'), { bucket: 'data.lab.example.edu', key: '' });
    assert.deepEqual(parseS3Location('123'), { bucket: '123', key: '' });
  });

  test('invalid names are refused with the input and the rule they break', () => {
    const cases: Array<[string, RegExp]> = [
      ['LabData', /lowercase/],
      ['ab', /3–63 characters/],
      ['a'.repeat(64), /3–63 characters/],
      ['-lab', /starting and ending with a letter or digit/],
      ['lab-', /starting and ending with a letter or digit/],
      ['lab_data', /lowercase letters, digits, dots and hyphens/],
      ['lab..data', /two dots in a row/],
      ['192.168.1.10', /IP address/],
      ['s3://', /empty/],
      ['', /empty/],
      ['https://lab-data.s3.amazonaws.com/x', /3–63 characters/],
    ];
    for (const [input, rule] of cases) {
      assert.throws(
        () => parseS3Location(input),
        (err: Error) => {
          assert.ok(err.message.startsWith(`"${input.trim()}" is not a bucket or s3:// URI: `), err.message);
          assert.match(err.message, rule);
          return true;
        },
        input,
      );
    }
  });

  test('only the bucket part is checked: keys may hold any character', () => {
    assert.deepEqual(parseS3Location('s3://lab-data/Run_01/ÜBER..x/'), { bucket: 'lab-data', key: 'Run_01/ÜBER..x/' });
  });
});

describe('bucketNameProblem', () => {
  test('the longest and shortest valid names pass', () => {
    assert.equal(bucketNameProblem('abc'), undefined);
    assert.equal(bucketNameProblem('a'.repeat(63)), undefined);
  });

  test('a name with four numbers but more parts is not an IP address', () => {
    assert.equal(bucketNameProblem('1.2.3.4.5'), undefined);
    assert.equal(bucketNameProblem('v1.2.3.4a'), undefined);
  });
});

describe('formatS3Uri and s3Arn', () => {
  test('formatS3Uri writes bucket and key after s3://', () => {
    assert.equal(formatS3Uri('lab-data'), 's3://lab-data/');
    assert.equal(formatS3Uri('lab-data', 'runs/a.txt'), 's3://lab-data/runs/a.txt');
  });

  test('a formatted URI parses back to the same location', () => {
    for (const [bucket, key] of [['lab-data', ''], ['lab-data', 'runs/'], ['lab.data', 'a b/c.txt']]) {
      assert.deepEqual(parseS3Location(formatS3Uri(bucket, key)), { bucket, key });
    }
  });

  test('s3Arn names a bucket or an object', () => {
    assert.equal(s3Arn('lab-data'), 'arn:aws:s3:::lab-data');
    assert.equal(s3Arn('lab-data', 'runs/a.txt'), 'arn:aws:s3:::lab-data/runs/a.txt');
    assert.equal(s3Arn('lab-data', ''), 'arn:aws:s3:::lab-data');
  });
});

describe('baseName', () => {
  test('is the last segment of a key or a prefix', () => {
    assert.equal(baseName('a/b/c.txt'), 'c.txt');
    assert.equal(baseName('a/b/'), 'b');
    assert.equal(baseName('c.txt'), 'c.txt');
    assert.equal(baseName('top/'), 'top');
  });

  test('edge cases: empty, root-like and doubled slashes', () => {
    assert.equal(baseName(''), '');
    assert.equal(baseName('/'), '');
    assert.equal(baseName('a//'), '');
    assert.equal(baseName('/leading.txt'), 'leading.txt');
  });
});

describe('parentPrefix', () => {
  test('is the prefix a key or prefix lives in', () => {
    assert.equal(parentPrefix('a/b/c.txt'), 'a/b/');
    assert.equal(parentPrefix('a/b/'), 'a/');
    assert.equal(parentPrefix('a/'), '');
    assert.equal(parentPrefix('c.txt'), '');
  });

  test('edge cases: empty and doubled slashes', () => {
    assert.equal(parentPrefix(''), '');
    assert.equal(parentPrefix('a//'), 'a/');
    assert.equal(parentPrefix('a//b'), 'a//');
  });

  test('parentPrefix + baseName give back a key', () => {
    for (const key of ['a/b/c.txt', 'c.txt', 'x/y z/w']) assert.equal(parentPrefix(key) + baseName(key), key);
  });
});

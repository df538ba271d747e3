import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { describe, test } from 'node:test';
import { connectionArguments, parseCommandLine, shellCommand, type Invocation, type UploadInvocation } from '../../src/cli/args';
import { UsageError } from '../../src/cli/exitCodes';
import { MiB } from '../../src/transfer/plan';

function parse(line: string): Invocation {
  return parseCommandLine(line.split(' ').filter(Boolean));
}

function parseUpload(line: string): UploadInvocation {
  const invocation = parse(line);
  assert.ok(invocation.command === 'upload' || invocation.command === 'sync', `parsed as ${invocation.command}`);
  return invocation;
}

/** Asserts the line is refused as a usage error whose message matches. */
function refuses(line: string, message: RegExp): void {
  assert.throws(
    () => parse(line),
    (err: unknown) => {
      assert.ok(err instanceof UsageError, `${line}: ${String(err)}`);
      assert.match(err.message, message, line);
      return true;
    },
  );
}

describe('parseCommandLine: upload', () => {
  test('the smallest upload: sources made absolute, the prefix made a folder, nothing else set', () => {
    assert.deepEqual(parse('upload ./run42 s3://lab-data/raw'), {
      command: 'upload',
      request: { sources: [resolve('run42')], bucket: 'lab-data', prefix: 'raw/', scan: {}, engine: {} },
      connection: {},
      dryRun: false,
      yes: false,
      json: false,
      verbose: false,
    });
  });

  test('every option reaches the request, in the engine\'s units', () => {
    const invocation = parseUpload(
      'upload a b/c s3://lab-data/raw/2026/ --profile lab --region eu-west-1 --endpoint https://s3.example.edu --path-style ' +
        '--storage-class glacier_ir --sse aws:kms --sse-kms-key-id alias/lab --no-content-type --gzip --hashed-prefixes ' +
        '--exclude **/*.tmp --exclude .git/** --follow-symlinks --part-size 64 --concurrency 8 --max-concurrency 32 --memory 256 ' +
        '--dry-run --yes --json --verbose',
    );
    assert.deepEqual(invocation, {
      command: 'upload',
      request: {
        sources: [resolve('a'), resolve('b/c')],
        bucket: 'lab-data',
        prefix: 'raw/2026/',
        scan: { followSymlinks: true, exclude: ['**/*.tmp', '.git/**'] },
        engine: {
          storageClass: 'GLACIER_IR',
          encryption: { type: 'aws:kms', keyId: 'alias/lab' },
          contentTypeFromName: false,
          gzip: true,
          hashedPrefixes: true,
          partSize: 64 * MiB,
          concurrency: 8,
          maxConcurrency: 32,
          memoryBudget: 256 * MiB,
        },
      },
      connection: { profile: 'lab', region: 'eu-west-1', endpoint: 'https://s3.example.edu', pathStyle: true },
      dryRun: true,
      yes: true,
      json: true,
      verbose: true,
    });
  });

  test('options may come before the paths, and --name=value works', () => {
    const invocation = parseUpload('upload --part-size=16 --storage-class=STANDARD_IA ./x s3://lab-data');
    assert.deepEqual(invocation.request.engine, { storageClass: 'STANDARD_IA', partSize: 16 * MiB });
    assert.equal(invocation.request.prefix, '');
  });

  test('the destination prefix: none, without and with a slash, with a leading slash', () => {
    assert.equal(parseUpload('upload x s3://lab-data').request.prefix, '');
    assert.equal(parseUpload('upload x s3://lab-data/').request.prefix, '');
    assert.equal(parseUpload('upload x s3://lab-data/raw').request.prefix, 'raw/');
    assert.equal(parseUpload('upload x s3://lab-data/raw/').request.prefix, 'raw/');
    assert.equal(parseUpload('upload x s3://lab-data//raw').request.prefix, 'raw/');
    assert.equal(parseUpload('upload x S3://lab-data/a/b').request.bucket, 'lab-data');
  });

  test('each storage class, in any case; anything else is refused with the list', () => {
    for (const storageClass of ['STANDARD', 'INTELLIGENT_TIERING', 'STANDARD_IA', 'GLACIER_IR', 'GLACIER', 'DEEP_ARCHIVE']) {
      assert.equal(parseUpload(`upload x s3://lab-data --storage-class ${storageClass.toLowerCase()}`).request.engine?.storageClass, storageClass);
    }
    refuses('upload x s3://lab-data --storage-class ONEZONE_IA', /--storage-class must be one of STANDARD, INTELLIGENT_TIERING, .*DEEP_ARCHIVE, not "ONEZONE_IA"/);
  });

  test('encryption: AES256, aws:kms with or without a key, a key alone meaning KMS', () => {
    assert.deepEqual(parseUpload('upload x s3://lab-data --sse aes256').request.engine?.encryption, { type: 'AES256' });
    assert.deepEqual(parseUpload('upload x s3://lab-data --sse AWS:KMS').request.engine?.encryption, { type: 'aws:kms' });
    assert.deepEqual(parseUpload('upload x s3://lab-data --sse-kms-key-id k1').request.engine?.encryption, { type: 'aws:kms', keyId: 'k1' });
    refuses('upload x s3://lab-data --sse des', /--sse must be AES256 or aws:kms, not "des"/);
    refuses('upload x s3://lab-data --sse AES256 --sse-kms-key-id k1', /--sse-kms-key-id goes with --sse aws:kms/);
  });

  test('numbers: whole, within S3\'s and the engine\'s limits', () => {
    assert.equal(parseUpload('upload x s3://lab-data --part-size 5').request.engine?.partSize, 5 * MiB);
    assert.equal(parseUpload('upload x s3://lab-data --part-size 5120').request.engine?.partSize, 5120 * MiB);
    refuses('upload x s3://lab-data --part-size 4', /--part-size must be from 5 to 5,120, not 4\./);
    refuses('upload x s3://lab-data --part-size 5121', /--part-size must be from 5 to 5,120/);
    refuses('upload x s3://lab-data --part-size 8.5', /--part-size takes a whole number, not "8\.5"/);
    refuses('upload x s3://lab-data --part-size 8M', /takes a whole number/);
    refuses('upload x s3://lab-data --part-size=-1', /takes a whole number, not "-1"/);
    refuses('upload x s3://lab-data --concurrency 0', /--concurrency must be from 1 to 1,000/);
    refuses('upload x s3://lab-data --max-concurrency 1001', /--max-concurrency must be from 1 to 1,000/);
    refuses('upload x s3://lab-data --memory 8', /--memory must be from 16/);
  });

  test('a pinned concurrency above the default ceiling raises the ceiling; above an explicit one it is refused', () => {
    assert.deepEqual(parseUpload('upload x s3://lab-data --concurrency 32').request.engine, { concurrency: 32 });
    assert.deepEqual(parseUpload('upload x s3://lab-data --concurrency 200').request.engine, { concurrency: 200, maxConcurrency: 200 });
    refuses('upload x s3://lab-data --concurrency 40 --max-concurrency 20', /--concurrency 40 is more than --max-concurrency 20/);
  });

  test('the arguments: at least one source, the s3:// destination last', () => {
    refuses('upload', /upload needs one or more local folders or files, then an s3:\/\/ destination/);
    refuses('upload ./x', /needs one or more local folders/);
    refuses('upload ./x ./y', /The last argument of upload must be an s3:\/\/ destination, not "\.\/y"/);
    refuses('upload s3://lab-data/x ./y', /To copy from S3 to this machine, use research-cloud download/);
    refuses('upload ./a s3://other-bucket/x s3://lab-data', /"s3:\/\/other-bucket\/x" is not a local path/);
  });

  test('a bad bucket name is refused with the rule it breaks', () => {
    refuses('upload x s3://Lab_Data', /"s3:\/\/Lab_Data" is not a bucket or s3:\/\/ URI: .*lowercase/);
    refuses('upload x s3://ab', /3–63 characters/);
    refuses('upload x s3://', /the bucket name is empty/);
    refuses('upload x s3://lab..data', /two dots in a row/);
  });

  test('options of other commands, unknown options and missing values', () => {
    refuses('upload x s3://lab-data --delete', /"research-cloud upload" has no option --delete\./);
    refuses('upload x s3://lab-data --compare checksum', /has no option --compare/);
    refuses('upload x s3://lab-data --frobnicate', /has no option --frobnicate/);
    refuses('upload x s3://lab-data --part-size', /--part-size needs a value/);
    refuses('upload x s3://lab-data --gzip=yes', /--gzip takes no value/);
  });
});

describe('parseCommandLine: sync', () => {
  test('defaults: the engine\'s comparison, delete nothing', () => {
    assert.deepEqual(parseUpload('sync ./run42 s3://lab-data/raw/').request.sync, { deleteExtra: false });
  });

  test('each --compare mode, and --delete', () => {
    for (const compare of ['size-and-mtime', 'size-and-time', 'checksum']) {
      assert.deepEqual(parseUpload(`sync x s3://lab-data --compare ${compare}`).request.sync, { compare, deleteExtra: false });
    }
    const invocation = parseUpload('sync ./run42 s3://lab-data/raw/ --compare checksum --delete --yes');
    assert.equal(invocation.command, 'sync');
    assert.deepEqual(invocation.request.sync, { compare: 'checksum', deleteExtra: true });
    assert.equal(invocation.yes, true);
    refuses('sync x s3://lab-data --compare mtime', /--compare must be size-and-mtime or size-and-time or checksum, not "mtime"/);
  });

  test('takes the upload options, except those that make every object differ from its file', () => {
    const invocation = parseUpload('sync x s3://lab-data --storage-class DEEP_ARCHIVE --exclude *.log --part-size 16');
    assert.deepEqual(invocation.request.engine, { storageClass: 'DEEP_ARCHIVE', partSize: 16 * MiB });
    assert.deepEqual(invocation.request.scan, { exclude: ['*.log'] });
    refuses('sync x s3://lab-data --hashed-prefixes', /cannot use --hashed-prefixes; use upload for that/);
    refuses('sync x s3://lab-data --gzip', /use upload --gzip instead/);
  });
});

describe('parseCommandLine: connection flags', () => {
  test('are taken by every command that talks to S3', () => {
    const flags = '--profile lab --region us-west-2 --endpoint http://127.0.0.1:7480 --path-style';
    const expected = { profile: 'lab', region: 'us-west-2', endpoint: 'http://127.0.0.1:7480', pathStyle: true };
    for (const line of ['upload x s3://lab-data', 'sync x s3://lab-data', 'download s3://lab-data/x .', 'resume job-1', 'discard job-1', 'cleanup s3://lab-data']) {
      const invocation = parse(`${line} ${flags}`) as { connection: unknown };
      assert.deepEqual(invocation.connection, expected, line);
    }
    refuses(`jobs ${flags}`, /"research-cloud jobs" has no option --profile/);
  });

  test('bad values are refused', () => {
    assert.throws(() => parseCommandLine(['upload', 'x', 's3://lab-data', '--region', 'eu west']), /--region takes a region code/);
    refuses('upload x s3://lab-data --region EU-WEST-1', /--region takes a region code such as eu-west-1, not "EU-WEST-1"/);
    refuses('upload x s3://lab-data --endpoint s3.example.edu', /--endpoint takes a URL such as https:\/\/s3\.example\.edu/);
    refuses('upload x s3://lab-data --endpoint ftp://s3.example.edu', /must be an http:\/\/ or https:\/\/ URL/);
    refuses('upload x s3://lab-data --endpoint https://key:secret@s3.example.edu', /must not hold credentials/);
    refuses('upload x s3://lab-data --profile=', /--profile needs a profile name/);
  });

  test('connectionArguments gives back the flags that were set, for the resume line', () => {
    assert.deepEqual(connectionArguments({}), []);
    assert.deepEqual(connectionArguments({ profile: 'lab', region: 'eu-west-1', endpoint: 'http://127.0.0.1:7480', pathStyle: true }), [
      '--profile', 'lab', '--region', 'eu-west-1', '--endpoint', 'http://127.0.0.1:7480', '--path-style',
    ]);
  });

  test('shellCommand quotes only what a shell would change', () => {
    assert.equal(shellCommand(['research-cloud', 'resume', '2026-11-26T14-08-00-000Z-a1b2c3', '--endpoint', 'http://127.0.0.1:7480']), 'research-cloud resume 2026-11-26T14-08-00-000Z-a1b2c3 --endpoint http://127.0.0.1:7480');
    assert.equal(shellCommand(['--profile', "lab's profile"]), `--profile 'lab'\\''s profile'`);
    assert.equal(shellCommand(['a b', '$HOME', '*']), `'a b' '$HOME' '*'`);
  });
});

describe('parseCommandLine: download', () => {
  test('an s3:// source and a local folder, skipping existing files by default', () => {
    assert.deepEqual(parse('download s3://lab-data/raw/run42/ ./here'), {
      command: 'download',
      source: { bucket: 'lab-data', key: 'raw/run42/' },
      destination: resolve('here'),
      connection: {},
      ifExists: 'skip',
      json: false,
    });
  });

  test('--if-exists, --concurrency, --part-size', () => {
    const invocation = parse('download s3://lab-data/x . --if-exists overwrite --concurrency 100 --part-size 1 --json');
    assert.deepEqual(invocation, {
      command: 'download',
      source: { bucket: 'lab-data', key: 'x' },
      destination: resolve('.'),
      connection: {},
      concurrency: 100,
      partSize: 1 * MiB,
      ifExists: 'overwrite',
      json: true,
    });
    refuses('download s3://lab-data/x . --if-exists rename', /--if-exists must be skip or overwrite or fail, not "rename"/);
    refuses('download s3://lab-data/x . --dry-run', /"research-cloud download" has no option --dry-run/);
  });

  test('the arguments: exactly an s3:// source and a local folder', () => {
    refuses('download s3://lab-data/x', /download takes 2 arguments, not 1/);
    refuses('download ./x s3://lab-data', /the first argument must be an s3:\/\/ URI/);
    refuses('download s3://lab-data/x s3://lab-data/y', /"s3:\/\/lab-data\/y" is not a local path/);
  });
});

describe('parseCommandLine: jobs, resume, discard, cleanup', () => {
  test('jobs takes no arguments', () => {
    assert.deepEqual(parse('jobs'), { command: 'jobs', json: false });
    assert.deepEqual(parse('jobs --json'), { command: 'jobs', json: true });
    refuses('jobs everything', /jobs takes no arguments, not 1/);
  });

  test('resume and discard take one job id that stays inside the jobs directory', () => {
    const id = '2026-11-26T14-08-00-000Z-a1b2c3';
    assert.deepEqual(parse(`resume ${id} --yes --verbose`), { command: 'resume', jobId: id, connection: {}, yes: true, json: false, verbose: true });
    assert.deepEqual(parse(`discard ${id} --json`), { command: 'discard', jobId: id, connection: {}, yes: false, json: true, verbose: false });
    refuses('resume', /resume takes one argument, not 0/);
    refuses('resume a b', /resume takes one argument, not 2/);
    refuses('resume ../../etc/passwd', /is not a job id; research-cloud jobs lists them/);
    refuses('discard .hidden', /is not a job id/);
    refuses('resume a..b', /is not a job id/);
  });

  test('cleanup takes a bucket, with a prefix kept as typed', () => {
    assert.deepEqual(parse('cleanup s3://lab-data'), { command: 'cleanup', location: { bucket: 'lab-data', key: '' }, connection: {}, dryRun: false, yes: false, json: false });
    assert.deepEqual(parse('cleanup s3://lab-data/raw/run --yes --dry-run --json'), {
      command: 'cleanup',
      location: { bucket: 'lab-data', key: 'raw/run' },
      connection: {},
      dryRun: true,
      yes: true,
      json: true,
    });
    refuses('cleanup lab-data', /Expected an s3:\/\/ URI such as s3:\/\/my-bucket\/prefix\/, not "lab-data"/);
  });
});

describe('parseCommandLine: help, version, mistakes', () => {
  test('help and version in their usual spellings, and --help after any command', () => {
    for (const line of ['help', '--help', '-h', 'upload --help', 'sync x -h', 'jobs --help']) assert.deepEqual(parse(line), { command: 'help' }, line);
    for (const line of ['version', '--version', '-V']) assert.deepEqual(parse(line), { command: 'version' }, line);
  });

  test('no command, an unknown one, options before the command', () => {
    refuses('', /Give a command/);
    refuses('uplaod x s3://lab-data', /There is no command "uplaod"/);
    refuses('--json jobs', /Give a command before the options \(--json\)/);
  });
});

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { errorSentence, ExitCode, exitCodeForError, exitCodeForOutcome, UsageError } from '../../src/cli/exitCodes';
import { explainAwsError, UserError } from '../../src/aws/errors';
import { CancelledError } from '../../src/core/progress';

describe('exitCodeForError', () => {
  test('a usage error is 2; anything that stops a job is 3', () => {
    assert.equal(exitCodeForError(new UsageError('Give a command.')), ExitCode.Usage);
    assert.equal(exitCodeForError(new UserError('access denied', 'AccessDenied')), ExitCode.Stopped);
    assert.equal(exitCodeForError(new CancelledError()), ExitCode.Stopped);
    assert.equal(exitCodeForError(AbortSignal.abort().reason), ExitCode.Stopped);
    assert.equal(exitCodeForError(new Error('EACCES: permission denied, mkdir \'/cache\'')), ExitCode.Stopped);
    assert.equal(exitCodeForError('a thrown string'), ExitCode.Stopped);
  });

  test('the numbers scripts rely on', () => {
    assert.deepEqual([ExitCode.Success, ExitCode.SomeFailed, ExitCode.Usage, ExitCode.Stopped], [0, 1, 2, 3]);
  });
});

describe('errorSentence', () => {
  test('the explained sentence of an AWS error, as the engine made it', () => {
    const denied = Object.assign(new Error('Access Denied'), { name: 'AccessDenied', $metadata: { httpStatusCode: 403 } });
    const explained = explainAwsError(denied, { operation: 'Opening s3://lab/ for upload', action: 's3:ListBucket', resource: 'arn:aws:s3:::lab', profile: 'lab' });
    assert.equal(
      errorSentence(explained),
      'Opening s3://lab/ for upload failed: access denied: profile "lab" is not allowed to s3:ListBucket on arn:aws:s3:::lab. Ask your administrator for that permission; Research Cloud never changes IAM policies.',
    );
  });

  test('cancellation in any form reads the same', () => {
    assert.equal(errorSentence(new CancelledError()), 'Cancelled.');
    assert.equal(errorSentence(AbortSignal.abort().reason), 'Cancelled.');
  });

  test('anything else: its message, never a stack', () => {
    const err = new Error('disk full');
    assert.equal(errorSentence(err), 'disk full');
    assert.equal(errorSentence(42), '42');
  });
});

describe('exitCodeForOutcome', () => {
  test('0 when everything was done; 1 when any file, path or deletion was left undone', () => {
    assert.equal(exitCodeForOutcome({ failedFiles: 0, notUploaded: 0, failedDeletes: 0 }), ExitCode.Success);
    assert.equal(exitCodeForOutcome({ failedFiles: 2, notUploaded: 0, failedDeletes: 0 }), ExitCode.SomeFailed);
    assert.equal(exitCodeForOutcome({ failedFiles: 0, notUploaded: 1, failedDeletes: 0 }), ExitCode.SomeFailed);
    assert.equal(exitCodeForOutcome({ failedFiles: 0, notUploaded: 0, failedDeletes: 1 }), ExitCode.SomeFailed);
  });
});

describe('the research-cloud process: exit status and where the words go', () => {
  const scratch = mkdtempSync(join(tmpdir(), 'rc-cli-exit-'));
  after(() => rmSync(scratch, { recursive: true, force: true }));

  /** Runs src/cli/main.ts with no AWS configuration of the developer's in reach. */
  function cli(...args: string[]) {
    const result = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
      encoding: 'utf8',
      timeout: 30_000,
      env: {
        PATH: process.env.PATH,
        HOME: scratch,
        XDG_CACHE_HOME: join(scratch, 'cache'),
        AWS_CONFIG_FILE: join(scratch, 'no-config'),
        AWS_SHARED_CREDENTIALS_FILE: join(scratch, 'no-credentials'),
        AWS_ACCESS_KEY_ID: 'AKIAEXAMPLEEXAMPLE00',
        AWS_SECRET_ACCESS_KEY: 'secret-that-must-never-be-printed',
        AWS_REGION: 'us-east-1',
      },
    });
    return { status: result.status, stdout: result.stdout, stderr: result.stderr };
  }

  test('--help and --version: 0, on stdout', () => {
    const help = cli('--help');
    assert.equal(help.status, 0);
    assert.match(help.stdout, /^research-cloud: move research data/);
    assert.match(help.stdout, /Exit status: 0 all done; 1 some files failed/);
    assert.equal(help.stderr, '');
    const version = cli('--version');
    assert.equal(version.status, 0);
    assert.match(version.stdout, /^research-cloud \d+\.\d+\.\d+\n$/);
  });

  test('a usage error: 2, the sentence and the short usage on stderr, nothing on stdout', () => {
    const result = cli('upload', './src', 's3://lab-data', '--part-size', 'huge');
    assert.equal(result.status, 2);
    assert.equal(result.stdout, '');
    assert.match(result.stderr, /^--part-size takes a whole number, not "huge"\.\n\nUsage:\n  research-cloud upload/);
    assert.match(result.stderr, /Run research-cloud --help for every option\.\n$/);
  });

  test('a missing local folder is a usage error too', () => {
    const result = cli('upload', join(scratch, 'no-such-run'), 's3://lab-data');
    assert.equal(result.status, 2);
    assert.match(result.stderr, /^There is no file or folder .*no-such-run\./);
  });

  test('an unreachable endpoint stops the job: 3, one sentence, no stack, no secret, no checkpoint left', () => {
    const result = cli('upload', './src/cli', 's3://lab-data/x/', '--endpoint', 'http://127.0.0.1:1', '--json');
    assert.equal(result.status, 3);
    assert.match(result.stderr, /^Opening s3:\/\/lab-data\/ for upload failed: cannot reach http:\/\/127\.0\.0\.1:1 \(ECONNREFUSED\)\./);
    assert.doesNotMatch(result.stderr, /\n\s+at /, 'no stack trace');
    const printed = JSON.parse(result.stdout) as { status: string; error: string; jobId?: string };
    assert.equal(printed.status, 'stopped');
    assert.match(printed.error, /ECONNREFUSED/);
    assert.equal(printed.jobId, undefined, 'nothing was done, so nothing to resume');
    assert.doesNotMatch(result.stdout + result.stderr, /secret-that-must-never-be-printed/);
    assert.deepEqual(readdirSync(join(scratch, 'cache', 'research-cloud', 'jobs')), []);
  });
});

import { HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { errorCode, explainAwsError } from '../../aws/errors';
import { formatBytes, formatDuration, plural } from '../../core/format';
import { isCancellation } from '../../core/progress';
import { downloadToFolder, type DownloadSource } from '../../s3/download';
import type { DownloadInvocation } from '../args';
import { Interruption, openConnection } from '../environment';
import { errorSentence, ExitCode, exitCodeForOutcome } from '../exitCodes';
import type { Output } from '../output';

/** Downloads one object, or every object under a prefix, into a local folder. */
export async function download(invocation: DownloadInvocation, output: Output): Promise<ExitCode> {
  const { bucket, key } = invocation.source;
  const connection = openConnection(invocation.connection, invocation.concurrency);
  const interruption = new Interruption(output);
  const summary = { command: 'download', source: `s3://${bucket}/${key}`, destination: invocation.destination };
  try {
    const s3 = await connection.s3();
    const source = await whatToDownload(s3, bucket, key, connection.profileName, interruption.signal);
    const started = performance.now();
    const progress = output.startProgress();
    const result = await downloadToFolder(s3, [source], invocation.destination, {
      signal: interruption.signal,
      progress,
      concurrency: invocation.concurrency,
      partSize: invocation.partSize,
      ifExists: invocation.ifExists,
      profile: connection.profileName,
    }).finally(() => output.stopProgress());
    const seconds = (performance.now() - started) / 1000;

    if (!result.files && !result.skipped.length && !result.failed.length) {
      const missing = key === '' || key.endsWith('/') ? `s3://${bucket}/${key} holds no objects` : `there is no object or folder s3://${bucket}/${key}`;
      output.warn(`Nothing was downloaded: ${missing}.`);
      output.result({ ...summary, status: 'partial', files: 0, bytes: 0, skipped: 0, failures: [] });
      return ExitCode.SomeFailed;
    }
    const skipped = result.skipped.length ? `; ${plural(result.skipped.length, 'file')} already there, skipped` : '';
    output.print(`Downloaded ${plural(result.files, 'file')}, ${formatBytes(result.bytes)}, into ${invocation.destination} in ${formatDuration(seconds)}${skipped}.`);
    if (result.failed.length) output.warn(`${plural(result.failed.length, 'object')} failed:`, ...result.failed.map((f) => `  ${f.error.message}`));
    const exitCode = exitCodeForOutcome({ failedFiles: result.failed.length, notUploaded: 0, failedDeletes: 0 });
    output.result({
      ...summary,
      status: exitCode === ExitCode.Success ? 'completed' : 'partial',
      seconds: Math.round(seconds * 10) / 10,
      files: result.files,
      bytes: result.bytes,
      skipped: result.skipped.length,
      failures: result.failed.map((f) => ({ key: f.key, reason: f.error.message })),
    });
    return exitCode;
  } catch (err) {
    if (!isCancellation(err)) throw err;
    // Only whole files get their final name, so a second run with --if-exists skip goes on from here.
    output.warn('Cancelled. Files already saved are complete and kept; run the same command again (with --if-exists skip, the default) to fetch the rest.');
    output.result({ ...summary, status: 'stopped', error: errorSentence(err) });
    return ExitCode.Stopped;
  } finally {
    interruption.dispose();
    connection.dispose();
  }
}

/**
 * `s3://bucket/run42` may name an object or a folder, as people type both without a slash: an
 * object of that name wins, else it is the folder `run42/`.
 */
async function whatToDownload(s3: S3Client, bucket: string, key: string, profile: string, signal: AbortSignal): Promise<DownloadSource> {
  if (key === '' || key.endsWith('/')) return { bucket, prefix: key };
  try {
    await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }), { abortSignal: signal });
    return { bucket, key };
  } catch (err) {
    const code = errorCode(err);
    if (code === 'NotFound' || code === 'NoSuchKey') return { bucket, prefix: `${key}/` };
    throw explainAwsError(err, { operation: `Looking up s3://${bucket}/${key}`, action: 's3:GetObject', resource: `arn:aws:s3:::${bucket}/${key}`, profile });
  }
}

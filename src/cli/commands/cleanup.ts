import { explainAwsError } from '../../aws/errors';
import { formatDate, plural } from '../../core/format';
import { Journal } from '../../transfer/journal';
import { abortIncompleteUploads, listIncompleteUploads, type IncompleteUpload } from '../../transfer/uploadService';
import type { CleanupInvocation } from '../args';
import { jobsDirectory, openConnection } from '../environment';
import { ExitCode } from '../exitCodes';
import type { Output } from '../output';

/**
 * Multipart uploads started and never completed or aborted: invisible in listings, billed for
 * their parts. Those that belong to a job with a checkpoint here are left to that job (resume or
 * discard it); the others are aborted once confirmed.
 */
export async function cleanup(invocation: CleanupInvocation, output: Output): Promise<ExitCode> {
  const { bucket, key: prefix } = invocation.location;
  const where = `s3://${bucket}/${prefix}`;
  const connection = openConnection(invocation.connection);
  try {
    const s3 = await connection.s3();
    const explain = (action: string) => (err: unknown) => {
      throw explainAwsError(err, { operation: `Cleaning up ${where}`, action, resource: `arn:aws:s3:::${bucket}`, profile: connection.profileName });
    };
    const uploads = await listIncompleteUploads(s3, bucket, prefix).catch(explain('s3:ListBucketMultipartUploads'));
    const owners = await jobsOwningUploads(bucket);
    const owned = uploads.filter((upload) => owners.has(upload.uploadId));
    const orphans = uploads.filter((upload) => !owners.has(upload.uploadId));
    const json = (aborted: number) => ({
      command: 'cleanup',
      location: where,
      uploads: uploads.map((upload) => ({ key: upload.key, uploadId: upload.uploadId, initiated: upload.initiated, jobId: owners.get(upload.uploadId) })),
      aborted,
    });

    if (!uploads.length) {
      output.print(`No incomplete multipart uploads under ${where}.`);
      output.result(json(0));
      return ExitCode.Success;
    }
    output.print(`${plural(uploads.length, 'incomplete multipart upload')} under ${where}:`, ...uploads.map((upload) => describeUpload(upload, owners.get(upload.uploadId))));
    if (owned.length) output.print(`${plural(owned.length, 'upload')} belong${owned.length === 1 ? 's' : ''} to unfinished jobs and ${owned.length === 1 ? 'is' : 'are'} left alone: resume or discard those jobs.`);
    if (!orphans.length || invocation.dryRun) {
      output.result(json(0));
      return ExitCode.Success;
    }
    if (!invocation.yes) {
      if (!output.interactive) {
        output.print('Nothing was aborted: add --yes to abort them.');
        output.result(json(0));
        return ExitCode.Success;
      }
      if (!(await output.confirm(`Abort ${plural(orphans.length, 'upload')}? Their parts are deleted.`))) {
        output.warn('Nothing was aborted.');
        output.result(json(0));
        return ExitCode.Stopped;
      }
    }
    const aborted = await abortIncompleteUploads(s3, bucket, orphans).catch(explain('s3:AbortMultipartUpload'));
    output.print(`Aborted ${plural(aborted, 'upload')}.`);
    output.result(json(aborted));
    return ExitCode.Success;
  } finally {
    connection.dispose();
  }
}

/** Upload id → the id of the local job whose checkpoint holds it open. */
async function jobsOwningUploads(bucket: string): Promise<Map<string, string>> {
  const owners = new Map<string, string>();
  for (const journal of await Journal.list(jobsDirectory())) {
    if (journal.header.bucket !== bucket) continue;
    for (const upload of journal.openUploads.values()) owners.set(upload.uploadId, journal.header.id);
  }
  return owners;
}

function describeUpload(upload: IncompleteUpload, ownerJob: string | undefined): string {
  const owner = ownerJob ? `   (job ${ownerJob})` : '';
  return `  ${formatDate(upload.initiated).padEnd(16)}  ${upload.key}${owner}`;
}

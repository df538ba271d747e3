import { explainAwsError } from '../../aws/errors';
import { plural } from '../../core/format';
import { journalPath } from '../../transfer/journal';
import { discardJob } from '../../transfer/uploadService';
import type { JobInvocation } from '../args';
import { findCheckpoint } from '../checkpoints';
import { jobsDirectory, openConnection } from '../environment';
import { ExitCode } from '../exitCodes';
import type { Output } from '../output';

/** Gives a job up: aborts its open multipart uploads, so nothing is left to bill, and deletes its checkpoint. */
export async function discard(invocation: JobInvocation, output: Output): Promise<ExitCode> {
  const directory = jobsDirectory();
  const journal = await findCheckpoint(directory, invocation.jobId);
  const bucket = journal.header.bucket;
  const connection = openConnection(invocation.connection);
  try {
    const aborted = await discardJob(connection, journalPath(directory, invocation.jobId)).catch((err: unknown) => {
      throw explainAwsError(err, {
        operation: `Discarding job ${invocation.jobId}`,
        action: 's3:AbortMultipartUpload',
        resource: `arn:aws:s3:::${bucket}`,
        profile: connection.profileName,
      });
    });
    output.print(`Discarded job ${invocation.jobId}: aborted ${plural(aborted, 'open multipart upload')} and deleted its checkpoint.`);
    output.result({ command: 'discard', jobId: invocation.jobId, abortedUploads: aborted });
    return ExitCode.Success;
  } finally {
    connection.dispose();
  }
}

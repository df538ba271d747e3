import { plural } from '../../core/format';
import { journalPath } from '../../transfer/journal';
import { requestOf, resumeJob } from '../../transfer/uploadService';
import type { JobInvocation } from '../args';
import { findCheckpoint } from '../checkpoints';
import { Interruption, jobsDirectory, openConnection } from '../environment';
import { ExitCode, UsageError } from '../exitCodes';
import { runJob } from '../jobRunner';
import type { Output } from '../output';

/** Goes on with a job from its checkpoint: what it finished (files, parts) is not sent again. */
export async function resume(invocation: JobInvocation, output: Output): Promise<ExitCode> {
  const directory = jobsDirectory();
  const journal = await findCheckpoint(directory, invocation.jobId);
  const request = requestOf(journal);
  const deletes = !!request.sync?.deleteExtra;
  // The objects to delete are found again when the job goes on, so the consent is asked again.
  if (deletes && !invocation.yes) {
    if (!output.interactive) {
      throw new UsageError(`Job ${invocation.jobId} is a sync --delete, and there is no terminal to confirm on: resume it with --yes to allow deleting remote objects that have no local file.`);
    }
    if (!(await output.confirm('This sync deletes remote objects that have no local file once every file is uploaded. Go on?'))) {
      output.warn('Nothing was sent.');
      return ExitCode.Stopped;
    }
  }
  const connection = openConnection(invocation.connection, request.engine?.maxConcurrency);
  const interruption = new Interruption(output);
  const destination = `s3://${request.bucket}/${request.prefix}`;
  const partsDone = [...journal.openUploads.values()].reduce((n, upload) => n + upload.parts.size, 0);
  const parts = partsDone ? ` and ${plural(partsDone, 'part')} of unfinished ones` : '';
  output.print(`Resuming job ${invocation.jobId}: ${request.sources.join(' ')} → ${destination}; ${plural(journal.finished.size, 'file')}${parts} done before.`);
  try {
    return await runJob(
      {
        jobId: invocation.jobId,
        jobsDirectory: directory,
        fresh: false,
        request,
        connection: invocation.connection,
        output,
        interruption,
        verbose: invocation.verbose,
        summary: { command: 'resume', sources: request.sources, destination },
      },
      (hooks) => resumeJob(connection, journalPath(directory, invocation.jobId), { ...hooks, deleteConfirmed: deletes }),
    );
  } finally {
    interruption.dispose();
    connection.dispose();
  }
}

import { stat } from 'node:fs/promises';
import { formatBytes, plural } from '../../core/format';
import { describePlan, type UploadPlan } from '../../transfer/plan';
import { newJobId, prepareUpload, runPrepared, type PreparedUpload } from '../../transfer/uploadService';
import type { UploadInvocation } from '../args';
import { Interruption, jobsDirectory, openConnection } from '../environment';
import { ExitCode, UsageError } from '../exitCodes';
import { runJob } from '../jobRunner';
import { reportScanProblems, sortScanProblems } from '../scanProblems';
import type { Output } from '../output';
import { checkDeletionConsent, describeSyncPlan, syncSummary } from './sync';

/** Past either of these an upload is large enough to ask first, on a terminal. */
const LARGE_UPLOAD_FILES = 1000;
const LARGE_UPLOAD_BYTES = 10e9;
/** Keys shown before asking to delete; the dry run shows them all. */
const KEYS_LISTED_IN_QUESTION = 20;

/** `upload` and `sync`: scan (and compare), show or confirm the plan, then run the job. */
export async function upload(invocation: UploadInvocation, output: Output): Promise<ExitCode> {
  const { request } = invocation;
  checkDeletionConsent(invocation, output);
  await checkSourcesExist(request.sources);
  const connection = openConnection(invocation.connection, request.engine?.maxConcurrency);
  const interruption = new Interruption(output);
  try {
    const prepared = await prepareUpload(connection, request, interruption.signal);
    const destination = `s3://${request.bucket}/${request.prefix}`;
    const summary = { command: invocation.command, sources: request.sources, destination, plan: prepared.plan, ...syncSummary(prepared) };
    const { skipped, notUploaded } = await sortScanProblems(prepared.problems, !!request.scan?.followSymlinks);
    const deletions = prepared.sync?.extra.length ?? 0;

    if (invocation.dryRun) {
      output.print('Dry run: nothing is sent.', ...describeSyncPlan(prepared));
      if (prepared.files.length) output.print(`Would upload to ${destination}:`, ...describePlan(prepared.plan).map((line) => `  ${line}`));
      else if (!prepared.sync) output.print('Nothing would be uploaded: no files found.');
      reportScanProblems(output, skipped, notUploaded);
      output.result({ ...summary, status: 'dry-run', notUploaded, skipped });
      return ExitCode.Success;
    }

    if (!prepared.files.length && !deletions) {
      output.print(prepared.sync ? `Nothing to upload: ${plural(prepared.sync.unchanged.length, 'file')} unchanged in ${destination}.` : 'Nothing to upload: no files found.');
      reportScanProblems(output, skipped, notUploaded);
      output.result({ ...summary, status: notUploaded.length ? 'partial' : 'completed', notUploaded, skipped });
      return notUploaded.length ? ExitCode.SomeFailed : ExitCode.Success;
    }

    if (!(await confirmed(invocation, prepared, output))) {
      output.warn('Nothing was sent.');
      output.result({ ...summary, status: 'declined' });
      return ExitCode.Stopped;
    }

    output.print(describeStart(prepared, destination));
    const jobId = newJobId();
    const jobsDir = jobsDirectory();
    return await runJob(
      {
        jobId,
        jobsDirectory: jobsDir,
        fresh: true,
        request,
        connection: invocation.connection,
        output,
        interruption,
        verbose: invocation.verbose,
        summary,
        plannedDeletes: deletions,
      },
      // Deleting was agreed to already: with --yes, on the terminal, or (no extra objects) not needed.
      (hooks) => runPrepared(connection, prepared, { jobsDirectory: jobsDir, jobId, deleteConfirmed: !!request.sync?.deleteExtra, ...hooks }),
    );
  } finally {
    interruption.dispose();
    connection.dispose();
  }
}

/** A typo in a path is a usage error, not a job with one unreadable file. */
async function checkSourcesExist(sources: readonly string[]): Promise<void> {
  for (const source of sources) {
    const missing = await stat(source).then(
      () => false,
      (err: NodeJS.ErrnoException) => err.code === 'ENOENT' || err.code === 'ENOTDIR',
    );
    if (missing) throw new UsageError(`There is no file or folder ${source}.`);
  }
}

function isLarge(plan: UploadPlan): boolean {
  return plan.files > LARGE_UPLOAD_FILES || plan.bytes > LARGE_UPLOAD_BYTES;
}

/** Asks before a large upload or any deletion, when someone is at the terminal and --yes was not given. */
async function confirmed(invocation: UploadInvocation, prepared: PreparedUpload, output: Output): Promise<boolean> {
  const extra = prepared.sync?.extra ?? [];
  const large = isLarge(prepared.plan);
  if (invocation.yes || !output.interactive || (!large && !extra.length)) return true;
  if (large) output.warn(...describePlan(prepared.plan));
  if (extra.length) {
    const more = extra.length > KEYS_LISTED_IN_QUESTION ? [`  … and ${extra.length - KEYS_LISTED_IN_QUESTION} more (--dry-run lists them all)`] : [];
    output.warn(
      `${plural(extra.length, 'remote object')} under s3://${prepared.request.bucket}/${prepared.request.prefix} ${extra.length === 1 ? 'has' : 'have'} no local file and will be deleted:`,
      ...extra.slice(0, KEYS_LISTED_IN_QUESTION).map((object) => `  ${object.key}`),
      ...more,
    );
  }
  const sending = `upload ${plural(prepared.plan.files, 'file')} (${formatBytes(prepared.plan.bytes)})`;
  const deleting = `delete ${plural(extra.length, 'object')}`;
  const question = large && extra.length ? `${sending} and ${deleting}` : large ? sending : deleting;
  return output.confirm(`${question[0].toUpperCase()}${question.slice(1)}?`);
}

function describeStart(prepared: PreparedUpload, destination: string): string {
  const extra = prepared.sync?.extra.length ?? 0;
  const deleting = `delete ${plural(extra, 'remote object')} with no local file`;
  if (!prepared.files.length) return `Nothing to upload to ${destination}; going to ${deleting}.`;
  return `Uploading to ${destination}: ${describePlan(prepared.plan)[0]}${extra ? `, then going to ${deleting}` : ''}.`;
}

import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { formatBytes, formatDuration, plural } from '../core/format';
import { isCancellation, type ProgressSink } from '../core/progress';
import { journalPath } from '../transfer/journal';
import type { JobOutcome, UploadRequest } from '../transfer/uploadService';
import { connectionArguments, shellCommand, type ConnectionFlags } from './args';
import { checkpointHasProgress } from './checkpoints';
import type { Interruption } from './environment';
import { errorSentence, ExitCode, exitCodeForOutcome } from './exitCodes';
import type { Output } from './output';
import { reportScanProblems, sortScanProblems } from './scanProblems';

/** One upload job as the CLI runs it: a new upload or sync, or a resumed one. */
export interface JobRun {
  readonly jobId: string;
  readonly jobsDirectory: string;
  /** Started by this command (not resumed): its checkpoint goes if it stops before doing anything. */
  readonly fresh: boolean;
  readonly request: UploadRequest;
  readonly connection: ConnectionFlags;
  readonly output: Output;
  readonly interruption: Interruption;
  readonly verbose: boolean;
  /** Fields of the --json result known before the job runs: the plan, what a sync compared. */
  readonly summary: Record<string, unknown>;
  /** Objects a sync planned to delete, to say why none were when files failed. */
  readonly plannedDeletes?: number;
}

export interface JobHooks {
  readonly signal: AbortSignal;
  readonly progress: ProgressSink;
  readonly log: (line: string) => void;
}

/** Runs the job under a progress bar and Ctrl-C, then reports what happened; returns the exit code. */
export async function runJob(run: JobRun, start: (hooks: JobHooks) => Promise<JobOutcome>): Promise<ExitCode> {
  const { output, interruption } = run;
  const checkpoint = journalPath(run.jobsDirectory, run.jobId);
  interruption.lastWords = () => (existsSync(checkpoint) ? `The checkpoint is kept; go on with: ${resumeCommand(run)}` : undefined);
  const deleteFailures: string[] = [];
  const log = (line: string) => {
    // The engine reports a failed delete only as a log line; these are shown whatever --verbose says.
    if (line.startsWith('could not delete ')) deleteFailures.push(line);
    else if (run.verbose) output.warn(line);
  };
  const started = performance.now();
  const progress = output.startProgress();
  let outcome: JobOutcome;
  try {
    outcome = await start({ signal: interruption.signal, progress, log });
  } catch (err) {
    output.stopProgress();
    return reportStop(run, err, checkpoint);
  }
  output.stopProgress();
  return reportOutcome(run, outcome, deleteFailures, (performance.now() - started) / 1000);
}

async function reportOutcome(run: JobRun, outcome: JobOutcome, deleteFailures: string[], seconds: number): Promise<ExitCode> {
  const { output } = run;
  const { result } = outcome;
  const destination = `s3://${run.request.bucket}/${run.request.prefix}`;
  const { skipped, notUploaded } = await sortScanProblems(outcome.problems, !!run.request.scan?.followSymlinks);
  const checkpointKept = result.failed.length > 0;
  // A resumed job counts what earlier runs sent, so a rate would overstate this run's.
  const rate = seconds > 0 && run.fresh ? `, ${formatBytes(result.bytes / seconds)}/s` : '';
  const earlier = result.alreadyDone ? ` (${plural(result.alreadyDone, 'file')} of them by the earlier run)` : '';
  if (result.files || !outcome.deleted) {
    output.print(`Uploaded ${plural(result.files, 'file')}, ${formatBytes(result.bytes)}, to ${destination} in ${formatDuration(seconds)}${rate}${earlier}.`);
  }
  if (outcome.deleted) output.print(`Deleted ${plural(outcome.deleted, 'remote object')} that had no local file.`);
  if (run.plannedDeletes && result.failed.length) {
    output.warn(`Nothing was deleted: deleting waits until every file is uploaded.`);
  }
  reportScanProblems(output, skipped, notUploaded);
  if (result.failed.length) {
    output.warn(`${plural(result.failed.length, 'file')} failed:`, ...result.failed.map((f) => `  ${f.error.message}`));
  }
  if (deleteFailures.length) output.warn(`${plural(deleteFailures.length, 'object')} could not be deleted:`, ...deleteFailures.map((line) => `  ${line}`));
  if (checkpointKept) output.warn(`The checkpoint is kept; retry the failed files with: ${resumeCommand(run)}`);
  const exitCode = exitCodeForOutcome({ failedFiles: result.failed.length, notUploaded: notUploaded.length, failedDeletes: deleteFailures.length });
  output.result({
    ...run.summary,
    status: exitCode === ExitCode.Success ? 'completed' : 'partial',
    jobId: run.jobId,
    seconds: Math.round(seconds * 10) / 10,
    uploaded: { files: result.files, bytes: result.bytes, alreadyDone: result.alreadyDone, requests: result.requests, retries: result.retries },
    deleted: outcome.deleted,
    failures: result.failed.map((f) => ({ path: f.path, reason: f.error.message })),
    notUploaded,
    skipped,
    deleteFailures,
    ...(checkpointKept && { resume: resumeCommand(run) }),
  });
  return exitCode;
}

/**
 * The job stopped (cancelled, credentials, access denied, no such bucket). Its checkpoint stays
 * for resume, unless this command started the job and it stopped, not cancelled, before doing
 * anything: resuming that would only repeat the same command.
 */
async function reportStop(run: JobRun, err: unknown, checkpoint: string): Promise<ExitCode> {
  const { output } = run;
  const sentence = errorSentence(err);
  let kept = existsSync(checkpoint);
  if (kept && run.fresh && !isCancellation(err) && !(await checkpointHasProgress(checkpoint))) {
    await rm(checkpoint, { force: true });
    kept = false;
  }
  output.warn(sentence);
  if (kept) {
    output.warn(
      `The checkpoint and any open multipart uploads are kept. Go on with:`,
      `  ${resumeCommand(run)}`,
      `or give the job up (aborts its open multipart uploads, deletes the checkpoint):`,
      `  ${shellCommand(['research-cloud', 'discard', run.jobId, ...connectionArguments(run.connection)])}`,
    );
  }
  output.result({ ...run.summary, status: 'stopped', error: sentence, ...(kept && { jobId: run.jobId, resume: resumeCommand(run) }) });
  return ExitCode.Stopped;
}

function resumeCommand(run: JobRun): string {
  return shellCommand(['research-cloud', 'resume', run.jobId, ...connectionArguments(run.connection)]);
}

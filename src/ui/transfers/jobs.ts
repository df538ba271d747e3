import { access } from 'node:fs/promises';
import * as vscode from 'vscode';
import type { Connection } from '../../aws/connection';
import { formatBytes, plural } from '../../core/format';
import { CancelledError, isCancellation, type ProgressReport } from '../../core/progress';
import { RateMeter } from '../../core/rate';
import { Journal, journalPath } from '../../transfer/journal';
import { discardJob, newJobId, requestOf, resumeJob, runPrepared, type JobOutcome, type PreparedUpload, type UploadRequest } from '../../transfer/uploadService';
import { log } from '../log';
import { withCancellableProgress } from '../progress';

export type JobState = 'running' | 'finished' | 'failed' | 'paused';

const LOG_SCHEME = 'research-cloud-transfer';

/** One upload job as the Transfers view shows it. */
export interface TransferJob {
  readonly id: string;
  readonly label: string;
  readonly destination: string;
  state: JobState;
  /** The last progress line while running; the summary afterwards. */
  status: string;
  /** The checkpoint, while the job can be resumed or its failed files retried. */
  journalFile?: string;
  failures: string[];
  readonly lines: string[];
  cancel?: () => void;
}

/**
 * Runs upload jobs and remembers them for the Transfers view. Jobs interrupted by a cancel, a
 * crash or a window reload are found again from their checkpoints in the extension's storage.
 */
export class TransferJobs implements vscode.Disposable {
  private readonly jobs = new Map<string, TransferJob>();
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChange = this.changed.event;
  private readonly logChanged = new vscode.EventEmitter<vscode.Uri>();

  constructor(readonly jobsDirectory: string) {}

  list(): TransferJob[] {
    return [...this.jobs.values()].reverse();
  }

  get(id: string): TransferJob | undefined {
    return this.jobs.get(id);
  }

  /** Shows the checkpoints left by earlier windows as paused jobs that can be resumed. */
  async restore(): Promise<void> {
    for (const journal of (await Journal.list(this.jobsDirectory)).reverse()) {
      if (this.jobs.has(journal.header.id)) continue;
      const request = requestOf(journal);
      this.jobs.set(journal.header.id, {
        id: journal.header.id,
        label: describeSources(request),
        destination: `s3://${request.bucket}/${request.prefix}`,
        state: 'paused',
        status: `interrupted: ${plural(journal.finished.size, 'file')} done; resume to send the rest`,
        journalFile: journal.file,
        failures: [],
        lines: [],
      });
    }
    this.changed.fire();
  }

  /** Starts a prepared upload under a cancellable progress notification. */
  start(connection: Connection, prepared: PreparedUpload, deleteConfirmed = false): Promise<void> {
    const request = prepared.request;
    const id = newJobId();
    return this.track(id, describeSources(request), request, (signal, onProgress, onLog) =>
      runPrepared(connection, prepared, { jobsDirectory: this.jobsDirectory, jobId: id, signal, progress: onProgress, log: onLog, deleteConfirmed }),
    );
  }

  resume(connection: Connection, job: TransferJob): Promise<void> {
    const file = job.journalFile;
    if (!file || job.state === 'running') return Promise.resolve();
    this.jobs.delete(job.id);
    return Journal.open(file).then((journal) =>
      this.track(job.id, job.label, requestOf(journal), (signal, onProgress, onLog) =>
        resumeJob(connection, file, { signal, progress: onProgress, log: onLog }),
      ),
    );
  }

  /** Aborts the job's open multipart uploads and forgets it. */
  async discard(connection: Connection, job: TransferJob): Promise<number> {
    job.cancel?.();
    const aborted = job.journalFile ? await discardJob(connection, job.journalFile) : 0;
    this.jobs.delete(job.id);
    this.changed.fire();
    return aborted;
  }

  /** Opens the job's log in a read-only editor (not an untitled file that asks to be saved). */
  async showLog(job: TransferJob): Promise<void> {
    const uri = vscode.Uri.from({ scheme: LOG_SCHEME, path: `/${job.id}.log` });
    this.logChanged.fire(uri);
    const document = await vscode.workspace.openTextDocument(uri);
    await vscode.languages.setTextDocumentLanguage(document, 'log');
    await vscode.window.showTextDocument(document, { preview: true });
  }

  /** Serves `research-cloud-transfer:/<id>.log` documents from the jobs in memory. */
  registerLogDocuments(): vscode.Disposable {
    return vscode.workspace.registerTextDocumentContentProvider(LOG_SCHEME, {
      onDidChange: this.logChanged.event,
      provideTextDocumentContent: (uri) => {
        const job = this.jobs.get(uri.path.replace(/^\//, '').replace(/\.log$/, ''));
        if (!job) return 'This transfer is no longer listed.';
        return [`${job.label} → ${job.destination}`, `state: ${job.state}`, job.status, '', ...job.failures, '', ...job.lines].join('\n');
      },
    });
  }

  dispose(): void {
    for (const job of this.jobs.values()) job.cancel?.();
    this.changed.dispose();
    this.logChanged.dispose();
  }

  private async track(
    id: string,
    label: string,
    request: UploadRequest,
    run: (signal: AbortSignal, onProgress: (r: ProgressReport) => void, onLog: (line: string) => void) => Promise<JobOutcome>,
  ): Promise<void> {
    const destination = `s3://${request.bucket}/${request.prefix}`;
    const job: TransferJob = { id, label, destination, state: 'running', status: 'starting…', failures: [], lines: [] };
    this.jobs.set(job.id, job);
    this.changed.fire();
    const meter = new RateMeter();
    const onLog = (line: string) => {
      job.lines.push(`${new Date().toISOString()} ${line}`);
      log.info(`[${label}] ${line}`);
    };
    try {
      const fromView = new AbortController();
      job.cancel = () => fromView.abort(new CancelledError());
      const outcome = await withCancellableProgress(`Uploading ${label} to ${destination}`, (signal, progress) => {
        return run(
          AbortSignal.any([signal, fromView.signal]),
          (report) => {
            progress(report);
            job.status = meter.describe(report);
            this.changed.fire();
          },
          onLog,
        );
      });
      this.finish(job, outcome);
    } catch (err) {
      await this.interrupted(job, err);
    } finally {
      job.cancel = undefined;
      this.changed.fire();
    }
  }

  private finish(job: TransferJob, outcome: JobOutcome): void {
    const { result } = outcome;
    const summary = `${plural(result.files, 'file')} (${formatBytes(result.bytes)})${result.alreadyDone ? `, ${result.alreadyDone} already there` : ''}${outcome.deleted ? `, ${plural(outcome.deleted, 'remote object')} deleted` : ''}`;
    job.failures = [...result.failed.map((f) => f.error.message), ...outcome.problems.map((p) => `${p.path}: ${p.reason}`)];
    if (result.failed.length) {
      job.state = 'failed';
      job.journalFile = outcome.journalFile;
      job.status = `${summary} uploaded; ${plural(result.failed.length, 'file')} failed`;
      void vscode.window
        .showErrorMessage(`Uploaded ${summary} to ${job.destination}; ${plural(result.failed.length, 'file')} failed (first: ${result.failed[0].error.message})`, 'Retry Failed', 'Show Log')
        .then((choice) => {
          if (choice === 'Show Log') void this.showLog(job);
          if (choice === 'Retry Failed') void vscode.commands.executeCommand('researchCloud.transfers.resume', job);
        });
      return;
    }
    job.state = 'finished';
    job.journalFile = undefined;
    job.status = `${summary} uploaded`;
    const skipped = outcome.problems.length ? ` ${plural(outcome.problems.length, 'path')} skipped (see log).` : '';
    void vscode.window.showInformationMessage(`Uploaded ${summary} to ${job.destination}.${skipped}`);
  }

  private async interrupted(job: TransferJob, err: unknown): Promise<void> {
    const file = journalPath(this.jobsDirectory, job.id);
    // A job stopped before it wrote its checkpoint has nothing to resume.
    job.journalFile = (await access(file).then(() => true, () => false)) ? file : undefined;
    if (isCancellation(err)) {
      job.state = 'paused';
      job.status = 'cancelled: finished files and parts are kept; Resume sends the rest, Discard aborts the open multipart uploads';
      return;
    }
    job.state = 'failed';
    const message = err instanceof Error ? err.message : String(err);
    job.status = message;
    job.failures.push(message);
    const choice = await vscode.window.showErrorMessage(message, 'Show Log');
    if (choice) await this.showLog(job);
  }

}

function describeSources(request: UploadRequest): string {
  const names = request.sources.map((s) => s.split(/[\\/]/).filter(Boolean).pop() ?? s);
  return names.length === 1 ? names[0] : `${names[0]} and ${plural(names.length - 1, 'more')}`;
}

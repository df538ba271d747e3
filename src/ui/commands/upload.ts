import * as vscode from 'vscode';
import { explainAwsError } from '../../aws/errors';
import { formatBytes, plural } from '../../core/format';
import { describePlan } from '../../transfer/plan';
import { abortIncompleteUploads, listIncompleteUploads, prepareUpload, type PreparedUpload, type UploadRequest } from '../../transfer/uploadService';
import type { S3Location } from '../../s3/uri';
import type { AddedBuckets } from '../buckets/addedBuckets';
import type { BucketsProvider } from '../buckets/bucketsProvider';
import { FolderNode } from '../buckets/nodes';
import type { ConnectionState } from '../connectionState';
import { guarded } from '../log';
import { withCancellableProgress } from '../progress';
import { pickDestination } from '../transfers/destination';
import type { TransferJob, TransferJobs } from '../transfers/jobs';
import { confirmationThreshold, uploadOptionsFromSettings } from '../transfers/settings';

interface UploadDeps {
  readonly connection: ConnectionState;
  readonly added: AddedBuckets;
  readonly buckets: BucketsProvider;
  readonly jobs: TransferJobs;
  readonly workspaceState: vscode.Memento;
}

/** Upload, sync, resume and clean-up commands, from the Explorer, the Buckets view and Transfers. */
export function registerUploadCommands(deps: UploadDeps): vscode.Disposable {
  const { connection, jobs } = deps;
  return vscode.Disposable.from(
    vscode.commands.registerCommand(
      'researchCloud.upload',
      guarded(async (clicked?: vscode.Uri, selected?: vscode.Uri[]) => {
        const sources = await localSources(clicked, selected);
        if (!sources.length) return;
        const destination = await pickDestination(connection, deps.added, deps.workspaceState, sources[0]);
        if (destination) await upload(deps, sources, destination);
      }),
    ),
    vscode.commands.registerCommand(
      'researchCloud.sync',
      guarded(async (clicked?: vscode.Uri, selected?: vscode.Uri[]) => {
        const sources = await localSources(clicked, selected);
        if (!sources.length) return;
        const destination = await pickDestination(connection, deps.added, deps.workspaceState, sources[0]);
        if (destination) await sync(deps, sources, destination);
      }),
    ),
    vscode.commands.registerCommand(
      'researchCloud.s3.uploadHere',
      guarded(async (node: unknown) => {
        if (!(node instanceof FolderNode)) return;
        const picked = await vscode.window.showOpenDialog({ title: `Upload to ${node.uri}`, canSelectFiles: true, canSelectFolders: true, canSelectMany: true, openLabel: 'Upload' });
        if (picked?.length) await upload(deps, picked, { bucket: node.bucket, key: node.prefix });
      }),
    ),
    vscode.commands.registerCommand(
      'researchCloud.s3.cleanupIncompleteUploads',
      guarded(async (node: unknown) => {
        if (!(node instanceof FolderNode)) return;
        const s3 = await connection.connection.s3();
        const uploads = await listIncompleteUploads(s3, node.bucket, node.prefix).catch((err: unknown) => {
          throw explainAwsError(err, { operation: `Listing incomplete uploads of ${node.uri}`, action: 's3:ListBucketMultipartUploads', profile: connection.connection.profileName });
        });
        if (!uploads.length) {
          vscode.window.showInformationMessage(`${node.uri} has no incomplete multipart uploads.`);
          return;
        }
        const oldest = uploads.reduce((a, b) => ((a.initiated?.getTime() ?? 0) < (b.initiated?.getTime() ?? 0) ? a : b));
        const confirm = await vscode.window.showWarningMessage(
          `Abort ${plural(uploads.length, 'incomplete multipart upload')} in ${node.uri}?`,
          { modal: true, detail: `Their parts are stored and billed but belong to no object. The oldest, ${oldest.key}, was started ${oldest.initiated?.toISOString() ?? 'at an unknown time'}. An upload still running elsewhere would fail.` },
          'Abort Uploads',
        );
        if (confirm !== 'Abort Uploads') return;
        const aborted = await abortIncompleteUploads(s3, node.bucket, uploads);
        vscode.window.showInformationMessage(`Aborted ${plural(aborted, 'incomplete upload')} in ${node.uri}.`);
      }),
    ),
    vscode.commands.registerCommand('researchCloud.transfers.resume', guarded(async (job: TransferJob) => jobs.resume(connection.connection, job).then(() => deps.buckets.refresh()))),
    vscode.commands.registerCommand('researchCloud.transfers.retryFailed', guarded(async (job: TransferJob) => jobs.resume(connection.connection, job).then(() => deps.buckets.refresh()))),
    vscode.commands.registerCommand('researchCloud.transfers.cancel', (job: TransferJob) => job?.cancel?.()),
    vscode.commands.registerCommand(
      'researchCloud.transfers.discard',
      guarded(async (job: TransferJob) => {
        const confirm = await vscode.window.showWarningMessage(
          `Discard the upload of ${job.label}?`,
          { modal: true, detail: 'Its open multipart uploads are aborted, so their parts stop being billed. Objects already uploaded stay.' },
          'Discard',
        );
        if (confirm !== 'Discard') return;
        const aborted = await jobs.discard(connection.connection, job);
        vscode.window.showInformationMessage(`Discarded the upload of ${job.label}${aborted ? `; aborted ${plural(aborted, 'multipart upload')}` : ''}.`);
      }),
    ),
    vscode.commands.registerCommand('researchCloud.transfers.showLog', guarded(async (job: TransferJob) => jobs.showLog(job))),
  );
}

/** Starts an upload of local files and folders into a bucket and prefix. */
export async function upload(deps: UploadDeps, sources: readonly vscode.Uri[], destination: S3Location): Promise<void> {
  const request: UploadRequest = { sources: sources.map((s) => s.fsPath), bucket: destination.bucket, prefix: destination.key, ...uploadOptionsFromSettings() };
  const prepared = await prepare(deps, request);
  if (!prepared) return;
  if (!prepared.files.length) {
    vscode.window.showInformationMessage(`Nothing to upload${prepared.problems.length ? `: ${plural(prepared.problems.length, 'path')} could not be read (see the log)` : ''}.`);
    return;
  }
  if (!(await confirmLargePlan(prepared))) return;
  await deps.jobs.start(deps.connection.connection, prepared);
  deps.buckets.refresh();
}

async function sync(deps: UploadDeps, sources: readonly vscode.Uri[], destination: S3Location): Promise<void> {
  const request: UploadRequest = {
    sources: sources.map((s) => s.fsPath),
    bucket: destination.bucket,
    prefix: destination.key,
    ...uploadOptionsFromSettings(),
    sync: { compare: vscode.workspace.getConfiguration('researchCloud.upload').get('syncCompare') ?? 'size-and-mtime', deleteExtra: true },
  };
  const prepared = await prepare(deps, request);
  if (!prepared?.sync) return;
  const { upload: changed, unchanged, extra } = prepared.sync;
  type Choice = vscode.QuickPickItem & { run: 'upload' | 'delete' | 'report' };
  const choices: Choice[] = [
    { label: `$(cloud-upload) Upload ${plural(changed.length, 'new or changed file')}`, description: `${formatBytes(prepared.plan.bytes)}; ${unchanged.length} unchanged`, run: 'upload' },
    ...(extra.length ? [{ label: `$(trash) Upload them and delete ${plural(extra.length, 'remote object')} with no local file`, description: 'cannot be undone', run: 'delete' as const }] : []),
    { label: '$(list-flat) Show what would change (dry run)', run: 'report' },
  ];
  const choice = await vscode.window.showQuickPick(choices, { title: `Sync to s3://${destination.bucket}/${destination.key}` });
  if (!choice) return;
  if (choice.run === 'report') {
    const lines = [
      `Sync to s3://${destination.bucket}/${destination.key}: nothing has been sent.`,
      '',
      `Would upload (${changed.length}):`,
      ...changed.map((f) => `  ${f.relativePath}  ${formatBytes(f.size)}`),
      '',
      `Would delete only if confirmed (${extra.length}):`,
      ...extra.map((o) => `  ${o.key}`),
      '',
      `Unchanged: ${unchanged.length}`,
    ];
    await vscode.window.showTextDocument(await vscode.workspace.openTextDocument({ content: lines.join('\n') }), { preview: true });
    return;
  }
  if (choice.run === 'delete') {
    const confirm = await vscode.window.showWarningMessage(
      `Delete ${plural(extra.length, 'object')} from s3://${destination.bucket}/${destination.key} that have no local file?`,
      { modal: true, detail: `First: ${extra.slice(0, 5).map((o) => o.key).join(', ')}${extra.length > 5 ? ', …' : ''}` },
      'Delete',
    );
    if (confirm !== 'Delete') return;
  }
  if (!changed.length && choice.run !== 'delete') {
    vscode.window.showInformationMessage('Everything is up to date.');
    return;
  }
  await deps.jobs.start(deps.connection.connection, prepared, choice.run === 'delete');
  deps.buckets.refresh();
}

async function prepare(deps: UploadDeps, request: UploadRequest): Promise<PreparedUpload | undefined> {
  return withCancellableProgress(request.sync ? 'Comparing with the bucket' : 'Scanning files', (signal) => prepareUpload(deps.connection.connection, request, signal));
}

/** Shows the plan of a large upload (counts, sizes, time) and asks before sending. */
async function confirmLargePlan(prepared: PreparedUpload): Promise<boolean> {
  const threshold = confirmationThreshold();
  if (prepared.plan.files <= threshold.files && prepared.plan.bytes <= threshold.bytes) return true;
  const [headline, ...details] = describePlan(prepared.plan);
  const skipped = prepared.problems.length ? [`${plural(prepared.problems.length, 'path')} will be skipped (unreadable, links or special files).`] : [];
  const choice = await vscode.window.showInformationMessage(
    `Upload ${headline}?`,
    { modal: true, detail: [...details, ...skipped].join('\n') },
    'Upload',
  );
  return choice === 'Upload';
}

/** The Explorer passes the clicked resource and, with several selected, all of them. */
async function localSources(clicked?: vscode.Uri, selected?: vscode.Uri[]): Promise<vscode.Uri[]> {
  const uris = selected?.length ? selected : clicked ? [clicked] : [];
  if (uris.length) return uris.filter((u) => u.scheme === 'file');
  const picked = await vscode.window.showOpenDialog({ title: 'Upload to S3', canSelectFiles: true, canSelectFolders: true, canSelectMany: true, openLabel: 'Upload' });
  return picked ?? [];
}

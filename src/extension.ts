import * as vscode from 'vscode';
import { AddedBuckets } from './ui/buckets/addedBuckets';
import { BucketsProvider } from './ui/buckets/bucketsProvider';
import { registerClusterFeatures } from './ui/cluster/register';
import { registerBrowseCommands } from './ui/commands/browse';
import { registerDownloadCommand } from './ui/commands/download';
import { registerObjectCommands } from './ui/commands/objects';
import { registerUploadCommands, upload } from './ui/commands/upload';
import { registerConnectionStatus } from './ui/connectionStatus';
import { ConnectionState } from './ui/connectionState';
import { log } from './ui/log';
import { registerMetricsFeatures } from './ui/metrics/register';
import { registerS3FileSystem } from './ui/s3FileSystem';
import { registerSsmFeatures } from './ui/ssm/register';
import { registerPropertiesDocuments } from './ui/s3Properties';
import { DropToUpload } from './ui/buckets/dropUpload';
import { TransferJobs } from './ui/transfers/jobs';
import { TransfersView } from './ui/transfers/transfersView';

/** Wires the features together. Makes no network call: AWS clients are created on first use. */
export function activate(context: vscode.ExtensionContext): void {
  const connection = new ConnectionState(context.globalState);
  const added = new AddedBuckets(context.globalState);
  const buckets = new BucketsProvider(connection, added, context.workspaceState);
  // Checkpoints of upload jobs live in the extension's own storage, so Resume survives reloads.
  const jobs = new TransferJobs(vscode.Uri.joinPath(context.globalStorageUri, 'jobs').fsPath);
  const uploadDeps = { connection, added, buckets, jobs, workspaceState: context.workspaceState };
  const bucketsView = vscode.window.createTreeView('researchCloud.buckets', {
    treeDataProvider: buckets,
    canSelectMany: true,
    showCollapseAll: true,
    dragAndDropController: new DropToUpload((sources, bucket, prefix) => upload(uploadDeps, sources, { bucket, key: prefix })),
  });
  const transfers = new TransfersView(jobs);
  context.subscriptions.push(
    log,
    connection,
    buckets,
    bucketsView,
    registerConnectionStatus(connection),
    registerBrowseCommands(buckets, connection, added),
    registerObjectCommands(buckets, connection),
    registerDownloadCommand(connection),
    jobs,
    jobs.registerLogDocuments(),
    transfers,
    vscode.window.createTreeView('researchCloud.transfers', { treeDataProvider: transfers }),
    registerUploadCommands(uploadDeps),
    registerS3FileSystem(connection),
    registerPropertiesDocuments(connection),
    registerClusterFeatures(connection, context),
    registerSsmFeatures(connection, context),
    registerMetricsFeatures(connection, context),
  );
  // Reading the checkpoints is local file I/O only; jobs from an earlier window show as paused.
  void jobs.restore();
}

export function deactivate(): void {}

import * as vscode from 'vscode';
import { AddedBuckets } from './ui/buckets/addedBuckets';
import { BucketsProvider } from './ui/buckets/bucketsProvider';
import { registerClusterPlaceholder } from './ui/clusterView';
import { registerBrowseCommands } from './ui/commands/browse';
import { registerDownloadCommand } from './ui/commands/download';
import { registerObjectCommands } from './ui/commands/objects';
import { registerConnectionStatus } from './ui/connectionStatus';
import { ConnectionState } from './ui/connectionState';
import { log } from './ui/log';
import { registerS3FileSystem } from './ui/s3FileSystem';
import { registerPropertiesDocuments } from './ui/s3Properties';

/** Wires the features together. Makes no network call: AWS clients are created on first use. */
export function activate(context: vscode.ExtensionContext): void {
  const connection = new ConnectionState(context.globalState);
  const added = new AddedBuckets(context.globalState);
  const buckets = new BucketsProvider(connection, added, context.workspaceState);
  const bucketsView = vscode.window.createTreeView('researchCloud.buckets', {
    treeDataProvider: buckets,
    canSelectMany: true,
    showCollapseAll: true,
  });
  context.subscriptions.push(
    log,
    connection,
    buckets,
    bucketsView,
    registerConnectionStatus(connection),
    registerBrowseCommands(buckets, connection, added),
    registerObjectCommands(buckets, connection),
    registerDownloadCommand(connection),
    registerS3FileSystem(connection),
    registerPropertiesDocuments(connection),
    registerClusterPlaceholder(),
  );
}

export function deactivate(): void {}

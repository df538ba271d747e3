import * as vscode from 'vscode';
import { explainAwsError } from '../../aws/errors';
import { formatBytes, plural } from '../../core/format';
import { downloadToFolder, type DownloadSource, type ExistingFilePolicy } from '../../s3/download';
import { FolderNode } from '../buckets/nodes';
import type { ConnectionState } from '../connectionState';
import { guarded, log } from '../log';
import { withCancellableProgress } from '../progress';
import { selectedNodes } from './selection';

/** Download of objects and whole prefixes into a folder the user picks, keeping structure. */
export function registerDownloadCommand(connection: ConnectionState): vscode.Disposable {
  return vscode.commands.registerCommand(
    'researchCloud.s3.download',
    guarded(async (clicked: unknown, selected: unknown) => {
      const nodes = selectedNodes(clicked, selected);
      if (!nodes.length) return;
      const sources: DownloadSource[] = nodes.map((n) =>
        n instanceof FolderNode ? { bucket: n.bucket, prefix: n.prefix } : { bucket: n.bucket, key: n.key },
      );
      const destination = await pickDestination();
      if (!destination) return;
      const config = vscode.workspace.getConfiguration('researchCloud');
      const s3 = await connection.connection.s3();
      const what = nodes.length === 1 ? nodes[0].uri : plural(nodes.length, 'item');
      const result = await withCancellableProgress(`Downloading ${what}`, (signal, progress) =>
        downloadToFolder(s3, sources, destination.fsPath, {
          signal,
          progress,
          concurrency: config.get<number>('transfer.concurrency'),
          partSize: (config.get<number>('transfer.partSizeMB') ?? 8) * 1024 * 1024,
          ifExists: config.get<ExistingFilePolicy>('transfer.ifExists') ?? 'skip',
          profile: connection.connection.profileName,
        }),
      ).then(
        (r) => r,
        (err) => {
          throw explainAwsError(err, { operation: `Downloading ${what}`, action: 's3:GetObject', profile: connection.connection.profileName });
        },
      );
      const summary = `Downloaded ${plural(result.files, 'file')} (${formatBytes(result.bytes)}) to ${destination.fsPath}`;
      log.info(summary);
      if (result.skipped.length) log.info(`Skipped ${plural(result.skipped.length, 'file')} that already exist locally: ${result.skipped.join(', ')}`);
      if (!result.failed.length) {
        const choice = await vscode.window.showInformationMessage(
          summary +
            (result.skipped.length
              ? `; ${plural(result.skipped.length, 'file')} already there ${result.skipped.length === 1 ? 'was' : 'were'} kept (setting researchCloud.transfer.ifExists).`
              : '.'),
          'Reveal',
        );
        if (choice) await vscode.commands.executeCommand('revealFileInOS', destination);
        return;
      }
      for (const f of result.failed) log.error(`Download of ${f.key} failed: ${f.error.message}`);
      const choice = await vscode.window.showErrorMessage(
        `${summary}; ${plural(result.failed.length, 'object')} failed (first: ${result.failed[0].error.message}).`,
        'Show Log',
      );
      if (choice) log.show(true);
    }),
  );
}

async function pickDestination(): Promise<vscode.Uri | undefined> {
  const picked = await vscode.window.showOpenDialog({
    title: 'Download into folder',
    canSelectFiles: false,
    canSelectFolders: true,
    canSelectMany: false,
    openLabel: 'Download Here',
    defaultUri: vscode.workspace.workspaceFolders?.[0]?.uri,
  });
  return picked?.[0];
}

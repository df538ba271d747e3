import * as vscode from 'vscode';
import { explainAwsError } from '../../aws/errors';
import { formatBytes, plural } from '../../core/format';
import { createFolder, deleteKeys, expandTargets, MAX_PRESIGN_SECONDS, presignGet } from '../../s3/objects';
import { s3Arn } from '../../s3/uri';
import type { BucketsProvider } from '../buckets/bucketsProvider';
import { FolderNode, ObjectNode } from '../buckets/nodes';
import type { ConnectionState } from '../connectionState';
import { guarded, log } from '../log';
import { withCancellableProgress } from '../progress';
import { propertiesUri } from '../s3Properties';
import { keyOf, selectedNodes, selectedObjects } from './selection';

/** Commands on objects and folders: copy URIs, presign, create folder, delete, properties, open. */
export function registerObjectCommands(provider: BucketsProvider, connection: ConnectionState): vscode.Disposable {
  const profile = () => connection.connection.profileName;
  return vscode.Disposable.from(
    vscode.commands.registerCommand('researchCloud.s3.copyUri', async (clicked: unknown, selected: unknown) => {
      const uris = selectedNodes(clicked, selected).map((n) => n.uri);
      if (!uris.length) return;
      await vscode.env.clipboard.writeText(uris.join('\n'));
      vscode.window.setStatusBarMessage(`Copied ${uris.length === 1 ? uris[0] : plural(uris.length, 'S3 URI')}`, 4000);
    }),
    vscode.commands.registerCommand(
      'researchCloud.s3.copyPresignedUrl',
      guarded(async (clicked: unknown) => {
        const [node] = selectedObjects(clicked, undefined);
        if (!node) return;
        const seconds = await askExpiry();
        if (!seconds) return;
        const s3 = await connection.connection.s3();
        // The URL is a credential for this object: it goes to the clipboard and nowhere else.
        const url = await presignGet(s3, node.bucket, node.key, seconds);
        await vscode.env.clipboard.writeText(url);
        vscode.window.showInformationMessage(
          `Presigned URL for ${node.uri} copied. Anyone with it can download the object for ${describeSeconds(seconds)}` +
            ' (or until the credentials that signed it expire, for SSO and assumed roles).',
        );
      }),
    ),
    vscode.commands.registerCommand(
      'researchCloud.s3.createFolder',
      guarded(async (clicked: unknown) => {
        if (!(clicked instanceof FolderNode)) return;
        const name = await vscode.window.showInputBox({
          title: `New folder in ${clicked.uri}`,
          validateInput: (v) => (v.trim().replace(/^\/+|\/+$/g, '') ? undefined : 'Type a folder name.'),
        });
        if (!name) return;
        const s3 = await connection.connection.s3();
        try {
          await createFolder(s3, clicked.bucket, clicked.prefix, name);
        } catch (err) {
          throw explainAwsError(err, { operation: `Creating folder ${name}`, action: 's3:PutObject', resource: s3Arn(clicked.bucket, clicked.prefix + name), profile: profile() });
        }
        provider.refresh(clicked);
      }),
    ),
    vscode.commands.registerCommand(
      'researchCloud.s3.delete',
      guarded(async (clicked: unknown, selected: unknown) => deleteSelection(provider, connection, selectedNodes(clicked, selected))),
    ),
    vscode.commands.registerCommand(
      'researchCloud.s3.properties',
      guarded(async (clicked: unknown) => {
        if (!(clicked instanceof ObjectNode)) return;
        const document = await vscode.workspace.openTextDocument(propertiesUri(clicked.bucket, clicked.key));
        await vscode.languages.setTextDocumentLanguage(document, 'markdown');
        await vscode.window.showTextDocument(document, { preview: true });
      }),
    ),
    vscode.commands.registerCommand(
      'researchCloud.s3.open',
      guarded(async (clicked: unknown) => {
        if (!(clicked instanceof ObjectNode)) return;
        const limitMB = vscode.workspace.getConfiguration('researchCloud').get<number>('s3.openMaxSizeMB') ?? 50;
        if (clicked.object.size > limitMB * 1e6) {
          const choice = await vscode.window.showWarningMessage(
            `${clicked.uri} is ${formatBytes(clicked.object.size)}, over the ${limitMB} MB limit for opening in an editor (setting researchCloud.s3.openMaxSizeMB).`,
            'Download…',
          );
          if (choice) await vscode.commands.executeCommand('researchCloud.s3.download', clicked);
          return;
        }
        const uri = vscode.Uri.from({ scheme: 's3', authority: clicked.bucket, path: `/${clicked.key}` });
        await vscode.window.showTextDocument(uri, { preview: true });
      }),
    ),
  );
}

async function deleteSelection(provider: BucketsProvider, connection: ConnectionState, nodes: Array<FolderNode | ObjectNode>): Promise<void> {
  const targets = nodes.filter((n) => !(n instanceof FolderNode && n.kind === 'bucket')).map((n) => ({ bucket: n.bucket, key: keyOf(n) }));
  if (!targets.length) return;
  const s3 = await connection.connection.s3();
  const profile = connection.connection.profileName;
  const keysByBucket = await withCancellableProgress('Counting objects to delete', (signal) => expandTargets(s3, targets, signal)).then(
    (keys) => keys,
    (err) => {
      throw explainAwsError(err, { operation: 'Listing the objects to delete', action: 's3:ListBucket', profile });
    },
  );
  const count = [...keysByBucket.values()].reduce((n, keys) => n + keys.length, 0);
  const what = nodes.length === 1 ? nodes[0].uri : plural(nodes.length, 'item');
  const confirm = await vscode.window.showWarningMessage(
    `Delete ${plural(count, 'object')} (${what})?`,
    { modal: true, detail: 'This cannot be undone, unless versioning is enabled on the bucket.' },
    'Delete',
  );
  if (confirm !== 'Delete') return;
  const result = await withCancellableProgress(`Deleting ${what}`, (signal, progress) => deleteKeys(s3, keysByBucket, { signal, progress })).then(
    (r) => r,
    (err) => {
      throw explainAwsError(err, { operation: `Deleting ${what}`, action: 's3:DeleteObject', profile });
    },
  );
  for (const folder of new Set(nodes.map((n) => n.parent).filter((p): p is FolderNode => !!p))) provider.refresh(folder);
  if (!result.failed.length) {
    vscode.window.showInformationMessage(`Deleted ${what}.`);
    return;
  }
  log.warn(`Delete of ${what}: ${result.failed.length} failed`);
  for (const f of result.failed) log.warn(`  s3://${f.bucket}/${f.key}: ${f.code ?? ''} ${f.message}`);
  const choice = await vscode.window.showErrorMessage(
    `Deleted ${plural(result.deleted, 'object')}; ${plural(result.failed.length, 'object')} could not be deleted (first: ${result.failed[0].key}: ${result.failed[0].code ?? result.failed[0].message}).`,
    'Show List',
  );
  if (choice) log.show(true);
}

const EXPIRY_CHOICES: Array<{ label: string; seconds: number }> = [
  { label: '15 minutes', seconds: 15 * 60 },
  { label: '1 hour', seconds: 3600 },
  { label: '12 hours', seconds: 12 * 3600 },
  { label: '1 day', seconds: 24 * 3600 },
  { label: '7 days (the longest S3 allows)', seconds: MAX_PRESIGN_SECONDS },
];

async function askExpiry(): Promise<number | undefined> {
  const custom = { label: 'Custom…', seconds: 0 };
  const picked = await vscode.window.showQuickPick([...EXPIRY_CHOICES, custom], { title: 'The presigned URL expires after' });
  if (!picked) return undefined;
  if (picked !== custom) return picked.seconds;
  const hours = await vscode.window.showInputBox({
    title: 'Hours until the URL expires',
    validateInput: (v) => {
      const n = Number(v);
      return n > 0 && n * 3600 <= MAX_PRESIGN_SECONDS ? undefined : 'A number of hours above 0 and at most 168 (7 days).';
    },
  });
  return hours ? Number(hours) * 3600 : undefined;
}

function describeSeconds(seconds: number): string {
  return EXPIRY_CHOICES.find((c) => c.seconds === seconds)?.label.replace(/ \(.*\)$/, '') ?? `${seconds / 3600} hours`;
}

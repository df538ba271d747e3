import * as vscode from 'vscode';
import { explainAwsError } from '../../aws/errors';
import type { SortOrder } from '../../s3/listing';
import { createBucket } from '../../s3/objects';
import { bucketNameProblem, parseS3Location } from '../../s3/uri';
import type { AddedBuckets } from '../buckets/addedBuckets';
import type { BucketsProvider } from '../buckets/bucketsProvider';
import { FolderNode, LoadMoreNode } from '../buckets/nodes';
import type { ConnectionState } from '../connectionState';
import { guarded } from '../log';

/** Commands that change what the Buckets view shows: refresh, add, filter, sort, load more, create. */
export function registerBrowseCommands(
  provider: BucketsProvider,
  connection: ConnectionState,
  added: AddedBuckets,
): vscode.Disposable {
  const profile = () => connection.connection.profileName;
  return vscode.Disposable.from(
    // The title bar's Refresh gets the focused row as its argument too, so it has a command of
    // its own that always reloads everything; the context menu's Refresh reloads one folder.
    vscode.commands.registerCommand('researchCloud.buckets.refreshAll', () => provider.refresh()),
    vscode.commands.registerCommand('researchCloud.buckets.refresh', (node?: unknown) =>
      provider.refresh(node instanceof FolderNode ? node : undefined),
    ),
    vscode.commands.registerCommand(
      'researchCloud.buckets.add',
      guarded(async (initial?: unknown) => {
        const text = await vscode.window.showInputBox({
          title: 'Add a bucket to the list',
          prompt: 'A bucket name, or an s3:// URI of a prefix you may read (for policies that allow only some prefixes).',
          placeHolder: 'my-bucket  or  s3://my-bucket/project/raw/',
          value: typeof initial === 'string' ? initial : undefined,
          validateInput: (value) => {
            try {
              parseS3Location(value);
              return undefined;
            } catch (err) {
              return (err as Error).message;
            }
          },
        });
        if (!text) return;
        const location = parseS3Location(text);
        const key = location.key && !location.key.endsWith('/') ? `${location.key}/` : location.key;
        await added.add(profile(), { bucket: location.bucket, key });
        provider.refresh();
      }),
    ),
    vscode.commands.registerCommand(
      'researchCloud.buckets.remove',
      guarded(async (node: unknown) => {
        if (!(node instanceof FolderNode) || !node.added) return;
        await added.remove(profile(), { bucket: node.bucket, key: node.prefix });
        provider.refresh();
      }),
    ),
    vscode.commands.registerCommand(
      'researchCloud.buckets.filter',
      guarded(async (node: unknown) => {
        if (!(node instanceof FolderNode)) return;
        const filter = await vscode.window.showInputBox({
          title: `Filter ${node.uri}`,
          prompt: 'Show only names that start with this text. S3 filters on the server, so this works on folders of millions of objects.',
          value: node.filter,
          placeHolder: 'e.g. sample_2024',
        });
        if (filter !== undefined) provider.setFilter(node, filter);
      }),
    ),
    vscode.commands.registerCommand('researchCloud.buckets.clearFilter', (node: unknown) => {
      if (node instanceof FolderNode) provider.setFilter(node, undefined);
    }),
    vscode.commands.registerCommand(
      'researchCloud.buckets.sort',
      guarded(async () => {
        const current = provider.sortOrder;
        const options: Array<{ label: string; order: SortOrder; description: string }> = [
          { label: 'Name', order: 'name', description: 'A to Z, as S3 lists' },
          { label: 'Date', order: 'date', description: 'newest first' },
          { label: 'Size', order: 'size', description: 'largest first' },
        ];
        const picked = await vscode.window.showQuickPick(
          options.map((o) => ({ ...o, label: o.order === current ? `$(check) ${o.label}` : o.label })),
          { title: 'Sort objects by', placeHolder: 'Date and size order the objects loaded so far; folders stay on top' },
        );
        if (picked) await provider.setSortOrder(picked.order);
      }),
    ),
    vscode.commands.registerCommand(
      'researchCloud.buckets.loadMore',
      guarded(async (node: unknown) => {
        if (!(node instanceof LoadMoreNode)) return;
        await vscode.window.withProgress({ location: { viewId: 'researchCloud.buckets' } }, () => provider.loadMore(node));
      }),
    ),
    vscode.commands.registerCommand(
      'researchCloud.buckets.createBucket',
      guarded(async () => {
        const region = await connection.connection.region();
        const name = await vscode.window.showInputBox({
          title: `Create a bucket in ${region}`,
          prompt: 'Bucket names are global across all AWS accounts.',
          validateInput: (value) => bucketNameProblem(value.trim()),
        });
        if (!name) return;
        const s3 = await connection.connection.s3();
        try {
          await createBucket(s3, name.trim(), region);
        } catch (err) {
          throw explainAwsError(err, { operation: `Creating bucket ${name}`, action: 's3:CreateBucket', profile: profile() });
        }
        vscode.window.showInformationMessage(`Created bucket ${name} in ${region}.`);
        provider.refresh();
      }),
    ),
  );
}

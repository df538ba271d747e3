import * as vscode from 'vscode';
import { listBuckets } from '../../s3/listing';
import { parseS3Location, type S3Location } from '../../s3/uri';
import type { AddedBuckets } from '../buckets/addedBuckets';
import type { ConnectionState } from '../connectionState';

/**
 * Asks where an upload goes: a bucket, then a prefix. The last choice is remembered per
 * workspace folder, so uploading the same project again is two Enter presses.
 */
export async function pickDestination(
  connection: ConnectionState,
  added: AddedBuckets,
  workspaceState: vscode.Memento,
  source: vscode.Uri,
): Promise<S3Location | undefined> {
  const memoryKey = `researchCloud.uploadDestination.${vscode.workspace.getWorkspaceFolder(source)?.uri.toString() ?? 'none'}`;
  const remembered = workspaceState.get<S3Location>(memoryKey);
  const bucket = await pickBucket(connection, added, remembered);
  if (!bucket) return undefined;
  if (bucket.key) {
    await workspaceState.update(memoryKey, bucket);
    return bucket;
  }
  const prefix = await vscode.window.showInputBox({
    title: `Upload into s3://${bucket.bucket}/`,
    prompt: 'Key prefix (folder) inside the bucket; empty for the top. The selected folders keep their names under it.',
    value: remembered?.bucket === bucket.bucket ? remembered.key : '',
    placeHolder: 'e.g. projects/rnaseq-2026/',
  });
  if (prefix === undefined) return undefined;
  const clean = prefix.trim().replace(/^\/+/, '');
  const location = { bucket: bucket.bucket, key: clean && !clean.endsWith('/') ? `${clean}/` : clean };
  await workspaceState.update(memoryKey, location);
  return location;
}

async function pickBucket(connection: ConnectionState, added: AddedBuckets, remembered?: S3Location): Promise<S3Location | undefined> {
  type Item = vscode.QuickPickItem & { location?: S3Location };
  const quickPick = vscode.window.createQuickPick<Item>();
  quickPick.title = 'Upload to which bucket?';
  quickPick.placeholder = 'Pick a bucket, or type an s3:// URI';
  quickPick.busy = true;
  const head: Item[] = remembered
    ? [{ label: `$(history) s3://${remembered.bucket}/${remembered.key}`, description: 'last used for this folder', location: remembered, alwaysShow: true }]
    : [];
  const addedItems = added.list(connection.connection.profileName).map((l) => ({ label: `$(database) ${l.bucket}`, description: l.key ? `s3://${l.bucket}/${l.key}` : 'added by name', location: l }));
  quickPick.items = [...head, ...addedItems];
  quickPick.show();
  void connection.connection
    .s3()
    .then((s3) => listBuckets(s3))
    .then(
      (buckets) => {
        quickPick.items = [...head, ...addedItems, ...buckets.map((b) => ({ label: `$(database) ${b.name}`, location: { bucket: b.name, key: '' } }))];
      },
      () => {
        quickPick.placeholder = 'Listing buckets is not allowed: type an s3:// URI or a bucket name';
      },
    )
    .finally(() => (quickPick.busy = false));
  return new Promise((resolve) => {
    quickPick.onDidAccept(() => {
      const picked = quickPick.selectedItems[0]?.location;
      const typed = quickPick.value.trim();
      try {
        resolve(picked ?? (typed ? parseS3Location(typed) : undefined));
      } catch (err) {
        void vscode.window.showErrorMessage((err as Error).message);
        resolve(undefined);
      }
      quickPick.hide();
    });
    quickPick.onDidHide(() => {
      resolve(undefined);
      quickPick.dispose();
    });
  });
}

// What sync adds to an upload: a comparison with the bucket, and deleting what has no local file.
import { formatBytes, plural } from '../../core/format';
import type { PreparedUpload } from '../../transfer/uploadService';
import type { UploadInvocation } from '../args';
import { UsageError } from '../exitCodes';
import type { Output } from '../output';

/** Deleting needs a yes: typed on the terminal, or --yes in a script. Checked before anything is scanned. */
export function checkDeletionConsent(invocation: UploadInvocation, output: Output): void {
  if (!invocation.request.sync?.deleteExtra || invocation.yes || invocation.dryRun || output.interactive) return;
  throw new UsageError('sync --delete deletes remote objects, and there is no terminal to confirm on: add --yes to allow it (try --dry-run first to see the list).');
}

/** Keys to delete come first: they are what cannot be undone. */
export function describeSyncPlan(prepared: PreparedUpload): string[] {
  const sync = prepared.sync;
  if (!sync) return [];
  const lines: string[] = [];
  if (sync.extra.length) {
    lines.push(`Would delete ${plural(sync.extra.length, 'remote object')} that ${sync.extra.length === 1 ? 'has' : 'have'} no local file:`);
    lines.push(...sync.extra.map((object) => `  s3://${prepared.request.bucket}/${object.key}`));
  }
  const unchanged = `${plural(sync.unchanged.length, 'file')} unchanged`;
  if (!prepared.files.length) {
    lines.push(`Nothing would be uploaded: ${unchanged}.`);
    return lines;
  }
  lines.push(`Would upload ${plural(prepared.files.length, 'new or changed file')} (${unchanged}):`);
  lines.push(...prepared.files.map((file) => `  ${file.relativePath} (${formatBytes(file.size)})`));
  return lines;
}

/** The --json fields of a sync's comparison. */
export function syncSummary(prepared: PreparedUpload): Record<string, unknown> {
  const sync = prepared.sync;
  if (!sync) return {};
  return {
    sync: {
      upload: prepared.files.map((file) => file.relativePath),
      unchanged: sync.unchanged.length,
      delete: sync.extra.map((object) => object.key),
    },
  };
}

import { lstat } from 'node:fs/promises';
import { plural } from '../core/format';
import type { ScanProblem } from '../transfer/scan';
import type { Output } from './output';

/**
 * Splits what the scan passed over: symbolic links left out on purpose (the default) are
 * noted; anything else (unreadable, vanished, a socket) was meant to go and did not.
 */
export async function sortScanProblems(problems: readonly ScanProblem[], followSymlinks: boolean): Promise<{ skipped: ScanProblem[]; notUploaded: ScanProblem[] }> {
  const skipped: ScanProblem[] = [];
  const notUploaded: ScanProblem[] = [];
  for (const problem of problems) {
    const isLink = !followSymlinks && (await lstat(problem.path).then((info) => info.isSymbolicLink(), () => false));
    (isLink ? skipped : notUploaded).push(problem);
  }
  return { skipped, notUploaded };
}

const LISTED_SKIPS = 10;

export function reportScanProblems(output: Output, skipped: readonly ScanProblem[], notUploaded: readonly ScanProblem[]): void {
  if (skipped.length) {
    const more = skipped.length > LISTED_SKIPS ? [`  … and ${skipped.length - LISTED_SKIPS} more`] : [];
    output.warn(`Skipped ${plural(skipped.length, 'symbolic link')} (--follow-symlinks follows them):`, ...skipped.slice(0, LISTED_SKIPS).map((p) => `  ${p.path}`), ...more);
  }
  if (notUploaded.length) {
    output.warn(`${plural(notUploaded.length, 'path')} could not be uploaded:`, ...notUploaded.map((p) => `  ${p.path}: ${p.reason}`));
  }
}

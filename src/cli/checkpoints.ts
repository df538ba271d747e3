import { access } from 'node:fs/promises';
import { formatDate, plural } from '../core/format';
import { Journal, journalPath } from '../transfer/journal';
import { requestOf } from '../transfer/uploadService';
import { UsageError } from './exitCodes';

/** A checkpoint as `research-cloud jobs` shows it. */
export interface CheckpointSummary {
  readonly id: string;
  readonly created: string;
  readonly kind: 'upload' | 'sync';
  readonly sources: readonly string[];
  readonly destination: string;
  readonly deletesExtra: boolean;
  readonly filesDone: number;
  readonly openMultipartUploads: number;
}

export function summarizeCheckpoint(journal: Journal): CheckpointSummary {
  const request = requestOf(journal);
  return {
    id: journal.header.id,
    created: journal.header.created,
    kind: request.sync ? 'sync' : 'upload',
    sources: request.sources,
    destination: `s3://${request.bucket}/${request.prefix}`,
    deletesExtra: !!request.sync?.deleteExtra,
    filesDone: journal.finished.size,
    openMultipartUploads: journal.openUploads.size,
  };
}

export function describeCheckpoint(summary: CheckpointSummary): string[] {
  const deletes = summary.deletesExtra ? ' --delete' : '';
  return [
    `  ${summary.id}`,
    `      ${summary.kind}${deletes} ${summary.sources.join(' ')} → ${summary.destination}`,
    `      started ${formatDate(new Date(summary.created))}; ${plural(summary.filesDone, 'file')} done, ${plural(summary.openMultipartUploads, 'multipart upload')} open`,
  ];
}

/** The checkpoint of job `id`, or a UsageError that says where to look. */
export async function findCheckpoint(directory: string, id: string): Promise<Journal> {
  const file = journalPath(directory, id);
  try {
    await access(file);
  } catch {
    throw new UsageError(`There is no job ${id} in ${directory}; research-cloud jobs lists the unfinished ones.`);
  }
  return Journal.open(file);
}

/** True when a job's checkpoint records something done, so resuming it saves work. */
export async function checkpointHasProgress(file: string): Promise<boolean> {
  const journal = await Journal.open(file).catch(() => undefined);
  return !!journal && (journal.finished.size > 0 || journal.openUploads.size > 0);
}

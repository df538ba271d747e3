import { ListMultipartUploadsCommand, type S3Client } from '@aws-sdk/client-s3';
import { randomBytes } from 'node:crypto';
import type { Connection } from '../aws/connection';
import { explainAwsError } from '../aws/errors';
import type { ProgressSink } from '../core/progress';
import { deleteKeys } from '../s3/objects';
import { Journal } from './journal';
import { planUpload, type UploadPlan } from './plan';
import { scanSources, type LocalFile, type ScanOptions, type ScanProblem } from './scan';
import { planSync, type SyncComparison, type SyncPlan } from './sync';
import type { ObjectWriter } from './objectWriter';
import { openTarget } from './target';
import { abortMultipartUpload, runUpload, type EngineOptions, type UploadResult } from './uploadJob';

/** Everything that defines an upload job; kept in its checkpoint so Resume repeats it exactly. */
export interface UploadRequest {
  readonly sources: readonly string[];
  readonly bucket: string;
  /** Key prefix, '' or ending in '/'. */
  readonly prefix: string;
  readonly scan?: Pick<ScanOptions, 'followSymlinks' | 'exclude'>;
  readonly engine?: EngineOptions;
  /** Present for a sync: only files that differ are sent. */
  readonly sync?: { readonly compare?: SyncComparison; readonly deleteExtra?: boolean };
}

export interface PreparedUpload {
  readonly request: UploadRequest;
  /** The files that will be sent (for a sync, only those that differ). */
  readonly files: LocalFile[];
  readonly problems: ScanProblem[];
  readonly plan: UploadPlan;
  readonly sync?: SyncPlan;
}

export interface JobOptions {
  /** Where checkpoints live: the extension's global storage, or the CLI's cache directory. */
  readonly jobsDirectory: string;
  readonly signal?: AbortSignal;
  readonly progress?: ProgressSink;
  readonly log?: (line: string) => void;
  /** For a sync with deleteExtra: the caller confirmed deleting `sync.extra`. */
  readonly deleteConfirmed?: boolean;
  /** The job's id (newJobId()), so the caller can find its checkpoint even if the job stops early. */
  readonly jobId?: string;
}

export interface JobOutcome {
  readonly id: string;
  /** The checkpoint; removed when every file made it, kept for "retry failed" otherwise. */
  readonly journalFile: string;
  readonly result: UploadResult;
  readonly problems: ScanProblem[];
  readonly deleted: number;
}

/** Scans and plans (and, for a sync, compares with the bucket), sending nothing. */
export async function prepareUpload(connection: Connection, request: UploadRequest, signal?: AbortSignal): Promise<PreparedUpload> {
  const scanned = await scanSources(request.sources, { ...request.scan, signal });
  let files = scanned.files;
  let sync: SyncPlan | undefined;
  if (request.sync) {
    const s3 = await connection.s3();
    try {
      sync = await planSync(s3, files, request, { ...request.sync, partSize: request.engine?.partSize, signal });
    } catch (err) {
      throw explainAwsError(err, { operation: `Comparing with s3://${request.bucket}/${request.prefix}`, action: 's3:ListBucket', resource: `arn:aws:s3:::${request.bucket}`, profile: connection.profileName });
    }
    files = sync.upload;
  }
  return { request, files, problems: scanned.problems, plan: planUpload(files, { partSize: request.engine?.partSize }), sync };
}

/** A job id that sorts by time and names its checkpoint file. */
export function newJobId(): string {
  return `${new Date().toISOString().replace(/[:.]/g, '-')}-${randomBytes(3).toString('hex')}`;
}

export async function runPrepared(connection: Connection, prepared: PreparedUpload, options: JobOptions): Promise<JobOutcome> {
  const id = options.jobId ?? newJobId();
  const { request } = prepared;
  const journal = await Journal.create(options.jobsDirectory, {
    id,
    sources: request.sources,
    bucket: request.bucket,
    prefix: request.prefix,
    options: { scan: request.scan, engine: request.engine, sync: request.sync },
  });
  return execute(connection, journal, prepared.files, prepared.problems, prepared.sync, options);
}

/** Continues a job from its checkpoint: finished files and parts are not sent again. */
export async function resumeJob(connection: Connection, journalFile: string, options: Omit<JobOptions, 'jobsDirectory'>): Promise<JobOutcome> {
  const journal = await Journal.open(journalFile);
  const request = requestOf(journal);
  const prepared = await prepareUpload(connection, request, options.signal);
  return execute(connection, journal, prepared.files, prepared.problems, prepared.sync, options);
}

/** Gives up a job: aborts its open multipart uploads (nothing is left to bill) and deletes the checkpoint. */
export async function discardJob(connection: Connection, journalFile: string): Promise<number> {
  const journal = await Journal.open(journalFile);
  const s3 = await connection.s3();
  let aborted = 0;
  for (const upload of journal.openUploads.values()) {
    await abortMultipartUpload(s3, journal.header.bucket, upload);
    aborted++;
  }
  await journal.remove();
  return aborted;
}

export function requestOf(journal: Journal): UploadRequest {
  const options = journal.header.options as Pick<UploadRequest, 'scan' | 'engine' | 'sync'>;
  return { sources: journal.header.sources, bucket: journal.header.bucket, prefix: journal.header.prefix, ...options };
}

async function execute(
  connection: Connection,
  journal: Journal,
  files: LocalFile[],
  problems: ScanProblem[],
  sync: SyncPlan | undefined,
  options: Omit<JobOptions, 'jobsDirectory'>,
): Promise<JobOutcome> {
  const request = requestOf(journal);
  const engine = request.engine ?? {};
  const target = await openTarget(connection, request.bucket, engine.maxConcurrency ?? 64);
  try {
    const result = await runUpload(files, request, engine, {
      s3: target.s3,
      writer: target.writer,
      journal,
      checksum: target.checksum,
      profile: connection.profileName,
      signal: options.signal,
      progress: options.progress,
      log: options.log,
    });
    if (result.manifest?.size) await writeManifest(target.writer, request, result.manifest);
    let deleted = 0;
    if (sync?.extra.length && request.sync?.deleteExtra && options.deleteConfirmed && !result.failed.length) {
      const outcome = await deleteKeys(target.s3, new Map([[request.bucket, sync.extra.map((o) => o.key)]]), { signal: options.signal });
      deleted = outcome.deleted;
      for (const f of outcome.failed) options.log?.(`could not delete s3://${f.bucket}/${f.key}: ${f.message}`);
    }
    if (!result.failed.length) await journal.remove();
    return { id: journal.header.id, journalFile: journal.file, result, problems, deleted };
  } finally {
    target.writer.destroy();
  }
}

/** The map of local paths to keys that hashed prefixes need, as JSON lines next to the data. */
async function writeManifest(writer: ObjectWriter, request: UploadRequest, manifest: Map<string, string>): Promise<void> {
  const body = Buffer.from([...manifest].map(([path, key]) => `${JSON.stringify({ path, key })}\n`).join(''));
  await writer.putObject({ bucket: request.bucket, key: `${request.prefix}research-cloud-manifest.jsonl`, body, headers: { 'content-type': 'application/x-ndjson' } });
}

export interface IncompleteUpload {
  readonly key: string;
  readonly uploadId: string;
  readonly initiated?: Date;
}

/** Multipart uploads started and never completed: invisible in listings, but billed. */
export async function listIncompleteUploads(s3: S3Client, bucket: string, prefix = ''): Promise<IncompleteUpload[]> {
  const uploads: IncompleteUpload[] = [];
  let keyMarker: string | undefined;
  let uploadIdMarker: string | undefined;
  do {
    const page = await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: prefix || undefined, KeyMarker: keyMarker, UploadIdMarker: uploadIdMarker }));
    for (const u of page.Uploads ?? []) if (u.Key && u.UploadId) uploads.push({ key: u.Key, uploadId: u.UploadId, initiated: u.Initiated });
    keyMarker = page.IsTruncated ? page.NextKeyMarker : undefined;
    uploadIdMarker = page.IsTruncated ? page.NextUploadIdMarker : undefined;
  } while (keyMarker);
  return uploads;
}

export async function abortIncompleteUploads(s3: S3Client, bucket: string, uploads: readonly IncompleteUpload[]): Promise<number> {
  let aborted = 0;
  for (const upload of uploads) {
    await abortMultipartUpload(s3, bucket, upload);
    aborted++;
  }
  return aborted;
}

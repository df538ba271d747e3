import { createReadStream } from 'node:fs';
import { appendFile, mkdir, open, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

/**
 * The checkpoint of an upload job: an append-only file of JSON lines. Appending is cheap for
 * ten million finished files, and a crash can only cut the last line, which replay ignores;
 * whatever that line said is sent again, which is safe (a PUT or UploadPart is idempotent).
 */
export interface JobHeader {
  readonly version: 1;
  readonly id: string;
  readonly created: string;
  readonly sources: readonly string[];
  readonly bucket: string;
  readonly prefix: string;
  /** The options the job was started with, so Resume uses the same ones. */
  readonly options: Record<string, unknown>;
}

export interface FinishedFile {
  readonly size: number;
  readonly mtimeMs: number;
  readonly etag: string;
}

export interface OpenUpload {
  readonly key: string;
  readonly uploadId: string;
  readonly partSize: number;
  readonly size: number;
  readonly mtimeMs: number;
  /** Finished parts by number: ETag, and MD5 (hex) and CRC32C to verify the whole. */
  readonly parts: Map<number, { etag: string; md5: string; crc32c?: number }>;
}

type JournalLine =
  | ({ e: 'header' } & JobHeader)
  | { e: 'done'; p: string; s: number; m: number; t: string }
  | { e: 'mpu'; p: string; k: string; u: string; ps: number; s: number; m: number }
  | { e: 'part'; p: string; n: number; t: string; md5: string; crc?: number }
  | { e: 'mpu-end'; p: string };

/** Where the checkpoint of job `id` lives. */
export function journalPath(directory: string, id: string): string {
  return join(directory, `${id}.jsonl`);
}

export class Journal {
  readonly finished = new Map<string, FinishedFile>();
  readonly openUploads = new Map<string, OpenUpload>();
  private pending: string[] = [];
  /** The file ends in a torn line (a crash mid-write): the next write starts a new line first. */
  private tornTail = false;
  private flushing?: Promise<void>;
  /** A failed background write, reported by the next flush the job awaits. */
  private writeError?: unknown;

  private constructor(
    readonly file: string,
    readonly header: JobHeader,
  ) {}

  static async create(directory: string, header: Omit<JobHeader, 'version' | 'created'>): Promise<Journal> {
    await mkdir(directory, { recursive: true });
    const full: JobHeader = { version: 1, created: new Date().toISOString(), ...header };
    const journal = new Journal(journalPath(directory, header.id), full);
    await appendFile(journal.file, `${JSON.stringify({ e: 'header', ...full })}\n`, { flag: 'wx' });
    return journal;
  }

  /** Replays a journal file; a torn last line (a crash mid-write) is ignored. */
  static async open(file: string): Promise<Journal> {
    let journal: Journal | undefined;
    const endsWithNewline = await lastByteIsNewline(file);
    const lines = createInterface({ input: createReadStream(file, 'utf8'), crlfDelay: Infinity });
    for await (const text of lines) {
      let line: JournalLine;
      try {
        line = JSON.parse(text) as JournalLine;
      } catch {
        continue;
      }
      if (line.e === 'header') {
        const { e: _e, ...header } = line;
        journal = new Journal(file, header);
      } else if (journal) {
        journal.apply(line);
      }
    }
    if (!journal) throw new Error(`${file} is not an upload checkpoint (it has no header).`);
    journal.tornTail = !endsWithNewline;
    return journal;
  }

  /** Every checkpoint in a directory, newest first, for "Resume" pickers and `research-cloud jobs`. */
  static async list(directory: string): Promise<Journal[]> {
    const names = await readdir(directory).catch(() => [] as string[]);
    const journals = await Promise.all(names.filter((n) => n.endsWith('.jsonl')).map((n) => Journal.open(join(directory, n)).catch(() => undefined)));
    return journals.filter((j): j is Journal => !!j).sort((a, b) => b.header.created.localeCompare(a.header.created));
  }

  fileDone(path: string, file: FinishedFile): void {
    this.record({ e: 'done', p: path, s: file.size, m: file.mtimeMs, t: file.etag });
  }

  /** Written and flushed before any part is sent, so an upload id is never lost to a crash. */
  async uploadStarted(path: string, upload: Omit<OpenUpload, 'parts'>): Promise<void> {
    this.record({ e: 'mpu', p: path, k: upload.key, u: upload.uploadId, ps: upload.partSize, s: upload.size, m: upload.mtimeMs });
    await this.flush();
  }

  partDone(path: string, partNumber: number, part: { etag: string; md5: string; crc32c?: number }): void {
    this.record({ e: 'part', p: path, n: partNumber, t: part.etag, md5: part.md5, ...(part.crc32c !== undefined && { crc: part.crc32c }) });
  }

  /** The multipart upload was completed or aborted: nothing of it is open any more. */
  uploadEnded(path: string): void {
    this.record({ e: 'mpu-end', p: path });
  }

  /** Writes what is pending; appends are batched so a million small files are not a million writes. */
  async flush(): Promise<void> {
    while (this.flushing) await this.flushing.catch(() => undefined);
    if (this.writeError) throw this.writeError;
    if (!this.pending.length) return;
    const text = (this.tornTail ? '\n' : '') + this.pending.join('');
    this.pending = [];
    this.tornTail = false;
    this.flushing = appendFile(this.file, text).finally(() => (this.flushing = undefined));
    await this.flushing;
  }

  async remove(): Promise<void> {
    await this.flush();
    await rm(this.file, { force: true });
  }

  private record(line: Exclude<JournalLine, { e: 'header' }>): void {
    this.apply(line);
    this.pending.push(`${JSON.stringify(line)}\n`);
    if (this.pending.length >= 256) this.flush().catch((err: unknown) => (this.writeError ??= err));
  }

  private apply(line: Exclude<JournalLine, { e: 'header' }>): void {
    switch (line.e) {
      case 'done':
        this.finished.set(line.p, { size: line.s, mtimeMs: line.m, etag: line.t });
        this.openUploads.delete(line.p);
        break;
      case 'mpu':
        this.openUploads.set(line.p, { key: line.k, uploadId: line.u, partSize: line.ps, size: line.s, mtimeMs: line.m, parts: new Map() });
        break;
      case 'part':
        this.openUploads.get(line.p)?.parts.set(line.n, { etag: line.t, md5: line.md5, crc32c: line.crc });
        break;
      case 'mpu-end':
        this.openUploads.delete(line.p);
        break;
    }
  }
}

async function lastByteIsNewline(file: string): Promise<boolean> {
  const handle = await open(file, 'r');
  try {
    const { size } = await handle.stat();
    if (size === 0) return true;
    const last = Buffer.alloc(1);
    await handle.read(last, 0, 1, size - 1);
    return last[0] === 0x0a;
  } finally {
    await handle.close();
  }
}

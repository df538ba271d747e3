import picomatch from 'picomatch';
import type { Dirent } from 'node:fs';
import { lstat, opendir, realpath, stat } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { runPool } from '../core/pool';
import { throwIfAborted } from '../core/progress';

/** Entries of one folder stat'ed at once (the libuv pool runs four at a time; more keeps it fed). */
const STATS_AT_ONCE = 32;

/** One regular file found under the folder being uploaded. */
export interface LocalFile {
  /** Absolute path on disk. */
  readonly path: string;
  /** Path relative to the scanned root, with '/' separators: the object key suffix. */
  readonly relativePath: string;
  readonly size: number;
  readonly mtimeMs: number;
}

/** A path that could not be read or was passed over, with why, for the job's report. */
export interface ScanProblem {
  readonly path: string;
  readonly reason: string;
}

export interface ScanOptions {
  /** Follow symbolic links to files and folders (loops are detected and reported). */
  readonly followSymlinks?: boolean;
  /**
   * Globs of what to leave out, matched against the path inside each uploaded folder
   * (`.git/**`, `**\/*.tmp`, `raw/*.bam`).
   */
  readonly exclude?: readonly string[];
  readonly signal?: AbortSignal;
}

export interface ScanResult {
  readonly files: LocalFile[];
  readonly problems: ScanProblem[];
}

/**
 * Walks the given files and folders. A file given directly is uploaded under its own name; a
 * folder keeps its structure under its own name. Unreadable folders, skipped links, loops and
 * special files land in `problems` and the walk goes on: one bad entry must not stop ten
 * million good ones. (An unreadable file is found when the upload reads it, and reported then.)
 */
export async function scanSources(sources: readonly string[], options: ScanOptions = {}): Promise<ScanResult> {
  const files: LocalFile[] = [];
  const problems: ScanProblem[] = [];
  const excluded = options.exclude?.length ? picomatch([...options.exclude], { dot: true }) : () => false;
  for (const source of sources) {
    const info = await stat(source).catch((err: NodeJS.ErrnoException) => {
      problems.push({ path: source, reason: describeFsError(err) });
      return undefined;
    });
    if (!info) continue;
    const parent = join(source, '..');
    if (info.isFile()) {
      files.push({ path: source, relativePath: toKeyPath(relative(parent, source)), size: info.size, mtimeMs: info.mtimeMs });
    } else if (info.isDirectory()) {
      const ancestors = new Set([await realpath(source)]);
      await walk(source, parent, ancestors, { files, problems, excluded, options, folder: source });
    }
  }
  return { files, problems };
}

interface WalkState {
  readonly files: LocalFile[];
  readonly problems: ScanProblem[];
  readonly excluded: (path: string) => boolean;
  readonly options: ScanOptions;
  /** The uploaded folder, which exclude globs are relative to. */
  readonly folder: string;
}

async function walk(dir: string, root: string, ancestors: Set<string>, state: WalkState): Promise<void> {
  throwIfAborted(state.options.signal);
  let handle;
  try {
    handle = await opendir(dir);
  } catch (err) {
    state.problems.push({ path: dir, reason: describeFsError(err as NodeJS.ErrnoException) });
    return;
  }
  const entries: Array<{ entry: Dirent; path: string; relativePath: string }> = [];
  for await (const entry of handle) {
    const path = join(dir, entry.name);
    const inside = toKeyPath(relative(state.folder, path));
    if (state.excluded(inside) || (entry.isDirectory() && state.excluded(`${inside}/`))) continue;
    if (entry.isSymbolicLink() && !state.options.followSymlinks) {
      state.problems.push({ path, reason: 'symbolic link skipped (the setting to follow links is off)' });
      continue;
    }
    entries.push({ entry, path, relativePath: toKeyPath(relative(root, path)) });
  }
  // A folder's entries are stat'ed together: one at a time, a folder of 20,000 images took
  // 0.6 s; the file system answers many at once.
  const infos = await runPool(entries, STATS_AT_ONCE, ({ entry, path }) => (entry.isSymbolicLink() ? stat(path) : lstat(path)), { signal: state.options.signal });
  for (const [i, { path, relativePath }] of entries.entries()) {
    const outcome = infos[i]!;
    if (outcome.status === 'rejected') {
      state.problems.push({ path, reason: describeFsError(outcome.reason as NodeJS.ErrnoException) });
      continue;
    }
    const info = outcome.value;
    if (info.isFile()) {
      state.files.push({ path, relativePath, size: info.size, mtimeMs: info.mtimeMs });
    } else if (info.isDirectory()) {
      // A followed link back to a folder we are inside would recurse forever.
      const real = await realpath(path);
      if (ancestors.has(real)) {
        state.problems.push({ path, reason: `link loop: it leads back to ${real}` });
        continue;
      }
      ancestors.add(real);
      await walk(path, root, ancestors, state);
      ancestors.delete(real);
    } else {
      state.problems.push({ path, reason: 'not a regular file (socket, device or pipe) — skipped' });
    }
  }
}

/** Object keys use '/', whatever the local separator. */
function toKeyPath(path: string): string {
  return sep === '/' ? path : path.split(sep).join('/');
}

export function describeFsError(err: NodeJS.ErrnoException): string {
  switch (err.code) {
    case 'EACCES':
    case 'EPERM':
      return 'permission denied: it cannot be read';
    case 'ENOENT':
      return 'it no longer exists (deleted or moved during the scan)';
    case 'ELOOP':
      return 'too many levels of symbolic links';
    default:
      return err.message;
  }
}

import picomatch from 'picomatch';
import { lstatSync, opendirSync, realpathSync, statSync, type Stats } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { describeFsError, type LocalFile, type ScanOptions, type ScanProblem, type ScanResult } from './scan';

/**
 * The walk behind scanSources, with blocking calls: it runs in a worker thread (scanWorker.ts),
 * where a blocking lstat costs a tenth of a promise-based one on the event loop. Unreadable
 * folders, skipped links, loops and special files land in `problems` and the walk goes on:
 * one bad entry must not stop ten million good ones.
 */
export function walkSources(sources: readonly string[], options: Pick<ScanOptions, 'followSymlinks' | 'exclude'>): ScanResult {
  const files: LocalFile[] = [];
  const problems: ScanProblem[] = [];
  const excluded = options.exclude?.length ? picomatch([...options.exclude], { dot: true }) : () => false;
  for (const source of sources) {
    const info = statOrProblem(source, statSync, problems);
    if (!info) continue;
    const parent = join(source, '..');
    if (info.isFile()) {
      files.push({ path: source, relativePath: toKeyPath(relative(parent, source)), size: info.size, mtimeMs: info.mtimeMs });
    } else if (info.isDirectory()) {
      const real = realpathOrProblem(source, problems);
      if (!real) continue;
      const ancestors = new Set([real]);
      const name = toKeyPath(relative(parent, source));
      walk(source, { key: name, inside: '' }, ancestors, { files, problems, excluded, followSymlinks: !!options.followSymlinks });
    }
  }
  return { files, problems };
}

interface WalkState {
  readonly files: LocalFile[];
  readonly problems: ScanProblem[];
  readonly excluded: (path: string) => boolean;
  readonly followSymlinks: boolean;
}

/**
 * A folder's path as a key suffix (under the uploaded folder's name) and inside the uploaded
 * folder (what exclude globs match). Built by appending names: path.relative() for each of
 * millions of entries cost more than the lstat.
 */
interface Place {
  readonly key: string;
  readonly inside: string;
}

function walk(dir: string, place: Place, ancestors: Set<string>, state: WalkState): void {
  let handle;
  try {
    handle = opendirSync(dir);
  } catch (err) {
    state.problems.push({ path: dir, reason: describeFsError(err as NodeJS.ErrnoException) });
    return;
  }
  try {
    for (let entry = handle.readSync(); entry; entry = handle.readSync()) {
      const path = join(dir, entry.name);
      const inside = place.inside ? `${place.inside}/${entry.name}` : entry.name;
      if (state.excluded(inside) || (entry.isDirectory() && state.excluded(`${inside}/`))) continue;
      if (entry.isSymbolicLink() && !state.followSymlinks) {
        state.problems.push({ path, reason: 'symbolic link skipped (the setting to follow links is off)' });
        continue;
      }
      const info = statOrProblem(path, entry.isSymbolicLink() ? statSync : lstatSync, state.problems);
      if (!info) continue;
      if (info.isFile()) {
        state.files.push({ path, relativePath: `${place.key}/${entry.name}`, size: info.size, mtimeMs: info.mtimeMs });
      } else if (info.isDirectory()) {
        // A followed link back to a folder we are inside would recurse forever.
        const real = realpathOrProblem(path, state.problems);
        if (!real) continue;
        if (ancestors.has(real)) {
          state.problems.push({ path, reason: `link loop: it leads back to ${real}` });
          continue;
        }
        ancestors.add(real);
        walk(path, { key: `${place.key}/${entry.name}`, inside }, ancestors, state);
        ancestors.delete(real);
      } else {
        state.problems.push({ path, reason: 'not a regular file (socket, device or pipe) — skipped' });
      }
    }
  } catch (err) {
    // A folder that fails part-way (removed, or an I/O error): what was found is kept.
    state.problems.push({ path: dir, reason: describeFsError(err as NodeJS.ErrnoException) });
  } finally {
    handle.closeSync();
  }
}

function realpathOrProblem(path: string, problems: ScanProblem[]): string | undefined {
  try {
    return realpathSync(path);
  } catch (err) {
    problems.push({ path, reason: describeFsError(err as NodeJS.ErrnoException) });
    return undefined;
  }
}

function statOrProblem(path: string, statFn: (path: string) => Stats, problems: ScanProblem[]): Stats | undefined {
  try {
    return statFn(path);
  } catch (err) {
    problems.push({ path, reason: describeFsError(err as NodeJS.ErrnoException) });
    return undefined;
  }
}

/** Object keys use '/', whatever the local separator. */
function toKeyPath(path: string): string {
  return sep === '/' ? path : path.split(sep).join('/');
}

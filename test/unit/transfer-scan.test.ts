import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, stat, symlink, utimes, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { describeFsError, scanSources, type LocalFile } from '../../src/transfer/scan';

let root: string;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'research-cloud-scan-'));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

/** Creates files (path → content) under `base`, with their folders. */
async function tree(base: string, files: Record<string, string>): Promise<void> {
  for (const [path, content] of Object.entries(files)) {
    await mkdir(join(base, path, '..'), { recursive: true });
    await writeFile(join(base, path), content);
  }
}

function byRelativePath(files: LocalFile[]): Record<string, number> {
  return Object.fromEntries(files.map((f) => [f.relativePath, f.size]).sort(([a], [b]) => String(a).localeCompare(String(b))));
}

describe('scanSources', () => {
  test('a folder keeps its structure under its own name: nested folders, empty files, unicode names', async () => {
    const src = join(root, 'run1');
    await tree(src, {
      'a.txt': 'hello',
      'empty.dat': '',
      'deep/er/still/x.csv': '1,2,3\n',
      'données/résumé ü.txt': 'ü',
      '日本語/ファイル.bin': 'abc',
    });
    await mkdir(join(src, 'empty-folder'));
    const { files, problems } = await scanSources([src]);
    assert.deepEqual(problems, []);
    assert.deepEqual(byRelativePath(files), {
      'run1/a.txt': 5,
      'run1/deep/er/still/x.csv': 6,
      'run1/données/résumé ü.txt': 2,
      'run1/empty.dat': 0,
      'run1/日本語/ファイル.bin': 3,
    });
    const deep = files.find((f) => f.relativePath === 'run1/deep/er/still/x.csv')!;
    assert.equal(deep.path, join(src, 'deep/er/still/x.csv'));
    assert.equal(deep.mtimeMs, (await stat(deep.path)).mtimeMs);
  });

  test('mtime is the file\'s, to the millisecond', async () => {
    await tree(root, { 'f.txt': 'x' });
    const when = new Date('2024-05-06T07:08:09.123Z');
    await utimes(join(root, 'f.txt'), when, when);
    const { files } = await scanSources([join(root, 'f.txt')]);
    assert.equal(Math.round(files[0].mtimeMs), when.getTime());
  });

  test('a single file source keeps its own name', async () => {
    await tree(root, { 'deep/inside/report.pdf': 'pdf' });
    const { files } = await scanSources([join(root, 'deep/inside/report.pdf')]);
    assert.deepEqual(files, [{ path: join(root, 'deep/inside/report.pdf'), relativePath: 'report.pdf', size: 3, mtimeMs: files[0].mtimeMs }]);
  });

  test('several sources: each under its own name', async () => {
    await tree(root, { 'a/1.txt': '1', 'b/2.txt': '22', 'c.txt': '333' });
    const { files } = await scanSources([join(root, 'a'), join(root, 'b'), join(root, 'c.txt')]);
    assert.deepEqual(byRelativePath(files), { 'a/1.txt': 1, 'b/2.txt': 2, 'c.txt': 3 });
  });

  test('a source with a trailing slash is still named after the folder', async () => {
    await tree(root, { 'run/x.txt': 'x' });
    const { files } = await scanSources([`${join(root, 'run')}/`]);
    assert.deepEqual(byRelativePath(files), { 'run/x.txt': 1 });
  });

  test('excludes: **/*.tmp anywhere, .git/** and everything under it', async () => {
    const src = join(root, 'proj');
    await tree(src, {
      'keep.txt': 'k',
      'scratch.tmp': 't',
      'sub/also.tmp': 't',
      'sub/keep.tmp.txt': 'k',
      '.git/HEAD': 'ref',
      '.git/objects/ab/cdef': 'obj',
      '.gitignore': '*.tmp',
      'sub/.git/config': 'nested repo',
    });
    const { files, problems } = await scanSources([src], { exclude: ['**/*.tmp', 'proj/.git/**', '**/.git/**'] });
    assert.deepEqual(problems, []);
    assert.deepEqual(Object.keys(byRelativePath(files)), ['proj/.gitignore', 'proj/keep.txt', 'proj/sub/keep.tmp.txt']);
  });

  test('exclude globs match the path inside the uploaded folder, not one starting with its name', async () => {
    const src = join(root, 'proj');
    await tree(src, { '.git/HEAD': 'ref', 'a.txt': 'a' });
    const anywhere = await scanSources([src], { exclude: ['**/.git/**'] });
    assert.deepEqual(Object.keys(byRelativePath(anywhere.files)), ['proj/a.txt']);
    const withFolderName = await scanSources([src], { exclude: ['proj/.git/**'] });
    assert.deepEqual(Object.keys(byRelativePath(withFolderName.files)).sort(), ['proj/.git/HEAD', 'proj/a.txt']);
  });

  test(
    'the documented example `.git/**` leaves out the .git folder of the folder being uploaded',
    async () => {
      const src = join(root, 'proj');
      await tree(src, { '.git/HEAD': 'ref', 'a.txt': 'a' });
      const { files } = await scanSources([src], { exclude: ['.git/**'] });
      assert.deepEqual(Object.keys(byRelativePath(files)), ['proj/a.txt']);
    },
  );

  test('an excluded folder is not walked at all', async () => {
    const src = join(root, 'proj');
    await tree(src, { 'node_modules/x/index.js': 'x', 'a.txt': 'a' });
    // Make the excluded folder unwalkable: a loop inside it would be reported if it were walked.
    await symlink(join(src, 'node_modules'), join(src, 'node_modules/x/loop'));
    const { files, problems } = await scanSources([src], { exclude: ['**/node_modules/**'], followSymlinks: true });
    assert.deepEqual(Object.keys(byRelativePath(files)), ['proj/a.txt']);
    assert.deepEqual(problems, []);
  });

  test('symbolic links are skipped by default and reported', async () => {
    const src = join(root, 'src');
    await tree(root, { 'outside/target.txt': 'target', 'outside/dir/inner.txt': 'inner', 'src/real.txt': 'real' });
    await symlink(join(root, 'outside/target.txt'), join(src, 'file-link'));
    await symlink(join(root, 'outside/dir'), join(src, 'dir-link'));
    const { files, problems } = await scanSources([src]);
    assert.deepEqual(Object.keys(byRelativePath(files)), ['src/real.txt']);
    assert.deepEqual(problems.map((p) => p.path).sort(), [join(src, 'dir-link'), join(src, 'file-link')]);
    for (const p of problems) assert.match(p.reason, /symbolic link skipped/);
  });

  test('with followSymlinks, links to files and folders are followed under the link\'s name', async () => {
    const src = join(root, 'src');
    await tree(root, { 'outside/target.txt': 'target', 'outside/dir/inner.txt': 'inner', 'src/real.txt': 'real' });
    await symlink(join(root, 'outside/target.txt'), join(src, 'file-link'));
    await symlink(join(root, 'outside/dir'), join(src, 'dir-link'));
    const { files, problems } = await scanSources([src], { followSymlinks: true });
    assert.deepEqual(problems, []);
    assert.deepEqual(byRelativePath(files), { 'src/dir-link/inner.txt': 5, 'src/file-link': 6, 'src/real.txt': 4 });
    // The size is the target's, not the link's.
    assert.equal(files.find((f) => f.relativePath === 'src/file-link')!.path, join(src, 'file-link'));
  });

  test('a symlink loop is detected and reported, without endless recursion', async () => {
    const src = join(root, 'src');
    await tree(src, { 'a/b/file.txt': 'x' });
    await symlink(src, join(src, 'a/b/up-to-root'));
    await symlink(join(src, 'a'), join(src, 'a/b/up-to-a'));
    const { files, problems } = await scanSources([src], { followSymlinks: true });
    assert.deepEqual(Object.keys(byRelativePath(files)), ['src/a/b/file.txt']);
    assert.deepEqual(problems.map((p) => p.path).sort(), [join(src, 'a/b/up-to-a'), join(src, 'a/b/up-to-root')]);
    for (const p of problems) assert.match(p.reason, /link loop/);
  });

  test('two links to the same folder (not a loop) are both followed', async () => {
    const src = join(root, 'src');
    await tree(root, { 'shared/data.txt': 'd' });
    await mkdir(src);
    await symlink(join(root, 'shared'), join(src, 'one'));
    await symlink(join(root, 'shared'), join(src, 'two'));
    const { files, problems } = await scanSources([src], { followSymlinks: true });
    assert.deepEqual(problems, []);
    assert.deepEqual(Object.keys(byRelativePath(files)), ['src/one/data.txt', 'src/two/data.txt']);
  });

  test('a dangling symlink is reported when followed, and the walk goes on', async () => {
    const src = join(root, 'src');
    await tree(src, { 'ok.txt': 'ok' });
    await symlink(join(root, 'missing'), join(src, 'dangling'));
    const { files, problems } = await scanSources([src], { followSymlinks: true });
    assert.deepEqual(Object.keys(byRelativePath(files)), ['src/ok.txt']);
    assert.equal(problems.length, 1);
    assert.equal(problems[0].path, join(src, 'dangling'));
    assert.match(problems[0].reason, /no longer exists/);
  });

  test('a fifo and a socket are skipped as not regular files', async () => {
    const src = join(root, 'src');
    await tree(src, { 'ok.txt': 'ok' });
    execFileSync('mkfifo', [join(src, 'pipe')]);
    const server: Server = createServer();
    await new Promise<void>((resolve) => server.listen(join(src, 'sock'), resolve));
    try {
      const { files, problems } = await scanSources([src]);
      assert.deepEqual(Object.keys(byRelativePath(files)), ['src/ok.txt']);
      assert.deepEqual(problems.map((p) => p.path).sort(), [join(src, 'pipe'), join(src, 'sock')]);
      for (const p of problems) assert.match(p.reason, /not a regular file/);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  test('a source that does not exist is a problem, and the other sources are still scanned', async () => {
    await tree(root, { 'there.txt': 'x' });
    const missing = join(root, 'not-there');
    const { files, problems } = await scanSources([missing, join(root, 'there.txt')]);
    assert.deepEqual(Object.keys(byRelativePath(files)), ['there.txt']);
    assert.deepEqual(problems, [{ path: missing, reason: 'it no longer exists (deleted or moved during the scan)' }]);
  });

  // Permission errors: these tests may run as root, for whom chmod 000 changes nothing (root
  // reads any file and lists any folder), so an unreadable entry cannot be made on disk here.
  // When not root, a real unreadable folder is tested; either way describeFsError's mapping is.
  test('an unreadable folder is a problem and the walk goes on (skipped as root)', { skip: process.getuid?.() === 0 ? 'running as root: chmod 000 does not stop root' : false }, async () => {
    const { chmod } = await import('node:fs/promises');
    const src = join(root, 'src');
    await tree(src, { 'locked/secret.txt': 's', 'open.txt': 'o' });
    await chmod(join(src, 'locked'), 0o000);
    try {
      const { files, problems } = await scanSources([src]);
      assert.deepEqual(Object.keys(byRelativePath(files)), ['src/open.txt']);
      assert.deepEqual(problems, [{ path: join(src, 'locked'), reason: 'permission denied: it cannot be read' }]);
    } finally {
      await chmod(join(src, 'locked'), 0o755);
    }
  });

  test('an unreadable FILE is listed, not a problem: the scan only stats it (skipped as root)', { skip: process.getuid?.() === 0 ? 'running as root: chmod 000 does not stop root' : false }, async () => {
    // Worth knowing: scanSources' comment says unreadable entries land in `problems`, which holds
    // for folders; a file's readability is found out only when the upload reads it.
    const { chmod } = await import('node:fs/promises');
    const src = join(root, 'src');
    await tree(src, { 'secret.txt': 's' });
    await chmod(join(src, 'secret.txt'), 0o000);
    const { files, problems } = await scanSources([src]);
    assert.deepEqual(Object.keys(byRelativePath(files)), ['src/secret.txt']);
    assert.deepEqual(problems, []);
  });

  test('describeFsError says what each common error means', () => {
    const error = (code: string, message = `${code}: something`) => Object.assign(new Error(message), { code }) as NodeJS.ErrnoException;
    assert.equal(describeFsError(error('EACCES')), 'permission denied: it cannot be read');
    assert.equal(describeFsError(error('EPERM')), 'permission denied: it cannot be read');
    assert.equal(describeFsError(error('ENOENT')), 'it no longer exists (deleted or moved during the scan)');
    assert.equal(describeFsError(error('ELOOP')), 'too many levels of symbolic links');
    assert.equal(describeFsError(error('EIO', 'EIO: i/o error, read')), 'EIO: i/o error, read');
  });

  test('a cancelled scan rejects', async () => {
    await tree(root, { 'a/b.txt': 'x' });
    await assert.rejects(scanSources([join(root, 'a')], { signal: AbortSignal.abort() }));
  });
});

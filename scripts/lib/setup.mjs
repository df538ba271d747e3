// Set-up shared by `npm test` and `npm run demo`: both must work from a fresh clone with nothing
// installed, so they install npm packages and the Debian packages they need themselves. Plain
// Node with no dependencies, since it runs before `npm ci`.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';

export const repoRoot = new URL('../..', import.meta.url).pathname.replace(/\/$/, '');

/** Debian packages, each with a file that shows it is installed. */
export const DEBIAN = {
  chromium: '/usr/bin/chromium',
  ripgrep: '/usr/bin/rg',
  'libkrb5-dev': '/usr/include/krb5.h',
  'ceph-mon': '/usr/bin/ceph-mon',
  'ceph-osd': '/usr/bin/ceph-osd',
  'ceph-common': '/usr/bin/radosgw-admin',
  radosgw: '/usr/bin/radosgw',
  // Peers for the benchmarks, not the tests.
  awscli: '/usr/bin/aws',
  rclone: '/usr/bin/rclone',
};

/** Installs the npm packages when node_modules is missing or older than the lock file. */
export function ensureNpmPackages() {
  const marker = join(repoRoot, 'node_modules', '.package-lock.json');
  const lock = join(repoRoot, 'package-lock.json');
  if (existsSync(marker) && statSync(marker).mtimeMs >= statSync(lock).mtimeMs) return;
  console.log('Installing npm packages (npm ci)…');
  run('npm', ['ci', '--no-audit', '--no-fund']);
}

/**
 * Installs the named Debian packages that are missing. As root it runs apt-get; otherwise it
 * stops with the exact command to run, since installing system packages needs root.
 */
export function ensureDebianPackages(names) {
  const missing = names.filter((name) => !existsSync(DEBIAN[name]));
  if (!missing.length) return;
  const line = `apt-get install -y --no-install-recommends ${missing.join(' ')}`;
  if (process.getuid?.() !== 0) {
    console.error(`These Debian packages are needed: ${missing.join(', ')}. Install them as root, then run this again:\n  sudo apt-get update && sudo ${line}`);
    process.exit(1);
  }
  console.log(`Installing Debian packages: ${missing.join(' ')}…`);
  run('apt-get', ['update', '-qq']);
  run('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...missing], { DEBIAN_FRONTEND: 'noninteractive' });
}

export function run(command, args, env = {}) {
  const result = spawnSync(command, args, { cwd: repoRoot, stdio: 'inherit', env: { ...process.env, ...env } });
  if (result.status !== 0) {
    throw new Error(`${command} ${args.join(' ')} failed with ${result.status ?? result.signal}`);
  }
}

/** Builds dist/ and the .vsix; returns the .vsix path. */
export function buildVsix() {
  const output = execFileSync(process.execPath, [join(repoRoot, 'scripts', 'package.mjs')], { cwd: repoRoot, encoding: 'utf8' });
  const match = /^(\S+\.vsix): .*$/m.exec(output);
  if (!match) throw new Error(`Packaging did not name a .vsix:\n${output}`);
  console.log(match[0]);
  return join(repoRoot, match[1]);
}

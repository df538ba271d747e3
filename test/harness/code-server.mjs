// Harness for a real VS Code: installs code-server from npm, runs it with our extension in a
// throwaway profile, and drives its web workbench in Debian's headless Chromium.
// Shared by the end-to-end tests and `npm run demo`. See /work/shared/TESTING.md for the facts
// this relies on (install quirks, flags, selectors that held in VS Code 1.100.3).

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

/** @typedef {(line: string) => void} Log */
/** @typedef {import('playwright-core').Page} Page */
/** @typedef {import('playwright-core').Locator} Locator */

// 4.100.3 (VS Code 1.100.3) is the newest code-server whose engines.node is 20.
export const CODE_SERVER_VERSION = '4.100.3';

const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
const TOOLS_DIR = path.join(REPO_ROOT, '.tools', 'code-server');
const PACKAGE_DIR = path.join(TOOLS_DIR, 'node_modules', 'code-server');
const BIN = path.join(TOOLS_DIR, 'node_modules', '.bin', 'code-server');
// Written only after npm succeeded, so an interrupted install is never mistaken for a good one.
const DONE_MARKER = path.join(TOOLS_DIR, '.installed');
const LOCK_DIR = path.join(REPO_ROOT, '.tools', 'code-server.lock');

// code-server 4.100.3 pins @vscode/ripgrep 1.15.11, whose postinstall downloads ripgrep
// v13.0.0-10 from GitHub (unreachable here) unless this file is already in its cache.
const RIPGREP_CACHE = 'vscode-ripgrep-cache-1.15.11';
const RIPGREP_ASSET = 'ripgrep-v13.0.0-10-x86_64-unknown-linux-musl.tar.gz';

// Files that only exist if the install scripts really ran: npm exits 0 when it skips them
// (ignore-scripts=true in a user npmrc, or an npm that enforces its allowScripts policy).
const INSTALL_PRODUCTS = [
  'lib/vscode/node_modules/@vscode/ripgrep/bin/rg',
  'lib/vscode/node_modules/node-pty/build/Release/pty.node',
  'lib/vscode/node_modules/kerberos/build/Release/kerberos.node',
  'lib/vscode/node_modules.asar',
];

const APT_PREREQUISITES = [
  { path: '/usr/bin/rg', pkg: 'ripgrep' },
  { path: '/usr/bin/krb5-config', pkg: 'libkrb5-dev' }, // kerberos builds from source
  { path: '/usr/bin/g++', pkg: 'g++' },
  { path: '/usr/bin/make', pkg: 'make' },
];

const READY_LINE = 'HTTP server listening on';
const LOCK_TIMEOUT_MS = 10 * 60_000;

const defaultLog = /** @type {Log} */ ((line) => process.stderr.write(`${line}\n`));
const quiet = /** @type {Log} */ (() => {});

// ---------------------------------------------------------------------------------------------
// Install

/** @type {Promise<string> | undefined} */
let ensuring;

/**
 * Installs code-server into <repo>/.tools/code-server unless that exact version is already
 * there, and returns the absolute path of its bin. Safe to call concurrently, in one process or
 * many.
 * @param {{ log?: Log }} [options]
 * @returns {Promise<string>}
 */
export async function ensureCodeServer({ log = defaultLog } = {}) {
  ensuring ??= ensureOnce(log).finally(() => { ensuring = undefined; });
  return ensuring;
}

/** @param {Log} log */
async function ensureOnce(log) {
  if (isInstalled()) return BIN;
  checkPrerequisites();
  await withLock(log, async () => {
    // Another process may have finished the install while we waited for the lock.
    if (isInstalled()) return;
    await install(log);
  });
  return BIN;
}

function isInstalled() {
  try {
    const pkg = JSON.parse(fs.readFileSync(path.join(PACKAGE_DIR, 'package.json'), 'utf8'));
    return pkg.version === CODE_SERVER_VERSION
      && fs.readFileSync(DONE_MARKER, 'utf8').trim() === CODE_SERVER_VERSION;
  } catch {
    return false;
  }
}

function checkPrerequisites() {
  if (os.platform() !== 'linux' || os.arch() !== 'x64') {
    throw new Error(`code-server harness supports linux-x64 only, not ${os.platform()}-${os.arch()}`);
  }
  const missing = APT_PREREQUISITES.filter((p) => !fs.existsSync(p.path)).map((p) => p.pkg);
  if (missing.length > 0) {
    throw new Error(
      `code-server cannot be installed: missing ${missing.join(', ')}. Run:\n`
      + `  apt-get install -y ${missing.join(' ')}`,
    );
  }
}

/**
 * Cross-process mutex: mkdir is atomic, and the owner's pid lets a crashed owner's lock be
 * taken over instead of blocking forever.
 * @param {Log} log
 * @param {() => Promise<void>} fn
 */
async function withLock(log, fn) {
  const deadline = Date.now() + LOCK_TIMEOUT_MS;
  await fsp.mkdir(path.dirname(LOCK_DIR), { recursive: true });
  let announced = false;
  for (;;) {
    try {
      await fsp.mkdir(LOCK_DIR);
      break;
    } catch (err) {
      if (/** @type {NodeJS.ErrnoException} */ (err).code !== 'EEXIST') throw err;
    }
    if (!isAlive(readLockOwner())) {
      await fsp.rm(LOCK_DIR, { recursive: true, force: true });
      continue;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for the install lock ${LOCK_DIR}`);
    if (!announced) log(`waiting for another process installing code-server (lock ${LOCK_DIR})`);
    announced = true;
    await sleep(1000);
  }
  try {
    await fsp.writeFile(path.join(LOCK_DIR, 'pid'), String(process.pid));
    await fn();
  } finally {
    await fsp.rm(LOCK_DIR, { recursive: true, force: true });
  }
}

/** @returns {number | undefined} */
function readLockOwner() {
  try {
    return Number(fs.readFileSync(path.join(LOCK_DIR, 'pid'), 'utf8'));
  } catch {
    // The owner has created the dir but not yet written its pid: treat it as alive.
    return process.pid;
  }
}

/** @param {number | undefined} pid */
function isAlive(pid) {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return /** @type {NodeJS.ErrnoException} */ (err).code === 'EPERM';
  }
}

/** @param {Log} log */
async function install(log) {
  const started = Date.now();
  await fsp.rm(TOOLS_DIR, { recursive: true, force: true });
  await fsp.mkdir(TOOLS_DIR, { recursive: true });
  // A package.json rather than `npm install --prefix`: npm exports --prefix to lifecycle
  // scripts as npm_config_prefix, and code-server's postinstall runs a nested `npm install` in
  // lib/vscode that would then install into the wrong directory.
  await fsp.writeFile(path.join(TOOLS_DIR, 'package.json'), `${JSON.stringify({
    name: 'code-server-tool',
    private: true,
    dependencies: { 'code-server': CODE_SERVER_VERSION },
  }, null, 2)}\n`);
  const tmpDir = path.join(TOOLS_DIR, '.tmp');
  await seedRipgrepCache(tmpDir);

  log(`installing code-server@${CODE_SERVER_VERSION} into ${TOOLS_DIR} (about 90 s)`);
  // Without --foreground-scripts npm shows install-script output only when one fails; with it
  // the native builds run one after another and the install takes twice as long.
  const code = await run('npm', ['install', '--no-audit', '--no-fund'], {
    cwd: TOOLS_DIR,
    env: { ...process.env, ...npmInstallEnv(tmpDir) },
    log: (line) => log(`[npm] ${line}`),
  });
  if (code !== 0) throw new Error(`npm install code-server@${CODE_SERVER_VERSION} failed (exit ${code}); see the [npm] log above`);

  const missing = INSTALL_PRODUCTS.filter((f) => !fs.existsSync(path.join(PACKAGE_DIR, f)));
  if (missing.length > 0) {
    throw new Error(`code-server install is incomplete (install scripts skipped?): missing ${missing.join(', ')}`);
  }
  await fsp.rm(tmpDir, { recursive: true, force: true });
  await fsp.writeFile(DONE_MARKER, `${CODE_SERVER_VERSION}\n`);
  log(`installed code-server@${CODE_SERVER_VERSION} in ${Math.round((Date.now() - started) / 1000)} s`);
}

/**
 * Environment for installing code-server's pinned, shrinkwrapped tree as root without internet.
 * These are inherited by the nested `npm install`s its postinstall runs.
 * @param {string} tmpDir
 */
function npmInstallEnv(tmpDir) {
  return {
    // code-server's postinstall refuses to run as root without it.
    npm_config_unsafe_perm: 'true',
    // node-pty's install runs `npx node-gyp`; a user npmrc with `yes=false` makes that fail.
    npm_config_yes: 'true',
    // npm 11's allowScripts policy: npm 11.19 runs unlisted dependency scripts with a warning,
    // but its docs announce blocking them, which would silently skip every native build. An
    // --allow-scripts list cannot be used instead: it is rejected (EALLOWSCRIPTS) by the nested
    // project-scoped installs in lib/vscode that inherit it. The tree is pinned by shrinkwraps.
    npm_config_dangerously_allow_all_scripts: 'true',
    // Holds the seeded ripgrep cache, and keeps build leftovers out of the shared /tmp.
    TMPDIR: tmpDir,
  };
}

/**
 * @vscode/ripgrep's postinstall runs `tar xvf ASSET -C bin/` and expects `bin/rg`, so the
 * tarball holds Debian's rg at its top level, with no directory.
 * @param {string} tmpDir
 */
async function seedRipgrepCache(tmpDir) {
  const cacheDir = path.join(tmpDir, RIPGREP_CACHE);
  await fsp.mkdir(cacheDir, { recursive: true });
  const code = await run('tar', ['-czf', path.join(cacheDir, RIPGREP_ASSET), '-C', '/usr/bin', 'rg'], { log: quiet });
  if (code !== 0) throw new Error(`could not pack /usr/bin/rg into the ripgrep cache (tar exit ${code})`);
}

// ---------------------------------------------------------------------------------------------
// Run

/**
 * @typedef {object} CodeServer
 * @property {string} url workbench URL that opens `folder`
 * @property {number} port
 * @property {number} pid code-server's main process (leader of its process group)
 * @property {string} userDataDir
 * @property {string} extensionsDir
 * @property {() => number[]} processes live pids of this run (for leak checks)
 * @property {() => Promise<void>} stop kills every process of this run and deletes its dirs; idempotent
 */

/**
 * Starts code-server on `folder` in a throwaway profile.
 * @param {object} options
 * @param {string} options.folder folder to open
 * @param {Record<string, string>} [options.env] merged over process.env; reaches the extension host
 * @param {string} [options.vsix] extension package to install first
 * @param {Record<string, unknown>} [options.settings] merged over the harness's user settings
 * @param {number} [options.port] default: a free port
 * @param {Log} [options.log] receives code-server's (and an install's) output, line by line
 * @returns {Promise<CodeServer>}
 */
export async function startCodeServer({ folder, env = {}, vsix, settings = {}, port, log }) {
  // An install, if needed, reports progress on stderr even when the caller wants quiet.
  const bin = await ensureCodeServer({ log });
  log ??= quiet;
  const runDir = await fsp.mkdtemp(path.join(os.tmpdir(), 'code-server-run-'));
  const dirs = await makeProfile(runDir, settings);
  const processEnv = serverEnv(runDir, env);
  const profileArgs = ['--config', '/dev/null', '--user-data-dir', dirs.userData, '--extensions-dir', dirs.extensions];
  const cleanupDir = () => fs.rmSync(runDir, { recursive: true, force: true });
  try {
    if (vsix) await installVsix(bin, profileArgs, path.resolve(vsix), processEnv, log);
    port ??= await freePort();
  } catch (err) {
    cleanupDir();
    throw err;
  }

  const child = spawn(bin, [
    ...profileArgs,
    '--bind-addr', `127.0.0.1:${port}`,
    '--auth', 'none',
    '--disable-telemetry',
    '--disable-update-check',
    '--disable-workspace-trust',
    path.resolve(folder),
  ], { env: processEnv, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  const pid = /** @type {number} */ (child.pid);
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const processes = () => runProcesses(runDir);

  const stop = once(async () => {
    untrack(killNow);
    await killTree(processes, exited);
    cleanupDir();
  });
  // Synchronous variant for process exit, when no more awaiting is possible.
  const killNow = () => {
    for (const p of processes()) signal(p, 'SIGKILL');
    cleanupDir();
  };
  track(killNow);

  try {
    await waitForReady(child, log);
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    url: `http://127.0.0.1:${port}/?folder=${encodeURIComponent(path.resolve(folder)).replace(/%2F/g, '/')}`,
    port,
    pid,
    userDataDir: dirs.userData,
    extensionsDir: dirs.extensions,
    processes,
    stop,
  };
}

/**
 * @param {string} runDir
 * @param {Record<string, unknown>} settings
 */
async function makeProfile(runDir, settings) {
  const dirs = {
    userData: path.join(runDir, 'user-data'),
    extensions: path.join(runDir, 'extensions'),
  };
  for (const sub of ['user-data/User', 'extensions', 'xdg/config', 'xdg/data', 'xdg/cache']) {
    await fsp.mkdir(path.join(runDir, sub), { recursive: true });
  }
  const merged = { ...QUIET_SETTINGS, ...settings };
  await fsp.writeFile(path.join(dirs.userData, 'User', 'settings.json'), `${JSON.stringify(merged, null, 2)}\n`);
  return dirs;
}

// Keep the workbench free of first-run UI that would cover what tests look at.
const QUIET_SETTINGS = {
  'workbench.startupEditor': 'none',
  'workbench.welcomePage.walkthroughs.openOnInstall': false,
  'workbench.tips.enabled': false,
  'security.workspace.trust.enabled': false,
  'security.workspace.trust.startupPrompt': 'never',
  'telemetry.telemetryLevel': 'off',
  'update.mode': 'none',
  'extensions.autoCheckUpdates': false,
  'extensions.autoUpdate': false,
  'extensions.ignoreRecommendations': true,
  'workbench.enableExperiments': false,
  'chat.commandCenter.enabled': false,
  // Other services on the machine would otherwise pop "Your application running on port N".
  'remote.autoForwardPorts': false,
  // Canvas/WebGL rendering would leave terminal text out of the DOM (.xterm-rows).
  'terminal.integrated.gpuAcceleration': 'off',
};

// Inherited variables that would make code-server hand its arguments to another running
// instance (e.g. when the demo is started from a code-server terminal) instead of starting.
const INHERITED_BLOCKLIST = ['VSCODE_IPC_HOOK_CLI', 'CODE_SERVER_SESSION_SOCKET', 'CODE_SERVER_PARENT_PID', 'CODE_SERVER_CONFIG'];
// Every process of a run inherits this, including terminals that node-pty puts in new sessions,
// which is how stop() and leak checks find them.
const RUN_MARKER = 'CODE_SERVER_HARNESS_RUN';

/**
 * @param {string} runDir
 * @param {Record<string, string>} env
 */
function serverEnv(runDir, env) {
  const inherited = { ...process.env };
  for (const name of INHERITED_BLOCKLIST) delete inherited[name];
  return {
    ...inherited,
    XDG_CONFIG_HOME: path.join(runDir, 'xdg/config'),
    XDG_DATA_HOME: path.join(runDir, 'xdg/data'),
    XDG_CACHE_HOME: path.join(runDir, 'xdg/cache'),
    ...env,
    [RUN_MARKER]: runDir,
  };
}

/**
 * @param {string} bin
 * @param {string[]} profileArgs
 * @param {string} vsix
 * @param {NodeJS.ProcessEnv} env
 * @param {Log} log
 */
async function installVsix(bin, profileArgs, vsix, env, log) {
  if (!fs.existsSync(vsix)) throw new Error(`vsix not found: ${vsix}`);
  /** @type {string[]} */
  const output = [];
  const code = await run(bin, [...profileArgs, '--install-extension', vsix, '--force'], {
    env,
    log: (line) => { output.push(line); log(line); },
  });
  // Exits 1 on a corrupt package or an engines.vscode newer than 1.100.3.
  if (code !== 0) throw new Error(`installing ${vsix} into code-server failed (exit ${code}):\n${output.join('\n')}`);
}

/**
 * Resolves when code-server prints its ready line; rejects if it exits or stays silent first.
 * @param {import('node:child_process').ChildProcess} child
 * @param {Log} log
 */
function waitForReady(child, log, timeoutMs = 60_000) {
  /** @type {string[]} */
  const recent = [];
  return new Promise((resolve, reject) => {
    const fail = (/** @type {string} */ why) => {
      clearTimeout(timer);
      reject(new Error(`code-server ${why}. Last output:\n${recent.join('\n')}`));
    };
    const timer = setTimeout(() => fail(`did not print "${READY_LINE}" within ${timeoutMs / 1000} s`), timeoutMs);
    child.once('exit', (code, sig) => fail(`exited before it was ready (code ${code}, signal ${sig})`));
    child.once('error', (err) => fail(`could not be spawned: ${err.message}`));
    const onLine = (/** @type {string} */ line) => {
      log(line);
      recent.push(line);
      if (recent.length > 40) recent.shift();
      if (line.includes(READY_LINE)) {
        clearTimeout(timer);
        resolve(undefined);
      }
    };
    forEachLine(/** @type {NodeJS.ReadableStream} */ (child.stdout), onLine);
    forEachLine(/** @type {NodeJS.ReadableStream} */ (child.stderr), onLine);
  });
}

/**
 * SIGTERM first so the extension host can deactivate, SIGKILL whatever is left after a grace
 * period. Signals every process of the run, not only the group: terminals live in their own.
 * @param {() => number[]} processes
 * @param {Promise<unknown>} exited
 */
async function killTree(processes, exited, graceMs = 3000) {
  for (const p of processes()) signal(p, 'SIGTERM');
  if (!(await allGone(processes, graceMs))) {
    for (const p of processes()) signal(p, 'SIGKILL');
  }
  await exited;
  await allGone(processes, 5000);
}

/**
 * @param {() => number[]} processes
 * @param {number} timeoutMs
 * @returns {Promise<boolean>} whether they all exited in time
 */
async function allGone(processes, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while (processes().length > 0) {
    if (Date.now() > deadline) return false;
    await sleep(100);
  }
  return true;
}

/**
 * @param {number} pid
 * @param {NodeJS.Signals} sig
 */
function signal(pid, sig) {
  try {
    process.kill(pid, sig);
  } catch {
    // Already gone.
  }
}

/**
 * Processes of one code-server run: those carrying the run's marker variable, which also finds
 * terminals in their own sessions and re-parented processes, and their descendants. Not the pid
 * alone: once code-server has exited that pid may belong to an unrelated process.
 * @param {string} runDir
 */
function runProcesses(runDir) {
  const table = processTable();
  return liveTree(pidsWhoseFileIncludes(table, 'environ', `${RUN_MARKER}=${runDir}\0`), table);
}

/**
 * Chromium's processes: its browser process and descendants (renderers, zygotes, GPU).
 * @param {string} profileDir
 */
function browserProcesses(profileDir) {
  const table = processTable();
  return liveTree(pidsWhoseFileIncludes(table, 'cmdline', `--user-data-dir=${profileDir}\0`), table);
}

/**
 * Snapshot of /proc: pid → parent pid and state.
 * @returns {Map<number, { ppid: number, state: string }>}
 */
function processTable() {
  const table = new Map();
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      // The command name (field 2) may contain spaces and parentheses; fields after it don't.
      const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      table.set(Number(entry), { ppid: Number(ppid), state });
    } catch {
      // Exited while we looked.
    }
  }
  return table;
}

/**
 * @param {Map<number, unknown>} table
 * @param {'cmdline' | 'environ'} file
 * @param {string} needle
 * @returns {number[]}
 */
function pidsWhoseFileIncludes(table, file, needle) {
  const bytes = Buffer.from(needle);
  return [...table.keys()].filter((pid) => {
    try {
      return fs.readFileSync(`/proc/${pid}/${file}`).includes(bytes);
    } catch {
      return false; // exited meanwhile, or not ours to read
    }
  });
}

/**
 * The roots and all their descendants that are still running. Zombies have exited and only
 * wait for their parent to reap them.
 * @param {number[]} roots
 * @param {Map<number, { ppid: number, state: string }>} table
 * @returns {number[]}
 */
function liveTree(roots, table) {
  const found = new Set(roots.filter((pid) => table.has(pid)));
  for (const pid of found) {
    for (const [child, info] of table) if (info.ppid === pid) found.add(child);
  }
  return [...found].filter((pid) => table.get(pid)?.state !== 'Z');
}

/** @returns {Promise<number>} */
function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = /** @type {net.AddressInfo} */ (server.address());
      server.close(() => resolve(port));
    });
  });
}

// ---------------------------------------------------------------------------------------------
// Cleanup on exit: a test that throws or a demo stopped with Ctrl-C, or by closing its terminal,
// must not leave code-server (about 500 MB), Chromium, or their temp dirs behind. Both run in
// their own process groups, so nothing else would signal them.

const EXIT_SIGNALS = /** @type {const} */ (['SIGINT', 'SIGTERM', 'SIGHUP']);

/** @type {Set<() => void>} */
const exitCleanups = new Set();

/** @param {() => void} cleanup synchronous: it may run in a process 'exit' listener */
function track(cleanup) {
  if (exitCleanups.size === 0) {
    process.on('exit', runExitCleanups);
    for (const sig of EXIT_SIGNALS) process.on(sig, onSignal);
  }
  exitCleanups.add(cleanup);
}

/** @param {() => void} cleanup */
function untrack(cleanup) {
  exitCleanups.delete(cleanup);
  if (exitCleanups.size === 0) {
    process.off('exit', runExitCleanups);
    for (const sig of EXIT_SIGNALS) process.off(sig, onSignal);
  }
}

function runExitCleanups() {
  for (const cleanup of exitCleanups) cleanup();
  exitCleanups.clear();
}

/** @param {NodeJS.Signals} sig */
function onSignal(sig) {
  runExitCleanups();
  for (const s of EXIT_SIGNALS) process.off(s, onSignal);
  // Listening replaced Node's default of dying by the signal; die by it again unless someone
  // else handles it.
  if (process.listenerCount(sig) === 0) process.kill(process.pid, sig);
}

// ---------------------------------------------------------------------------------------------
// Browser

/**
 * @typedef {object} Browser
 * @property {import('playwright-core').BrowserContext} context
 * @property {Page} page
 * @property {() => Promise<void>} close closes Chromium and deletes its profile; idempotent
 */

const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox', // running as root
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-dev-shm-usage',
];

/**
 * Launches Debian's Chromium (Playwright cannot download its own here) with a fresh profile.
 * @param {{ headless?: boolean }} [options]
 * @returns {Promise<Browser>}
 */
export async function launchBrowser({ headless = true } = {}) {
  const runDir = await fsp.mkdtemp(path.join(os.tmpdir(), 'chromium-run-'));
  const profileDir = path.join(runDir, 'profile');
  // Kill first: Chromium still running would keep writing into the profile being deleted.
  const killNow = () => {
    for (const pid of browserProcesses(profileDir)) signal(pid, 'SIGKILL');
    fs.rmSync(runDir, { recursive: true, force: true });
  };
  track(killNow);
  let context;
  try {
    context = await chromium.launchPersistentContext(profileDir, {
      executablePath: '/usr/bin/chromium',
      headless,
      args: headless ? CHROMIUM_ARGS : CHROMIUM_ARGS.filter((arg) => arg !== '--headless'),
      viewport: { width: 1440, height: 900 },
      // Crash reports and caches go under XDG dirs, not under --user-data-dir.
      env: { ...process.env, XDG_CONFIG_HOME: path.join(runDir, 'config'), XDG_CACHE_HOME: path.join(runDir, 'cache') },
      // Our exit cleanup handles these; Playwright's SIGTERM handler would keep the process alive.
      handleSIGINT: false,
      handleSIGTERM: false,
      handleSIGHUP: false,
    });
  } catch (err) {
    untrack(killNow);
    killNow();
    throw err;
  }
  const page = context.pages()[0] ?? await context.newPage();
  const close = once(async () => {
    untrack(killNow);
    try {
      await /** @type {import('playwright-core').BrowserContext} */ (context).close();
    } finally {
      killNow();
    }
  });
  return { context, page, close };
}

// ---------------------------------------------------------------------------------------------
// Workbench helpers. Generic: they know VS Code's DOM, not our extension.

const QUICK_INPUT = '.quick-input-widget input';
const MENU_ARM_MS = 250;

/**
 * Selector of the activity bar link titled `title`. Built-in items append their keybinding to
 * the label ("Explorer (Ctrl+Shift+E)"), extension containers don't, so both forms match.
 * @param {string} title
 */
function activityBarLabel(title) {
  return `a.action-label[aria-label=${cssString(title)}], a.action-label[aria-label^=${cssString(`${title} (`)}]`;
}

/**
 * The activity bar item (its clickable link) titled `title`.
 * @param {Page} page
 * @param {string} title
 * @returns {Locator}
 */
export function activityBarItem(page, title) {
  return page.locator('.activitybar').locator(activityBarLabel(title)).first();
}

/**
 * Waits until the workbench shows the activity bar item `title`. `.monaco-workbench` appears
 * long before extensions have registered their views.
 * @param {Page} page
 * @param {string} title
 */
export async function waitForWorkbench(page, title, { timeout = 60_000 } = {}) {
  await activityBarItem(page, title).waitFor({ state: 'visible', timeout });
}

/**
 * Shows the view container behind activity bar item `title`. Clicking an already active item
 * would hide the side bar, so it is clicked only when not active.
 * @param {Page} page
 * @param {string} title
 */
export async function openView(page, title) {
  const tab = page.locator('.activitybar li.action-item[role="tab"]')
    .filter({ has: page.locator(activityBarLabel(title)) })
    .first();
  const active = tab.and(page.locator('[aria-selected="true"]'));
  if (await active.count() === 0) await tab.click();
  await active.waitFor();
}

/**
 * The element of a view container. `containerId` is an extension's `viewsContainers` id
 * (which cannot contain dots) or a full workbench id such as `workbench.view.explorer`.
 * @param {Page} page
 * @param {string} containerId
 * @returns {Locator}
 */
export function viewContainer(page, containerId) {
  const id = containerId.includes('.') ? containerId : `workbench.view.extension.${containerId}`;
  return page.locator(`[id=${cssString(id)}]`);
}

/**
 * Rows of every tree in a view container. Match rows by text: a row's aria-label is its
 * tooltip when the tree item has one.
 * @param {Page} page
 * @param {string} containerId
 * @returns {Locator}
 */
export function treeRowLocator(page, containerId) {
  return viewContainer(page, containerId).locator('.monaco-list-row[role="treeitem"]');
}

/**
 * The first tree row in a view container whose text contains `text` (string) or matches it
 * (RegExp).
 * @param {Page} page
 * @param {string} containerId
 * @param {string | RegExp} text
 * @returns {Locator}
 */
export function treeRow(page, containerId, text) {
  return treeRowLocator(page, containerId).filter({ hasText: text }).first();
}

/**
 * Texts of the rendered rows of a view container, top to bottom, as "label description"
 * (description only when the item has one). Trees are virtualised: rows scrolled out of view
 * are not in the DOM.
 * @param {Page} page
 * @param {string} containerId
 * @returns {Promise<string[]>}
 */
export async function treeRows(page, containerId) {
  const texts = await treeRowLocator(page, containerId).evaluateAll((rows) => rows.map((row) => {
    // innerText would glue label and description together ("alphadesc").
    const parts = [...row.querySelectorAll('.label-name, .label-description')].map((el) => el.textContent);
    return parts.length > 0 ? parts.join(' ') : row.textContent ?? '';
  }));
  return texts.map(collapse);
}

/**
 * Runs a command from the palette by its exact title, e.g. "View: Toggle Terminal".
 * @param {Page} page
 * @param {string} title
 */
export async function runCommand(page, title) {
  await page.keyboard.press('F1');
  const input = page.locator(QUICK_INPUT);
  await input.waitFor({ state: 'visible' });
  await input.fill(`>${title}`);
  // Pick the exact title rather than pressing Enter: fuzzy matching or recently used
  // commands may put another entry first.
  const row = page.locator('.quick-input-list .monaco-list-row')
    .filter({ has: page.locator('.label-name', { hasText: exactText(title) }) })
    .first();
  await row.click();
  // Not `input` hidden: a command that asks for input reuses the same widget at once.
  await row.waitFor({ state: 'hidden' });
}

/**
 * Types `text` into the open quick input (input box or pick list) and accepts it with Enter.
 * @param {Page} page
 * @param {string} text
 */
export async function answerQuickInput(page, text) {
  const input = page.locator(QUICK_INPUT);
  await input.waitFor({ state: 'visible' });
  await input.fill(text);
  await input.press('Enter');
}

/**
 * Messages of the notification toasts currently shown.
 * @param {Page} page
 * @returns {Promise<string[]>}
 */
export async function notifications(page) {
  const texts = await page.locator('.notifications-toasts .notification-list-item-message').allInnerTexts();
  return texts.map(collapse);
}

/**
 * Right-clicks `row` and picks the context menu item labelled `itemLabel` (exact text).
 * @param {Page} page
 * @param {Locator} row
 * @param {string} itemLabel
 */
export async function contextMenu(page, row, itemLabel) {
  await row.click({ button: 'right' });
  const item = page.locator('.monaco-menu a.action-menu-item').filter({ hasText: exactText(itemLabel) }).first();
  await item.waitFor({ state: 'visible' });
  // Menu items start listening for mouseup 100 ms after they render (VS Code's guard against
  // the opening right-click selecting an item); a click before that is silently dropped.
  await page.waitForTimeout(MENU_ARM_MS);
  await item.click();
}

/**
 * Text in the visible terminal. Needs `terminal.integrated.gpuAcceleration: "off"` (the
 * harness default), else xterm draws on a canvas.
 * @param {Page} page
 * @returns {Promise<string>}
 */
export async function terminalText(page) {
  return (await page.locator('.xterm-rows').allInnerTexts()).join('\n');
}

/**
 * Saves a PNG of the page, creating the directory.
 * @param {Page} page
 * @param {string} file
 */
export async function screenshot(page, file) {
  await fsp.mkdir(path.dirname(path.resolve(file)), { recursive: true });
  await page.screenshot({ path: file });
}

// ---------------------------------------------------------------------------------------------
// Small utilities

/**
 * @param {string} command
 * @param {string[]} args
 * @param {{ cwd?: string, env?: NodeJS.ProcessEnv, log: Log }} options
 * @returns {Promise<number>} exit code
 */
function run(command, args, { cwd, env, log }) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    forEachLine(/** @type {NodeJS.ReadableStream} */ (child.stdout), log);
    forEachLine(/** @type {NodeJS.ReadableStream} */ (child.stderr), log);
    child.once('error', reject);
    child.once('close', (code) => resolve(code ?? 1));
  });
}

/**
 * @param {NodeJS.ReadableStream} stream
 * @param {Log} onLine
 */
function forEachLine(stream, onLine) {
  let pending = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk) => {
    const lines = (pending + chunk).split('\n');
    pending = /** @type {string} */ (lines.pop());
    for (const line of lines) onLine(line.trimEnd());
  });
  stream.on('end', () => { if (pending) onLine(pending.trimEnd()); });
}

/**
 * Wraps an async function so it runs at most once; later calls get the first call's promise.
 * @template T
 * @param {() => Promise<T>} fn
 * @returns {() => Promise<T>}
 */
function once(fn) {
  /** @type {Promise<T> | undefined} */
  let result;
  return () => (result ??= fn());
}

/** @param {number} ms */
function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** @param {string} value */
function cssString(value) {
  return JSON.stringify(value);
}

/** @param {string} text */
function exactText(text) {
  return new RegExp(`^\\s*${text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\s*$`);
}

/** @param {string} text */
function collapse(text) {
  return text.replace(/\s+/g, ' ').trim();
}

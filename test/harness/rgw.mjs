// Starts and stops a throwaway single-node Ceph RGW (Debian's ceph-mon, ceph-osd and radosgw)
// on 127.0.0.1 for integration tests. Every file it writes lives in one fresh temp dir; every
// process it starts runs in its own process group so stop() and the exit hooks can kill it whole.
// See shared/TESTING.md, "S3 servers", for why each setting is there.

import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { closeSync, openSync, rmSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ListBucketsCommand, S3Client } from '@aws-sdk/client-s3';

export const DEFAULT_STORAGE_CLASSES = Object.freeze([
  'STANDARD_IA',
  'INTELLIGENT_TIERING',
  'GLACIER',
  'DEEP_ARCHIVE',
  'GLACIER_IR',
  'ONEZONE_IA',
]);

const REGION = 'us-east-1';
const ACCESS_KEY_ID = 'RCTESTACCESSKEY00001';
const SECRET_ACCESS_KEY = 'rctestsecretkey0000000000000000000000001';
const READY_TIMEOUT_MS = 60_000;
const POLL_INTERVAL_MS = 50;
const PROBE_TIMEOUT_MS = 2_000;
const LOG_TAIL_LINES = 15;
const RGW_NAME = 'client.rgw';

/** Instances not yet stopped, so the process exit hooks can kill them. */
const live = new Set();

/**
 * @typedef {object} RgwOptions
 * @property {number} [port] S3 port on 127.0.0.1; default: a free one.
 * @property {'memstore' | 'bluestore'} [objectstore] memstore (RAM, default) or bluestore on a sparse file.
 * @property {(line: string) => void} [log] Receives progress lines; default: silent.
 * @property {readonly string[]} [storageClasses] Storage classes accepted besides STANDARD.
 */

/**
 * @typedef {object} Rgw
 * @property {string} endpoint e.g. http://127.0.0.1:7480
 * @property {string} region
 * @property {string} accessKeyId
 * @property {string} secretAccessKey
 * @property {string} dir The temp dir holding config, data and logs (removed by stop()).
 * @property {{ mon: number, osd: number, rgw: number }} pids
 * @property {() => Promise<void>} stop Kills every process started and removes the temp dir; idempotent.
 */

/**
 * Starts mon, OSD and radosgw, creates the S3 user, and resolves once a signed ListBuckets succeeds.
 * @param {RgwOptions} [options]
 * @returns {Promise<Rgw>}
 */
export async function startRgw(options = {}) {
  const {
    objectstore = 'memstore',
    log = () => {},
    storageClasses = DEFAULT_STORAGE_CLASSES,
  } = options;
  if (objectstore !== 'memstore' && objectstore !== 'bluestore') {
    throw new Error(`startRgw: objectstore must be 'memstore' or 'bluestore', not '${objectstore}'`);
  }
  const port = options.port ?? (await freePort());
  if (options.port !== undefined) await assertPortFree(port);

  const started = Date.now();
  const progress = (line) => log(`rgw :${port} +${Date.now() - started}ms ${line}`);
  const instance = await createInstance();
  const endpoint = `http://127.0.0.1:${port}`;
  try {
    await withDeadline(instance, READY_TIMEOUT_MS, async () => {
      await bootstrap(instance, { port, objectstore, storageClasses, progress });
      await waitForS3(instance, endpoint);
    });
  } catch (error) {
    const logs = await logTails(instance.dir);
    await instance.stop();
    throw new Error(`Ceph RGW did not start: ${error.message}\n${logs}`, { cause: error });
  }
  progress('ready');
  return {
    endpoint,
    region: REGION,
    accessKeyId: ACCESS_KEY_ID,
    secretAccessKey: SECRET_ACCESS_KEY,
    dir: instance.dir,
    pids: { ...instance.pids },
    stop: instance.stop,
  };
}

/** The startup steps, in the order Ceph needs them. */
async function bootstrap(instance, { port, objectstore, storageClasses, progress }) {
  const { dir } = instance;
  const fsid = randomUUID();
  const monPort = await freePort();
  await Promise.all(['run', 'crash', 'log', 'mon/a', 'osd/0', 'rgw'].map((d) => mkdir(join(dir, d), { recursive: true })));
  await writeFile(instance.conf, cephConf({ dir, fsid, monPort, port, objectstore }));

  await run(instance, 'monmaptool', ['--create', '--fsid', fsid, '--addv', 'a', `[v2:127.0.0.1:${monPort}]`, join(dir, 'monmap')]);
  // With auth off the keyring is never checked, but mon --mkfs refuses to run without one.
  await run(instance, 'ceph-authtool', ['--create-keyring', join(dir, 'keyring'), '--gen-key', '-n', 'mon.', '--cap', 'mon', 'allow *']);
  await run(instance, 'ceph-mon', ['-c', instance.conf, '-i', 'a', '--mkfs', '--monmap', join(dir, 'monmap')]);
  instance.pids.mon = startDaemon(instance, 'ceph-mon', ['-i', 'a']);
  progress(`mon started on port ${monPort}`);

  const osdUuid = randomUUID();
  const osdId = (await run(instance, 'ceph', ['-c', instance.conf, 'osd', 'new', osdUuid])).trim();
  await run(instance, 'ceph-osd', ['-c', instance.conf, '-i', osdId, '--mkfs', '--osd-uuid', osdUuid]);
  instance.pids.osd = startDaemon(instance, 'ceph-osd', ['-i', osdId]);
  progress(`osd.${osdId} started (${objectstore})`);

  // radosgw reads the zone only at startup, so the user and storage classes go in first.
  // The first radosgw-admin call also creates the default zone and its pools (needs the OSD up).
  await radosgwAdmin(instance, ['user', 'create', '--uid', 'test', '--display-name', 'test',
    '--access-key', ACCESS_KEY_ID, '--secret-key', SECRET_ACCESS_KEY]);
  await addStorageClasses(instance, storageClasses);
  progress('user and storage classes created');

  instance.pids.rgw = startDaemon(instance, 'radosgw', ['-n', RGW_NAME]);
  progress('radosgw started');
}

/**
 * Ceph config with every path inside dir. Metavariables ($name, $id, $channel) are expanded by Ceph.
 */
function cephConf({ dir, fsid, monPort, port, objectstore }) {
  return `[global]
fsid = ${fsid}
mon host = v2:127.0.0.1:${monPort}
public addr = 127.0.0.1
cluster addr = 127.0.0.1
# msgr2 only: the mon needs just the one port we picked.
ms bind msgr1 = false
auth cluster required = none
auth service required = none
auth client required = none
# Without these the clients still ask for secure mode and radosgw loops on an auth error.
ms mon client mode = crc
ms client mode = crc
mon allow pool size one = true
osd pool default size = 1
osd pool default min size = 1
# radosgw makes about eight pools; at the default 32 PGs each they pass mon max pg per osd (250).
osd pool default pg num = 8
osd pool default pgp num = 8
paxos propose interval = 0.01
# radosgw-admin's first write can reach the OSD before it is up (bluestore mounts for seconds);
# the client resends only on its objecter tick, 5 s by default.
objecter tick interval = 0.5
run dir = ${dir}/run
crash dir = ${dir}/crash
admin socket = ${dir}/run/$name.asok
pid file = ${dir}/run/$name.pid
log file = ${dir}/log/$name.log
mon cluster log file = ${dir}/log/cluster.$channel.log
keyring = ${dir}/keyring
mon data = ${dir}/mon/$id
osd data = ${dir}/osd/$id
rgw data = ${dir}/rgw
${objectstoreConf(objectstore)}
[client.admin]
# The ceph and radosgw-admin calls would otherwise contend for one socket path.
admin socket =

[${RGW_NAME}]
rgw frontends = beast endpoint=127.0.0.1:${port} tcp_nodelay=1
`;
}

function objectstoreConf(objectstore) {
  if (objectstore === 'memstore') {
    // Only the capacity reported (memory grows with the bytes actually stored), but the default
    // 1 GiB would turn the OSD full, refusing writes, a little under 1 GiB stored.
    return `osd objectstore = memstore
memstore device bytes = ${16 * 2 ** 30}
`;
  }
  // A sparse file in the OSD dir; skipping the mkfs fsck saves seconds.
  return `osd objectstore = bluestore
bluestore block size = ${16 * 2 ** 30}
bluestore fsck on mkfs = false
`;
}

/** Adds each class to the default placement of the zonegroup and zone, stored in STANDARD's pool. */
async function addStorageClasses(instance, storageClasses) {
  const classes = [...new Set(storageClasses)].filter((c) => c !== 'STANDARD');
  if (classes.length === 0) return;
  // One get and one set each, rather than two `placement add` calls per class: ~40 ms per call.
  await editRgwJson(instance, 'zonegroup', (zonegroup) => {
    const target = zonegroup.placement_targets.find((t) => t.name === zonegroup.default_placement);
    target.storage_classes = [...new Set([...target.storage_classes, ...classes])];
  });
  await editRgwJson(instance, 'zone', (zone) => {
    const { val } = zone.placement_pools.find((p) => p.key === 'default-placement');
    const { data_pool } = val.storage_classes.STANDARD;
    for (const c of classes) val.storage_classes[c] = { data_pool };
  });
}

async function editRgwJson(instance, kind, edit) {
  const json = JSON.parse(await radosgwAdmin(instance, [kind, 'get']));
  edit(json);
  const file = join(instance.dir, `${kind}.json`);
  await writeFile(file, JSON.stringify(json));
  await radosgwAdmin(instance, [kind, 'set', '--infile', file]);
}

function radosgwAdmin(instance, args) {
  return run(instance, 'radosgw-admin', ['-c', instance.conf, ...args]);
}

/** Polls until the endpoint answers HTTP at all, then until a signed request is accepted. */
async function waitForS3(instance, endpoint) {
  while (!(await answersHttp(endpoint))) await pollPause(instance);
  const client = new S3Client({
    endpoint,
    region: REGION,
    forcePathStyle: true,
    credentials: { accessKeyId: ACCESS_KEY_ID, secretAccessKey: SECRET_ACCESS_KEY },
    maxAttempts: 1,
  });
  try {
    for (;;) {
      try {
        await client.send(new ListBucketsCommand({}));
        return;
      } catch (error) {
        // A 4xx (e.g. InvalidAccessKeyId) will not heal by waiting: report it rather than time out.
        const status = error.$metadata?.httpStatusCode;
        if (status >= 400 && status < 500) throw new Error(`signed ListBuckets refused: ${error.name} (${status})`);
        await pollPause(instance);
      }
    }
  } finally {
    client.destroy();
  }
}

/** Waits before the next probe; throws once the instance is stopped so a timed-out wait ends. */
async function pollPause(instance) {
  await sleep(POLL_INTERVAL_MS);
  if (instance.stopping) throw new Error('stopped while waiting for S3');
}

async function answersHttp(endpoint) {
  try {
    const response = await fetch(`${endpoint}/`, { signal: AbortSignal.timeout(PROBE_TIMEOUT_MS) });
    await response.arrayBuffer();
    return true;
  } catch {
    return false;
  }
}

/**
 * Runs fn, failing early if the deadline passes or a daemon dies; the instance's `died` promise
 * rejects when a daemon exits before stop().
 */
async function withDeadline(instance, ms, fn) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`not ready after ${ms / 1000} s`)), ms);
  });
  try {
    return await Promise.race([fn(), timeout, instance.died]);
  } finally {
    clearTimeout(timer);
  }
}

/** An instance owns a temp dir and every process started for it, helpers included. */
async function createInstance() {
  const dir = await mkdtemp(join(tmpdir(), 'rgw-'));
  const instance = {
    dir,
    conf: join(dir, 'ceph.conf'),
    /** @type {Set<import('node:child_process').ChildProcess>} */
    processes: new Set(),
    pids: { mon: 0, osd: 0, rgw: 0 },
    stopping: false,
  };
  instance.died = new Promise((_, reject) => { instance.reportDeath = reject; });
  // Nobody awaits `died` once startup is over; a later death must not be an unhandled rejection.
  instance.died.catch(() => {});
  let stopped;
  instance.stop = () => (stopped ??= stopInstance(instance));
  live.add(instance);
  setExitHooks(true);
  return instance;
}

/**
 * Spawns a long-running daemon in the foreground (-f) in its own process group, logging its
 * stdout/stderr to a file beside Ceph's own log.
 */
function startDaemon(instance, command, args) {
  const out = openSync(join(instance.dir, 'log', `${command}.stderr.log`), 'a');
  try {
    const child = spawnTracked(instance, command, ['-c', instance.conf, '-f', ...args], ['ignore', out, out]);
    child.once('error', (error) => instance.reportDeath(error));
    child.once('exit', (code, signal) => {
      if (!instance.stopping) instance.reportDeath(new Error(`${command} exited (${signal ?? `code ${code}`})`));
    });
    // A test that forgets stop() should still let node exit; the exit hook then kills the daemon.
    child.unref();
    return child.pid;
  } finally {
    closeSync(out);
  }
}

/** Runs a short command to completion, resolving with its stdout. */
function run(instance, command, args) {
  return new Promise((resolve, reject) => {
    const child = spawnTracked(instance, command, args, ['ignore', 'pipe', 'pipe']);
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk) => { stdout += chunk; });
    child.stderr.setEncoding('utf8').on('data', (chunk) => { stderr += chunk; });
    child.once('error', reject);
    child.once('close', (code, signal) => {
      if (code === 0) resolve(stdout);
      else reject(new Error(`${command} ${args.join(' ')} failed (${signal ?? `code ${code}`}): ${stderr.trim()}`));
    });
  });
}

function spawnTracked(instance, command, args, stdio) {
  // A step still running when the deadline stopped the instance must not start anything more.
  if (instance.stopping) throw new Error(`stopped before ${command} could start`);
  // detached: its own process group, so stop() kills anything it forks and a Ctrl-C in the
  // terminal reaches only node, whose hooks then stop the cluster.
  const child = spawn(command, args, { cwd: instance.dir, stdio, detached: true });
  // No pid means spawn failed (e.g. ENOENT); the 'error' event reports it and there is nothing to kill.
  if (child.pid !== undefined) {
    instance.processes.add(child);
    child.once('exit', () => instance.processes.delete(child));
  }
  return child;
}

async function stopInstance(instance) {
  instance.stopping = true;
  const exited = [...instance.processes].map((child) => new Promise((resolve) => {
    child.once('exit', resolve);
    // Daemons are unref'd; keep node alive until each is reaped, so the port is free on return.
    child.ref();
  }));
  killAll(instance);
  await Promise.all(exited);
  await rm(instance.dir, { recursive: true, force: true, maxRetries: 5 });
  live.delete(instance);
  if (live.size === 0) setExitHooks(false);
}

/** SIGKILL, not SIGTERM: the data is thrown away, and memstore would first write it all to disk. */
function killAll(instance) {
  for (const child of instance.processes) {
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch (error) {
      if (error.code !== 'ESRCH') throw error;
    }
  }
}

let hooksSet = false;

/** The hooks are set only while an instance lives, so importing this module changes nothing. */
function setExitHooks(on) {
  if (hooksSet === on) return;
  hooksSet = on;
  const method = on ? 'on' : 'removeListener';
  process[method]('exit', stopAllSync);
  process[method]('SIGINT', onSignal);
  process[method]('SIGTERM', onSignal);
}

function stopAllSync() {
  for (const instance of live) {
    instance.stopping = true;
    killAll(instance);
    rmSync(instance.dir, { recursive: true, force: true, maxRetries: 5 });
  }
  live.clear();
}

/** Cleans up, then lets the signal do what it would have done had we not listened for it. */
function onSignal(signal) {
  stopAllSync();
  setExitHooks(false);
  if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
}

/** The last lines of every log in the temp dir, for startup errors. */
async function logTails(dir) {
  const logDir = join(dir, 'log');
  const files = await readdir(logDir).catch(() => []);
  const tails = await Promise.all(files.sort().map(async (file) => {
    const lines = (await readFile(join(logDir, file), 'utf8')).split('\n').filter((line) => line.trim());
    return lines.length === 0 ? '' : `--- ${file} (last ${LOG_TAIL_LINES} lines) ---\n${lines.slice(-LOG_TAIL_LINES).join('\n')}`;
  }));
  return tails.filter(Boolean).join('\n');
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Fails early on a taken port: otherwise the readiness probe could be answered by someone else. */
function assertPortFree(port) {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', (error) => reject(new Error(`startRgw: port ${port} is not free (${error.code})`)));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve()));
  });
}

// `npm run bench:listing [-- --objects N] [--runs N]`: the requirement "the first page of a
// prefix holding 100,000 objects appears in under 1 s against a local server", measured in one
// run on one Ceph RGW at three levels:
//   engine  listPage() through a Connection made the way the extension makes it, cold and warm;
//   peer    `aws s3api list-objects-v2` on the same prefix (Debian's aws-cli v2);
//   UI      the packaged extension in code-server, driven in Chromium: from the press on the
//           folder until the frame that draws its first object row.
// Ends with a table of min / median / max per measurement. Every process it starts (RGW,
// code-server, Chromium) is stopped on success, on error and on Ctrl-C.
import { execFile } from 'node:child_process';
import { createHash, createHmac } from 'node:crypto';
import { closeSync, openSync, readSync, rmSync, statSync } from 'node:fs';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import http from 'node:http';
import { constants, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { tsImport } from 'tsx/esm/api';
import { buildVsix, ensureDebianPackages, ensureNpmPackages } from './lib/setup.mjs';

const USAGE = 'usage: node scripts/bench-listing.mjs [--objects N (default 100000)] [--runs N (at least 5, default 7)]';
const options = parseArgs(process.argv.slice(2));
const BUCKET = 'bench-listing';
const PREFIX = 'big/';
const PAGE_SIZE = 1000; // the extension's default researchCloud.s3.pageSize, S3's maximum
// RGW took about 900 small PUTs/s here with this many in flight, using both cores.
const SEED_CONCURRENCY = 128;
const TARGET_MS = 1000;
const CONTAINER = 'researchCloud'; // the extension's viewsContainers id
const VIEW_TITLE = 'Research Cloud';
const AWS_CLI = '/usr/bin/aws'; // a Python aws-cli v1 shim may come first on PATH
// ConnectionState's options under default settings: no profile, region or endpoint chosen, so
// the environment decides, as it does for a user with AWS_ENDPOINT_URL_S3 set.
const EXTENSION_CONNECTION_OPTIONS = { maxSockets: 64 };
const FIRST_PAGE = { bucket: BUCKET, prefix: PREFIX, pageSize: PAGE_SIZE };
const execFileAsync = promisify(execFile);

const keyWidth = Math.max(6, String(options.objects - 1).length);
const bigKey = (i) => `${PREFIX}obj-${String(i).padStart(keyWidth, '0')}.dat`;
const FIRST_NAME = bigKey(0).slice(PREFIX.length);
// Folders beside big/ (and a top-level object) so the bucket looks like a real one and the
// listing of big/ has neighbours on both sides in the bucket index.
const SIBLINGS = ['alpha/notes.txt', 'alpha/run-1/log.txt', 'results/summary.csv', 'zeta/readme.txt', 'README.txt'];

let scratch;
// The harnesses kill RGW, code-server and Chromium from their own 'exit' hooks; exiting on a
// signal (instead of dying by it) makes those hooks, and this one, run.
process.on('exit', () => { if (scratch) rmSync(scratch, { recursive: true, force: true }); });
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, () => process.exit(128 + constants.signals[signal]));

ensureNpmPackages();
ensureDebianPackages(['ceph-mon', 'ceph-osd', 'ceph-common', 'radosgw', 'chromium', 'ripgrep', 'libkrb5-dev', 'awscli']);
// The engine is TypeScript (CommonJS to tsc); tsx compiles it on import, as the test runner does.
const { Connection } = await tsImport('../src/aws/connection.ts', import.meta.url);
const { listPage } = await tsImport('../src/s3/listing.ts', import.meta.url);
const { startRgw } = await import('../test/harness/rgw.mjs');
const { launchBrowser, openView, startCodeServer, treeRow, viewContainer, waitForWorkbench } = await import('../test/harness/code-server.mjs');

const started = performance.now();
const results = [];
let rgw;
let server;
let browser;
try {
  const vsix = buildVsix();
  scratch = await mkdtemp(join(tmpdir(), 'bench-listing-'));
  rgw = await startRgw({ objectstore: 'memstore' });
  console.log(`Ceph RGW at ${rgw.endpoint}`);
  const seeding = await seed(rgw);
  const awsEnv = await isolatedAwsEnv(rgw);

  results.push(...await measureEngineAndPeer(awsEnv));

  server = await startUiServer(vsix, awsEnv);
  browser = await launchBrowser();
  await openBucket(browser.page, server.url);
  const logOffset = statSync(rgwLog(rgw)).size;
  results.push(await measureUi(browser.page));
  await checkUiListedEachRun(rgw, logOffset);

  printTable(seeding);
} catch (error) {
  console.error(error instanceof Error ? error.stack : error);
  process.exitCode = 1;
} finally {
  await browser?.close();
  await server?.stop();
  await rgw?.stop();
}

// ---------------------------------------------------------------------------------------------
// Seeding

/** Creates the bucket and puts every key, SEED_CONCURRENCY at a time, reporting the rate. */
async function seed(store) {
  const put = signedPutter(store);
  await put(`/${BUCKET}`, '');
  await Promise.all(SIBLINGS.map((key) => put(`/${BUCKET}/${key}`, key)));
  const total = options.objects;
  console.log(`Seeding ${total.toLocaleString('en-US')} objects under ${PREFIX} (${SEED_CONCURRENCY} PUTs in flight)…`);
  const t0 = performance.now();
  let next = 0;
  let done = 0;
  const ticker = setInterval(() => {
    const s = (performance.now() - t0) / 1000;
    console.log(`  ${done.toLocaleString('en-US')} / ${total.toLocaleString('en-US')} after ${s.toFixed(0)} s (${(done / s).toFixed(0)} objects/s)`);
  }, 10_000);
  try {
    await Promise.all(Array.from({ length: SEED_CONCURRENCY }, async () => {
      for (let i = next++; i < total; i = next++) {
        await put(`/${BUCKET}/${bigKey(i)}`, `object ${i}\n`);
        done++;
      }
    }));
  } finally {
    clearInterval(ticker);
    put.close();
  }
  const seconds = (performance.now() - t0) / 1000;
  const line = `Seeded ${total.toLocaleString('en-US')} objects in ${seconds.toFixed(1)} s (${(total / seconds).toFixed(0)} objects/s)`;
  console.log(line);
  return line;
}

/**
 * PUTs over keep-alive node:http with a SigV4 signature made here. The SDK spends about 1.4 ms
 * of CPU per request, which on 2 cores takes half of what RGW needs (measured: about 420 PUTs/s
 * through the SDK, 900 this way), and seeding 100,000 objects would take 4 minutes, not 2.
 * Paths must need no URI encoding (the keys here are [A-Za-z0-9._/-]).
 */
function signedPutter({ endpoint, region, accessKeyId, secretAccessKey }) {
  const { host, hostname, port } = new URL(endpoint);
  const agent = new http.Agent({ keepAlive: true, maxSockets: SEED_CONCURRENCY });
  const hmac = (key, data) => createHmac('sha256', key).update(data).digest();
  const sign = (path) => {
    const amzDate = new Date().toISOString().replace(/[-:]|\.\d{3}/g, ''); // 20261126T142944Z
    const day = amzDate.slice(0, 8);
    const scope = `${day}/${region}/s3/aws4_request`;
    const headers = { host, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD', 'x-amz-date': amzDate };
    const signedHeaders = Object.keys(headers).join(';');
    const canonicalRequest = ['PUT', path, '', ...Object.entries(headers).map(([k, v]) => `${k}:${v}`), '', signedHeaders, 'UNSIGNED-PAYLOAD'].join('\n');
    const stringToSign = ['AWS4-HMAC-SHA256', amzDate, scope, createHash('sha256').update(canonicalRequest).digest('hex')].join('\n');
    const signingKey = [day, region, 's3', 'aws4_request'].reduce(hmac, `AWS4${secretAccessKey}`);
    const signature = hmac(signingKey, stringToSign).toString('hex');
    return { ...headers, authorization: `AWS4-HMAC-SHA256 Credential=${accessKeyId}/${scope}, SignedHeaders=${signedHeaders}, Signature=${signature}` };
  };
  const once = (path, body) => new Promise((resolve, reject) => {
    const request = http.request({ agent, hostname, port, method: 'PUT', path, headers: { ...sign(path), 'content-length': Buffer.byteLength(body) } }, (response) => {
      let text = '';
      response.setEncoding('utf8').on('data', (chunk) => { text += chunk; });
      response.on('end', () => (response.statusCode === 200 ? resolve() : reject(Object.assign(new Error(`PUT ${path}: HTTP ${response.statusCode} ${text}`), { status: response.statusCode }))));
    });
    request.on('error', reject);
    request.end(body);
  });
  // A saturated RGW may reset a connection or answer 503 (SlowDown) now and then; PUT is idempotent.
  const put = async (path, body) => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await once(path, body);
      } catch (error) {
        if (attempt === 3 || (error.status !== undefined && error.status < 500)) throw error;
      }
    }
  };
  put.close = () => agent.destroy();
  return put;
}

// ---------------------------------------------------------------------------------------------
// Engine and peer

/**
 * What the extension and aws-cli see: the endpoint and keys in the environment, and empty shared
 * files so this machine's ~/.aws (profiles, endpoints, credentials) cannot leak in.
 */
async function isolatedAwsEnv(store) {
  const empty = join(scratch, 'aws-empty');
  await writeFile(empty, '');
  return {
    AWS_CONFIG_FILE: empty,
    AWS_SHARED_CREDENTIALS_FILE: empty,
    AWS_ENDPOINT_URL_S3: store.endpoint,
    AWS_REGION: store.region,
    AWS_ACCESS_KEY_ID: store.accessKeyId,
    AWS_SECRET_ACCESS_KEY: store.secretAccessKey,
  };
}

/** A first page that is not the one seeded would make every number meaningless. */
function checkPage(keys, source) {
  const expected = Math.min(PAGE_SIZE, options.objects);
  if (keys.length !== expected || keys[0] !== bigKey(0)) {
    throw new Error(`${source}: expected ${expected} keys from ${bigKey(0)}, got ${keys.length} from ${keys[0]}`);
  }
}

/**
 * The engine cold and warm, and aws-cli, in rounds (one of each per round) so that the machine's
 * noise falls on all of them alike.
 */
async function measureEngineAndPeer(env) {
  // The first listing in this process also loads and compiles the SDK's lazily required code;
  // the extension host pays that once per session, not once per folder, so it is left out.
  await engineCold(env);
  // Kept across runs, as the extension keeps its Connection: client and socket are reused.
  const warm = new Connection(EXTENSION_CONNECTION_OPTIONS, env);
  try {
    const s3 = await warm.s3();
    await listPage(s3, FIRST_PAGE);
    return await measure({
      'engine listPage, cold (new Connection)': () => engineCold(env),
      'engine listPage, warm (same Connection)': () => engineWarm(s3),
      'aws s3api list-objects-v2 (whole process)': () => awsCli(env),
      'aws --version (interpreter start only)': () => awsVersion(env),
    });
  } finally {
    warm.dispose();
  }
}

/** New Connection, S3 client, credentials, TCP connection and one ListObjectsV2. */
async function engineCold(env) {
  const t0 = performance.now();
  const connection = new Connection(EXTENSION_CONNECTION_OPTIONS, env);
  try {
    const page = await listPage(await connection.s3(), FIRST_PAGE);
    const ms = performance.now() - t0;
    checkPage(page.objects.map((o) => o.key), 'listPage');
    return ms;
  } finally {
    connection.dispose();
  }
}

async function engineWarm(s3) {
  const t0 = performance.now();
  const page = await listPage(s3, FIRST_PAGE);
  const ms = performance.now() - t0;
  checkPage(page.objects.map((o) => o.key), 'listPage');
  return ms;
}

/** aws-cli with nothing but the isolated configuration: HOME in the scratch dir, no AWS_* inherited. */
function runAws(env, args) {
  return execFileAsync(AWS_CLI, args, {
    env: { PATH: process.env.PATH, HOME: scratch, AWS_PAGER: '', ...env },
    maxBuffer: 64 * 2 ** 20,
  });
}

async function awsCli(env) {
  const t0 = performance.now();
  const { stdout } = await runAws(env, ['s3api', 'list-objects-v2', '--endpoint-url', env.AWS_ENDPOINT_URL_S3,
    '--bucket', BUCKET, '--prefix', PREFIX, '--delimiter', '/', '--max-items', String(PAGE_SIZE)]);
  const ms = performance.now() - t0;
  checkPage(JSON.parse(stdout).Contents.map((o) => o.Key), 'aws s3api');
  return ms;
}

/** How much of the aws-cli time is Python and aws-cli starting, before any request. */
async function awsVersion(env) {
  const t0 = performance.now();
  await runAws(env, ['--version']);
  return performance.now() - t0;
}

// ---------------------------------------------------------------------------------------------
// UI

async function startUiServer(vsix, env) {
  const workspace = join(scratch, 'workspace');
  await mkdir(workspace);
  console.log('Starting code-server and Chromium…');
  return startCodeServer({
    folder: workspace,
    vsix,
    env,
    // View title buttons otherwise show only while the pointer is over the view.
    settings: { 'workbench.view.alwaysShowHeaderActions': true },
  });
}

/** Loads the workbench, shows the Research Cloud view and expands the bucket. */
async function openBucket(page, url) {
  await page.goto(url);
  await waitForWorkbench(page, VIEW_TITLE, { timeout: 90_000 });
  await openView(page, VIEW_TITLE);
  await treeRow(page, CONTAINER, BUCKET).click({ timeout: 60_000 });
}

/**
 * Each run expands big/ with a listing nobody has cached: the provider keeps a loaded folder and
 * the tree keeps the children of a collapsed node, so later runs collapse it and press the view's
 * Refresh before expanding it again. VS Code hands a title button's command the focused row, here
 * "big", so that Refresh drops big/'s listing rather than the whole tree's; either way big/ is
 * listed afresh, which checkUiListedEachRun confirms.
 */
async function measureUi(page) {
  const folder = treeRow(page, CONTAINER, /^\s*big\s*$/);
  // Other views of the container may have a Refresh of their own.
  const refresh = viewContainer(page, CONTAINER).locator('.pane')
    .filter({ has: page.locator('.pane-header .title', { hasText: /^Buckets$/ }) })
    .locator('.pane-header a.action-label[aria-label="Refresh"]');
  const [result] = await measure({ 'UI: press on "big" → first row drawn': async (run) => {
    if (run > 0) {
      await folder.click();
      await treeRow(page, CONTAINER, FIRST_NAME).waitFor({ state: 'detached' });
      await refresh.click();
    }
    await waitForQuietTree(page);
    await page.evaluate(armFirstRowTimer, { containerId: `workbench.view.extension.${CONTAINER}`, name: FIRST_NAME });
    await folder.click();
    return page.evaluate(() => window.benchFirstRow);
  } });
  return result;
}

/**
 * Fails unless RGW saw one listing of big/ per UI run: a run served from a cache (the
 * provider's or the tree's) would time rendering alone and make the UI numbers meaningless.
 */
async function checkUiListedEachRun(store, offset, timeoutMs = 10_000) {
  const listing = new RegExp(`"GET /${BUCKET}/?\\?[^"]*prefix=${encodeURIComponent(PREFIX)}[& ]`, 'g');
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const seen = readFrom(rgwLog(store), offset).match(listing)?.length ?? 0;
    if (seen === options.runs) return;
    if (seen > options.runs || Date.now() > deadline) throw new Error(`RGW logged ${seen} listings of ${PREFIX} for ${options.runs} UI runs`);
    // Ceph writes its log asynchronously: give the last request's line time to land.
    await sleep(250);
  }
}

/** radosgw's log (rgw.mjs names it after the daemon, client.rgw), whose access lines name each request. */
function rgwLog(store) {
  return join(store.dir, 'log', 'client.rgw.log');
}

function readFrom(file, offset) {
  const fd = openSync(file, 'r');
  try {
    const buffer = Buffer.alloc(Math.max(0, statSync(file).size - offset));
    readSync(fd, buffer, 0, buffer.length, offset);
    return buffer.toString('utf8');
  } finally {
    closeSync(fd);
  }
}

/**
 * Waits until the view has settled (whatever a refresh reloads has been drawn), so the press
 * lands on the current "big" row and nothing else is in flight when the clock starts.
 */
async function waitForQuietTree(page, quietMs = 750, timeoutMs = 60_000) {
  await page.evaluate(({ containerId, quietMs, timeoutMs }) => new Promise((resolve, reject) => {
    const view = document.getElementById(containerId);
    const busy = () => view.querySelector('.monaco-progress-container.active') !== null;
    let timer;
    const restart = () => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        if (busy()) return restart();
        observer.disconnect();
        clearTimeout(deadline);
        resolve();
      }, quietMs);
    };
    const observer = new MutationObserver(restart);
    observer.observe(view, { childList: true, subtree: true, attributes: true, characterData: true });
    const deadline = setTimeout(() => {
      observer.disconnect();
      clearTimeout(timer);
      reject(new Error(`the Buckets view did not settle within ${timeoutMs / 1000} s`));
    }, timeoutMs);
    restart();
  }), { containerId: `workbench.view.extension.${CONTAINER}`, quietMs, timeoutMs });
}

/**
 * Runs in the page. Sets window.benchFirstRow to a promise of the milliseconds from the next
 * pointer press in the view to the animation frame that first draws a row labelled `name`.
 * Timed in the page so Playwright's round trips and polling are not counted.
 */
function armFirstRowTimer({ containerId, name, timeoutMs = 60_000 }) {
  const view = document.getElementById(containerId);
  window.benchFirstRow = new Promise((resolve, reject) => {
    let pressedAt;
    view.addEventListener('pointerdown', () => { pressedAt = performance.now(); }, { capture: true, once: true });
    const shown = () => [...view.querySelectorAll('.monaco-list-row[role="treeitem"] .label-name')]
      .some((label) => label.textContent.trim() === name && label.closest('.monaco-list-row').offsetHeight > 0);
    const observer = new MutationObserver(() => {
      if (pressedAt === undefined || !shown()) return;
      observer.disconnect();
      clearTimeout(deadline);
      requestAnimationFrame(() => resolve(performance.now() - pressedAt));
    });
    observer.observe(view, { childList: true, subtree: true, characterData: true });
    const deadline = setTimeout(() => {
      observer.disconnect();
      reject(new Error(`no row "${name}" within ${timeoutMs / 1000} s of the press`));
    }, timeoutMs);
  });
}

// ---------------------------------------------------------------------------------------------
// Measuring and reporting

/**
 * Runs each timer options.runs times, in rounds of one each, and prints their times.
 * @param {Record<string, (run: number) => Promise<number>>} timers milliseconds by label
 */
async function measure(timers) {
  const measured = Object.keys(timers).map((label) => ({ label, times: [] }));
  for (let run = 0; run < options.runs; run++) {
    for (const { label, times } of measured) times.push(await timers[label](run));
  }
  for (const { label, times } of measured) console.log(`${label}: ${times.map((t) => t.toFixed(0)).join(', ')} ms`);
  return measured;
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

function printTable(seedingLine) {
  const reference = median(results.find((r) => r.label.startsWith('engine listPage, warm')).times);
  const rows = results.map(({ label, times }) => [
    label,
    Math.min(...times).toFixed(0),
    median(times).toFixed(0),
    Math.max(...times).toFixed(0),
    `${(median(times) / reference).toFixed(1)}×`,
  ]);
  const header = ['', 'min ms', 'median ms', 'max ms', '÷ engine warm'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('   ');
  const ui = median(results.at(-1).times);
  console.log(`
Time to the first page (${Math.min(PAGE_SIZE, options.objects).toLocaleString('en-US')} keys) of s3://${BUCKET}/${PREFIX} holding ${options.objects.toLocaleString('en-US')} objects, Ceph RGW (memstore) on 127.0.0.1, ${options.runs} runs each
${seedingLine}

${line(header)}
${line(widths.map((w) => '-'.repeat(w)))}
${rows.map(line).join('\n')}

Requirement: first page on screen in under ${TARGET_MS} ms: UI median ${ui.toFixed(0)} ms, ${ui < TARGET_MS ? 'met' : 'NOT met'}.
Benchmark took ${((performance.now() - started) / 1000).toFixed(0)} s.`);
}

function parseArgs(args) {
  const parsed = { objects: 100_000, runs: 7 };
  // Fewer runs than this leave a median that one noisy run can move.
  const least = { objects: 1, runs: 5 };
  for (let i = 0; i < args.length; i++) {
    const name = args[i].replace(/^--/, '');
    const value = Number(args[++i]);
    if (!(name in parsed) || !Number.isInteger(value) || value < least[name]) {
      console.error(USAGE);
      process.exit(2);
    }
    parsed[name] = value;
  }
  return parsed;
}

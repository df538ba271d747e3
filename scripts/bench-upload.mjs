// `npm run bench:upload [-- --quick] [--runs N] [--sets big,small,mix,small-wan] [--latency MS]
//   [--wan-latency MS] [--tools engine,aws,aws-tuned,rclone,rclone-tuned,lib-storage] [--profile]`
//
// Ranks this project's upload engine against its peers, in one run, on the same data and the same
// local S3 server:
//   engine       src/transfer (prepareUpload + runPrepared) with the extension's default settings,
//                in a Node process of its own (scripts/lib/bench-engine-runner.mjs, bundled by
//                esbuild as the CLI and the extension are);
//   aws          `aws s3 cp --recursive` (Debian's aws-cli v2), default settings, and tuned
//                (default.s3.max_concurrent_requests 64);
//   rclone       `rclone copy` (Debian's rclone) with --transfers 16, and tuned (more transfers and
//                checkers, no HEAD after each PUT, multipart from 16 MiB in 8 MiB chunks);
//   lib-storage  @aws-sdk/lib-storage `Upload`, one per file, 16 files at a time
//                (scripts/lib/bench-libstorage-runner.mjs).
// The server is test/harness/s3-sink.mjs on 127.0.0.1: it reads and discards bodies, so it is
// not the bottleneck (its CPU is printed to show it). The data sets are written to a temp dir
// and stay in the page cache, so the disk is not measured either: what is left is the client.
//
// Each tool runs as its own process under GNU time, which gives wall time, peak RSS and CPU
// seconds; each run starts from an empty sink, and a run counts only if the sink ends up holding
// every file with every byte. Medians of the runs that counted are reported, with the ratio of the
// engine's speed to each peer's and a PASS/FAIL line per target of the issue. The tables are
// printed and written, as Markdown, to test-results/bench-upload.md. Every process it starts and
// the temp dir are removed on success, on error and on Ctrl-C.
import { execFileSync, spawn } from 'node:child_process';
import os, { cpus, constants, tmpdir } from 'node:os';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { randomFillSync } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { mulberry32 } from '../test/harness/seeded-random.mjs';
import { DEBIAN, ensureDebianPackages, ensureNpmPackages, repoRoot } from './lib/setup.mjs';

const USAGE = `usage: node scripts/bench-upload.mjs [--quick] [--runs N (default 3)] [--sets ${'big,small,mix,small-wan'}]
       [--latency MS (default 0)] [--wan-latency MS (default 20)] [--tools ${'engine,aws,aws-tuned,rclone,rclone-tuned,lib-storage'}] [--profile]`;
const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;
const BUCKET = 'bench';
const ACCESS_KEY = 'bench-access-key';
const SECRET_KEY = 'bench-secret-key';
const REGION = 'us-east-1';
const AWS_CLI = '/usr/bin/aws'; // a Python aws-cli v1 shim may come first on PATH
const RCLONE = '/usr/bin/rclone';
const GNU_TIME = '/usr/bin/time';
/** The engine's default memory budget (researchCloud.upload.memoryBudgetMB). */
const MEMORY_BUDGET = 512 * MiB;
/** A run that takes longer than this is stopped and counted as failed. */
const RUN_TIMEOUT_MS = 30 * 60_000;
const PROFILE_DIR = join(repoRoot, 'test-results', 'bench-upload-profiles');
const RESULTS_FILE = join(repoRoot, 'test-results', 'bench-upload.md');

const options = parseArgs(process.argv.slice(2));
const started = performance.now();
const loadStart = os.loadavg()[0];

// ---------------------------------------------------------------------------------------------
// Clean-up: children are started in process groups of their own and killed by group; the temp dir
// goes on any exit. Exiting on a signal (instead of dying by it) makes the 'exit' hook run.

let scratch;
const children = new Set();
process.on('exit', () => {
  for (const child of children) killGroup(child, 'SIGKILL');
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, () => process.exit(128 + constants.signals[signal]));

function killGroup(child, signal) {
  try {
    process.kill(-child.pid, signal);
  } catch {
    // already gone
  }
}

// ---------------------------------------------------------------------------------------------
// Data sets

const between = (next, low, high) => low + Math.floor(next() * (high - low + 1));

/** Files as { rel, size } per set, and how each set is described in the output. */
function dataSets(quick) {
  // Seeded, so that every run of the benchmark makes the same sizes.
  const next = mulberry32(42);
  const big = quick ? { count: 2, size: 256 * MiB } : { count: 2, size: GiB };
  const small = quick ? { count: 2_000 } : { count: 20_000 };
  const mix = quick
    ? { small: 200, medium: 20, large: 2, largeRange: [20 * MiB, 60 * MiB] }
    : { small: 2_000, medium: 200, large: 4, largeRange: [100 * MiB, 300 * MiB] };
  const sets = {
    big: {
      description: `${big.count} files of ${formatSize(big.size)}`,
      files: Array.from({ length: big.count }, (_, i) => ({ rel: `file-${i + 1}.bin`, size: big.size })),
    },
    small: {
      description: `${small.count.toLocaleString('en-US')} files of 4 KiB in folders of 1,000`,
      files: Array.from({ length: small.count }, (_, i) => ({ rel: `d${String(Math.floor(i / 1000)).padStart(2, '0')}/f${String(i).padStart(5, '0')}.dat`, size: 4 * KiB })),
    },
    mix: {
      description: `${mix.small.toLocaleString('en-US')} files of 1–64 KiB, ${mix.medium} of 1–8 MiB, ${mix.large} of ${formatSize(mix.largeRange[0])}–${formatSize(mix.largeRange[1])} (sizes uniform, seeded)`,
      files: [
        ...Array.from({ length: mix.small }, (_, i) => ({ rel: `small/d${String(Math.floor(i / 100)).padStart(2, '0')}/s${String(i).padStart(4, '0')}.dat`, size: between(next, KiB, 64 * KiB) })),
        ...Array.from({ length: mix.medium }, (_, i) => ({ rel: `medium/m${String(i).padStart(3, '0')}.dat`, size: between(next, MiB, 8 * MiB) })),
        ...Array.from({ length: mix.large }, (_, i) => ({ rel: `large/l${i}.dat`, size: between(next, ...mix.largeRange) })),
      ],
    },
  };
  for (const [name, set] of Object.entries(sets)) {
    set.name = name;
    set.count = set.files.length;
    set.bytes = set.files.reduce((sum, f) => sum + f.size, 0);
  }
  return sets;
}

/** Random bytes (3 GB/s from randomFillSync here, faster than the disk), written in 8 MiB chunks. */
function writeDataSet(dir, set) {
  const chunk = Buffer.allocUnsafe(8 * MiB);
  const made = new Set();
  for (const file of set.files) {
    const path = join(dir, file.rel);
    const parent = path.slice(0, path.lastIndexOf('/'));
    if (!made.has(parent)) {
      mkdirSync(parent, { recursive: true });
      made.add(parent);
    }
    const fd = openSync(path, 'w');
    try {
      for (let done = 0; done < file.size;) {
        const n = Math.min(chunk.length, file.size - done);
        randomFillSync(chunk, 0, n);
        done += writeSync(fd, chunk, 0, n);
      }
    } finally {
      closeSync(fd);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Tools

/**
 * Each tool: how to run it on a set's folder, its environment, and what its output adds.
 * `peer` groups the configurations of one peer for the targets.
 */
function tools(sink) {
  const aws = (configFile) => ({
    command: (dir) => [AWS_CLI, 's3', 'cp', '--recursive', '--only-show-errors', '--endpoint-url', sink.endpoint, dir, `s3://${BUCKET}/${lastSegment(dir)}/`],
    env: {
      ...baseEnv(), AWS_CONFIG_FILE: configFile, AWS_SHARED_CREDENTIALS_FILE: '/nonexistent', AWS_ACCESS_KEY_ID: ACCESS_KEY,
      AWS_SECRET_ACCESS_KEY: SECRET_KEY, AWS_REGION: REGION, AWS_DEFAULT_REGION: REGION, AWS_PAGER: '',
    },
  });
  const rcloneEnv = {
    ...baseEnv(), RCLONE_CONFIG: join(scratch, 'rclone.conf'), RCLONE_CONFIG_SINK_TYPE: 's3', RCLONE_CONFIG_SINK_PROVIDER: 'Other',
    RCLONE_CONFIG_SINK_ENDPOINT: sink.endpoint, RCLONE_CONFIG_SINK_ACCESS_KEY_ID: ACCESS_KEY, RCLONE_CONFIG_SINK_SECRET_ACCESS_KEY: SECRET_KEY,
  };
  const rclone = (flags) => ({ command: (dir) => [RCLONE, 'copy', dir, `sink:${BUCKET}/${lastSegment(dir)}`, '-q', ...flags], env: rcloneEnv });
  const sdkEnv = {
    ...baseEnv(), AWS_ENDPOINT_URL_S3: sink.endpoint, AWS_ACCESS_KEY_ID: ACCESS_KEY, AWS_SECRET_ACCESS_KEY: SECRET_KEY, AWS_REGION: REGION,
    AWS_CONFIG_FILE: '/nonexistent', AWS_SHARED_CREDENTIALS_FILE: '/nonexistent',
  };
  const RCLONE_TUNED = ['--transfers', '64', '--checkers', '64', '--s3-no-head', '--s3-no-check-bucket', '--s3-upload-cutoff', '16M', '--s3-chunk-size', '8M', '--s3-upload-concurrency', '8'];
  const all = [
    {
      id: 'engine', label: 'engine', peer: 'engine', settings: 'defaults: adaptive concurrency (16, ≤ 64), 512 MiB budget, 8 MiB parts',
      command: (dir) => [process.execPath, ...(options.profile ? ['--cpu-prof', `--cpu-prof-dir=${PROFILE_DIR}`] : []),
        join(scratch, 'engine', 'bench-engine-runner.js'), dir, BUCKET, join(scratch, 'jobs')],
      env: sdkEnv,
      json: true,
    },
    { id: 'aws', label: 'aws-cli', peer: 'aws', settings: 'defaults (10 requests, 8 MiB parts)', ...aws(join(scratch, 'aws-default.ini')) },
    { id: 'aws-tuned', label: 'aws-cli tuned', peer: 'aws', settings: 'max_concurrent_requests 64', ...aws(join(scratch, 'aws-tuned.ini')) },
    { id: 'rclone', label: 'rclone', peer: 'rclone', settings: '--transfers 16', ...rclone(['--transfers', '16']) },
    { id: 'rclone-tuned', label: 'rclone tuned', peer: 'rclone', settings: RCLONE_TUNED.join(' '), ...rclone(RCLONE_TUNED) },
    {
      id: 'lib-storage', label: 'lib-storage', peer: 'lib-storage', settings: 'Upload per file, 16 files at a time, queueSize 4, partSize 8 MiB',
      command: (dir) => [process.execPath, join(repoRoot, 'scripts/lib/bench-libstorage-runner.mjs'), dir, BUCKET],
      env: sdkEnv,
      json: true,
    },
  ];
  return all.filter((tool) => options.tools.includes(tool.id));
}

/** Nothing of this machine's AWS or rclone configuration leaks in: HOME is the temp dir. */
function baseEnv() {
  return { PATH: process.env.PATH, HOME: join(scratch, 'home'), LANG: 'C.UTF-8', TMPDIR: tmpdir() };
}

const lastSegment = (dir) => dir.slice(dir.lastIndexOf('/') + 1);

/** aws-cli's configuration files: empty (defaults), and one written by `aws configure set` itself. */
function writeAwsConfigs() {
  writeFileSync(join(scratch, 'aws-default.ini'), '');
  writeFileSync(join(scratch, 'rclone.conf'), '');
  const tuned = join(scratch, 'aws-tuned.ini');
  execFileSync(AWS_CLI, ['configure', 'set', 'default.s3.max_concurrent_requests', '64'], { env: { ...baseEnv(), AWS_CONFIG_FILE: tuned } });
  if (!/max_concurrent_requests\s*=\s*64/.test(readFileSync(tuned, 'utf8'))) throw new Error(`aws configure set did not write ${tuned}`);
}

// ---------------------------------------------------------------------------------------------
// Measuring

/**
 * Runs a command under GNU time in a process group of its own: wall seconds (timed here),
 * peak RSS of the process (ru_maxrss: every tool here is one process, and GNU time reports the
 * largest of its waited-for descendants), user + system CPU seconds of the process and its children.
 */
function runTimed(argv, env) {
  const timeFile = join(scratch, `time-${process.hrtime.bigint()}`);
  return new Promise((resolve) => {
    const t0 = performance.now();
    const child = spawn(GNU_TIME, ['-f', '%e %U %S %M', '-o', timeFile, ...argv], { cwd: repoRoot, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    children.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => { if (stdout.length < 1e6) stdout += d; });
    child.stderr.on('data', (d) => { if (stderr.length < 1e5) stderr += d; });
    const timer = setTimeout(() => {
      stderr += `\n[stopped after ${RUN_TIMEOUT_MS / 60_000} min]`;
      killGroup(child, 'SIGTERM');
      setTimeout(() => killGroup(child, 'SIGKILL'), 5000).unref();
    }, RUN_TIMEOUT_MS);
    child.on('close', (code, signal) => {
      const wall = (performance.now() - t0) / 1000;
      clearTimeout(timer);
      children.delete(child);
      let usage;
      try {
        // GNU time writes "Command exited with non-zero status N" first when the command failed.
        const [, user, system, maxKb] = readFileSync(timeFile, 'utf8').trim().split('\n').at(-1).split(' ').map(Number);
        usage = { cpu: user + system, rss: maxKb * 1024 };
        rmSync(timeFile, { force: true });
      } catch {
        usage = { cpu: NaN, rss: NaN };
      }
      resolve({ code: code ?? signal, wall, stdout, stderr, ...usage });
    });
  });
}

/** One run of one tool on one set, from an empty sink; failed unless the sink holds all of the set. */
async function measureRun(tool, set, dir, sink) {
  sink.reset();
  await sleep(300); // let the previous run's sockets close and its CPU settle
  const cpu0 = process.cpuUsage();
  const run = await runTimed(tool.command(dir), tool.env);
  const cpu = process.cpuUsage(cpu0);
  const stats = sink.stats;
  const result = {
    ...run,
    sinkCpu: (cpu.user + cpu.system) / 1e6,
    sinkMaxInFlight: stats.maxConcurrentRequests,
    sinkRequests: Object.values(stats.requests).reduce((a, b) => a + b, 0),
    sinkRequestsByOp: { ...stats.requests },
    sinkErrors: { ...stats.errors },
    objects: stats.objects,
    objectBytes: stats.objectBytes,
  };
  if (tool.json) {
    try {
      result.report = JSON.parse(run.stdout.trim().split('\n').at(-1));
    } catch {
      result.report = undefined;
    }
  }
  const problems = [];
  if (run.code !== 0) problems.push(`exit ${run.code}`);
  if (stats.objects !== set.count || stats.objectBytes !== set.bytes) {
    problems.push(`sink holds ${stats.objects}/${set.count} objects, ${stats.objectBytes}/${set.bytes} bytes`);
  }
  if (result.report?.error) problems.push(result.report.error);
  result.ok = problems.length === 0;
  result.problems = problems;
  return result;
}

function median(values) {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (!sorted.length) return NaN;
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Medians over the runs that counted. */
function summarize(tool, set, runs) {
  const ok = runs.filter((r) => r.ok);
  const m = (f) => median(ok.map(f));
  const wall = m((r) => r.wall);
  const cpu = m((r) => r.cpu);
  const summary = {
    tool, set, runs, okRuns: ok.length,
    wall,
    mbps: set.bytes / 1e6 / wall,
    filesps: set.count / wall,
    rss: m((r) => r.rss),
    maxRss: Math.max(...ok.map((r) => r.rss)),
    cpu,
    cpuPerGB: cpu / (set.bytes / 1e9),
    cpuPer1kFiles: cpu / (set.count / 1000),
    sinkCpu: m((r) => r.sinkCpu),
    sinkShare: m((r) => r.sinkCpu / r.wall),
    inFlight: m((r) => r.sinkMaxInFlight),
    requests: m((r) => r.sinkRequests),
  };
  if (tool.id === 'engine' && ok.length) {
    const reports = ok.map((r) => r.report);
    summary.engine = {
      uploadSeconds: median(reports.map((r) => r.seconds)),
      startupSeconds: median(reports.map((r) => r.startupSeconds)),
      scanSeconds: median(reports.map((r) => r.scanSeconds)),
      baselineRss: median(reports.map((r) => r.baselineRss)),
      maxBaselineRss: Math.max(...reports.map((r) => r.baselineRss)),
      finalConcurrency: reports.map((r) => r.finalConcurrency),
      peakBufferedBytes: Math.max(...reports.map((r) => r.peakBufferedBytes)),
      requests: median(reports.map((r) => r.requests)),
      retries: reports.reduce((n, r) => n + r.retries, 0),
      steps: reports.map((r) => r.concurrencySteps.map((s) => s.to)),
    };
  }
  return summary;
}

// ---------------------------------------------------------------------------------------------
// Reporting

/** The speed that ranks tools on a set: bytes for big files, files for small ones. */
const speedOf = (s) => (s.set.name.startsWith('small') ? s.filesps : s.mbps);

function fmt(value, digits) {
  if (!Number.isFinite(value)) return '—';
  if (digits === undefined) digits = value >= 100 ? 0 : value >= 10 ? 1 : 2;
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

const mib = (bytes) => fmt(bytes / MiB, 0);

function formatSize(bytes) {
  if (bytes >= GiB && bytes % GiB === 0) return `${bytes / GiB} GiB`;
  if (bytes >= MiB) return `${fmt(bytes / MiB, bytes % MiB ? 1 : 0)} MiB`;
  return `${fmt(bytes / KiB, 0)} KiB`;
}

function markdownTable(header, rows, align) {
  const line = (cells) => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map((_, i) => (align[i] === 'r' ? '---:' : '---'))), ...rows.map(line)].join('\n');
}

function textTable(header, rows, align) {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells) => cells.map((c, i) => (align[i] === 'r' ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ');
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

/** The summary: one row per set and tool; what the README carries. */
function summaryTable(summaries, render) {
  const header = ['Set', 'Tool', 'Runs', 'MB/s', 'Files/s', 'Peak RSS MiB', 'CPU s/GB', 'CPU s/1k files', 'Engine ÷ tool'];
  const align = ['l', 'l', 'r', 'r', 'r', 'r', 'r', 'r', 'r'];
  const rows = [];
  for (const group of summaries) {
    const engine = group.find((s) => s.tool.id === 'engine');
    for (const s of group) {
      const ratio = engine?.okRuns && s.okRuns ? `${fmt(speedOf(engine) / speedOf(s), 2)}×` : '—';
      rows.push([
        s.set.label, s.tool.label, `${s.okRuns}/${s.runs.length}`, fmt(s.mbps), fmt(s.filesps, s.filesps < 10 ? 2 : 0), mib(s.rss),
        // Per 1,000 files means nothing for a set of a few files.
        fmt(s.cpuPerGB), s.set.count >= 1000 ? fmt(s.cpuPer1kFiles) : '—', s.tool.id === 'engine' ? '' : ratio,
      ]);
    }
  }
  return render(header, rows, align);
}

/** Per set: wall time, CPU, the sink's load and what each tool had in flight. */
function detailTable(group, render) {
  const header = ['Tool', 'Settings', 'Wall s', 'Client CPU s', 'Sink CPU s', 'Sink busy', 'Max in flight at sink', 'Requests at sink'];
  const align = ['l', 'l', 'r', 'r', 'r', 'r', 'r', 'r'];
  const rows = group.map((s) => [
    s.tool.label, s.tool.settings, fmt(s.wall), fmt(s.cpu), fmt(s.sinkCpu), `${fmt(s.sinkShare * 100, 0)}%`, fmt(s.inFlight, 0), fmt(s.requests, 0),
  ]);
  return render(header, rows, align);
}

function engineLine(group) {
  const e = group.find((s) => s.tool.id === 'engine')?.engine;
  if (!e) return undefined;
  return `engine: upload ${fmt(e.uploadSeconds)} s after ${fmt(e.startupSeconds)} s of start-up (node and the bundle) and ${fmt(e.scanSeconds)} s of scan; `
    + `final concurrency ${e.finalConcurrency.join(', ')}; peak buffered ${mib(e.peakBufferedBytes)} MiB; ${fmt(e.requests, 0)} requests, ${e.retries} retries; `
    + `baseline RSS ${mib(e.baselineRss)} MiB; concurrency steps per run: ${e.steps.map((s) => (s.length ? s.join('→') : 'none')).join(' | ')}`;
}

/** The issue's targets, on the sets run at --latency (the WAN set is for information). */
function targets(summaries) {
  const lines = [];
  const bySet = Object.fromEntries(summaries.map((g) => [g[0].set.label, g]));
  const best = (group, peers) => {
    const candidates = group.filter((s) => peers.includes(s.tool.peer) && s.okRuns);
    return candidates.length ? candidates.reduce((a, b) => (speedOf(b) > speedOf(a) ? b : a)) : undefined;
  };
  const check = (label, group, peers, factor, unit) => {
    if (!group) return;
    const engine = group.find((s) => s.tool.id === 'engine' && s.okRuns);
    const peer = best(group, peers);
    if (!engine || !peer) {
      lines.push(`NOT EVALUATED  ${label}: ${!engine ? 'no successful engine run' : 'no successful peer run'}`);
      return;
    }
    const ratio = speedOf(engine) / speedOf(peer);
    lines.push(`${ratio >= factor ? 'PASS' : 'FAIL'}  ${label}: engine ${fmt(speedOf(engine))} ${unit} vs best ${peer.tool.label} ${fmt(speedOf(peer))} ${unit} = ${fmt(ratio, 2)}× (target ≥ ${fmt(factor, 1)}×)`);
  };
  check('small files ≥ 1.5× rclone files/s', bySet.small, ['rclone'], 1.5, 'files/s');
  check('big files ≥ 1.2× aws-cli MB/s', bySet.big, ['aws'], 1.2, 'MB/s');
  check('mix ≥ best peer', bySet.mix, ['aws', 'rclone', 'lib-storage'], 1.0, 'MB/s');
  for (const group of summaries) {
    const engine = group.find((s) => s.tool.id === 'engine' && s.okRuns);
    if (!engine) continue;
    const limit = MEMORY_BUDGET + engine.engine.maxBaselineRss;
    lines.push(`${engine.maxRss <= limit ? 'PASS' : 'FAIL'}  memory, ${engine.set.label}: engine peak RSS ${mib(engine.maxRss)} MiB (largest of ${engine.okRuns} runs) `
      + `≤ budget 512 MiB + baseline ${mib(engine.engine.maxBaselineRss)} MiB = ${mib(limit)} MiB`);
  }
  return lines;
}

function toolVersions() {
  const version = (argv, pattern) => {
    try {
      return pattern.exec(execFileSync(argv[0], argv.slice(1), { encoding: 'utf8', env: { PATH: process.env.PATH, HOME: tmpdir() } }))?.[0] ?? '?';
    } catch {
      return '?';
    }
  };
  const libStorage = JSON.parse(readFileSync(join(repoRoot, 'node_modules/@aws-sdk/lib-storage/package.json'), 'utf8')).version;
  return `node ${process.version}, ${version([AWS_CLI, '--version'], /aws-cli\/\S+/)}, ${version([RCLONE, 'version'], /rclone v\S+/)}, @aws-sdk/lib-storage ${libStorage}`;
}

function report(summaries, sets, context) {
  const mainSets = summaries.filter((g) => !g[0].set.wan);
  const lines = [
    `Uploads to s3-sink on 127.0.0.1 (bodies discarded), ${options.runs} run${options.runs > 1 ? 's' : ''} per tool, medians; MB = 10^6 bytes.`,
    `Machine: ${cpus().length} × ${cpus()[0]?.model ?? 'CPU'}, shared; ${context.versions}.`,
    `Data${options.quick ? ' (--quick: smaller sets)' : ''}: ${Object.values(sets).filter((s) => context.used.has(s.name)).map((s) => `${s.name}: ${s.description}, ${fmt(s.bytes / 1e6, 0)} MB`).join('; ')}. Random bytes, in the page cache.`,
    `Sink latency: ${options.latency} ms per request${summaries.some((g) => g[0].set.wan) ? `; the set marked "@ ${options.wanLatency} ms" adds ${options.wanLatency} ms per request, like a WAN, and is for information (the targets are at ${options.latency} ms)` : ''}.`,
    'Peak RSS: GNU time (ru_maxrss) of the tool\'s process. CPU: user + system of the tool\'s process. Differences under about 1.3× are ties on this machine.',
    'Memory target: the engine\'s peak RSS at most its 512 MiB budget plus a baseline, the runner\'s RSS once the engine is loaded and the files scanned, before the first request (the largest of the runs).',
    `Load average (1 min) at the start ${fmt(context.loadStart, 1)}, at the end ${fmt(os.loadavg()[0], 1)}: other work on this machine adds noise.`,
  ];
  const text = [
    '', ...lines, '',
    summaryTable(summaries, textTable), '',
    ...targets(mainSets), '',
    ...summaries.flatMap((g) => [`${g[0].set.label}:`, detailTable(g, textTable), engineLine(g) ?? '', '']),
    `Benchmark took ${fmt(context.seconds, 0)} s.`,
  ].join('\n');
  const markdown = [
    `## Upload benchmark (${new Date().toISOString().slice(0, 10)})`, '',
    ...lines.map((l) => `${l}  `), '',
    summaryTable(summaries, markdownTable), '',
    ...targets(mainSets).map((l) => `- ${l}`), '',
    ...summaries.flatMap((g) => [`### ${g[0].set.label}`, '', detailTable(g, markdownTable), '', engineLine(g) ? `${engineLine(g)}` : '', '']),
    `Command: \`npm run bench:upload${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}\`; took ${fmt(context.seconds, 0)} s.`, '',
  ].join('\n');
  return { text, markdown };
}

// ---------------------------------------------------------------------------------------------
// Main

/**
 * The engine runs bundled by esbuild, as users run it (dist/cli.js, dist/extension.js): the
 * runner and the engine in one file, its reader threads' script beside it.
 */
async function bundleEngineRunner() {
  const esbuild = await import('esbuild');
  const common = { bundle: true, platform: 'node', target: 'node20', format: 'cjs', minify: !options.profile, logLevel: 'error', mainFields: ['module', 'main'] };
  await esbuild.build({ ...common, entryPoints: [join(repoRoot, 'scripts/lib/bench-engine-runner.mjs')], outfile: join(scratch, 'engine', 'bench-engine-runner.js') });
  await esbuild.build({ ...common, entryPoints: ['fileReaderWorker', 'scanWorker'].map((name) => join(repoRoot, `src/transfer/${name}.ts`)), outdir: join(scratch, 'engine') });
}

async function main() {
  ensureNpmPackages();
  // GNU time is not in setup.mjs's list of Debian packages; it is added here for the check.
  DEBIAN.time ??= GNU_TIME;
  ensureDebianPackages(['awscli', 'rclone', 'time']);
  const { startS3Sink } = await import('../test/harness/s3-sink.mjs');

  scratch = mkdtempSync(join(tmpdir(), 'bench-upload-'));
  mkdirSync(join(scratch, 'home'));
  if (options.profile) mkdirSync(PROFILE_DIR, { recursive: true });
  writeAwsConfigs();
  if (options.tools.includes('engine')) await bundleEngineRunner();

  const sets = dataSets(options.quick);
  const used = new Set(options.sets.map((s) => (s === 'small-wan' ? 'small' : s)));
  const t0 = performance.now();
  for (const name of used) {
    process.stdout.write(`Writing data set ${name}: ${sets[name].description}… `);
    writeDataSet(join(scratch, 'data', name), sets[name]);
    console.log(`${fmt(sets[name].bytes / 1e6, 0)} MB`);
  }
  // Written data must reach the disk now, not while a tool is being timed.
  execFileSync('sync');
  console.log(`Data sets written in ${fmt((performance.now() - t0) / 1000, 1)} s under ${scratch}`);

  const sinks = new Map();
  const sinkFor = async (latencyMs) => {
    if (!sinks.has(latencyMs)) {
      const sink = await startS3Sink({ latencyMs, verifyMd5: false });
      const reply = await fetch(`${sink.endpoint}/${BUCKET}`, { method: 'PUT' });
      if (!reply.ok) throw new Error(`creating the bucket on the sink: HTTP ${reply.status}`);
      sinks.set(latencyMs, sink);
    }
    return sinks.get(latencyMs);
  };

  const summaries = [];
  try {
    for (const setName of options.sets) {
      const wan = setName === 'small-wan';
      const latency = wan ? options.wanLatency : options.latency;
      const set = { ...sets[wan ? 'small' : setName], wan, label: wan ? `small @ ${latency} ms` : latency ? `${setName} @ ${latency} ms` : setName };
      const sink = await sinkFor(latency);
      const list = tools(sink);
      const dir = join(scratch, 'data', set.name);
      const runs = new Map(list.map((t) => [t.id, []]));
      console.log(`\n${set.label}: ${set.description} (${fmt(set.bytes / 1e6, 0)} MB) → ${sink.endpoint}, latency ${latency} ms`);
      for (let run = 0; run < options.runs; run++) {
        // A different tool goes first each round, so no tool always meets the same machine state.
        const order = list.map((_, i) => list[(i + run) % list.length]);
        for (const tool of order) {
          const r = await measureRun(tool, set, dir, sink);
          runs.get(tool.id).push(r);
          const engineNote = r.report && tool.id === 'engine' && !r.report.error
            ? `, final concurrency ${r.report.finalConcurrency}, peak buffered ${mib(r.report.peakBufferedBytes)} MiB, ${r.report.retries} retries` : '';
          console.log(`  [run ${run + 1}/${options.runs}] ${tool.label.padEnd(13)} ${fmt(r.wall).padStart(6)} s  ${fmt(set.bytes / 1e6 / r.wall).padStart(6)} MB/s  `
            + `${fmt(set.count / r.wall, set.count / r.wall < 10 ? 2 : 0).padStart(6)} files/s  RSS ${mib(r.rss).padStart(5)} MiB  CPU ${fmt(r.cpu).padStart(5)} s  sink CPU ${fmt(r.sinkCpu).padStart(5)} s  `
            + `in flight ≤ ${r.sinkMaxInFlight}${engineNote}  ${r.ok ? 'ok' : `FAILED: ${r.problems.join('; ')}`}`);
          if (!r.ok) {
            const tail = `${r.stderr}\n${r.stdout}`.trim().split('\n').slice(-8).join('\n    ');
            if (tail) console.log(`    ${tail}`);
            if (Object.keys(r.sinkErrors).length) console.log(`    sink errors: ${JSON.stringify(r.sinkErrors)}`);
          }
        }
      }
      summaries.push(list.map((tool) => summarize(tool, set, runs.get(tool.id))));
    }
  } finally {
    for (const sink of sinks.values()) await sink.stop();
  }

  const { text, markdown } = report(summaries, sets, { used, versions: toolVersions(), seconds: (performance.now() - started) / 1000, loadStart });
  console.log(text);
  console.log(`\nMarkdown (also in ${RESULTS_FILE}):\n\n${markdown}`);
  mkdirSync(join(repoRoot, 'test-results'), { recursive: true });
  writeFileSync(RESULTS_FILE, markdown);
  const failedTarget = targets(summaries.filter((g) => !g[0].set.wan)).some((l) => !l.startsWith('PASS'));
  if (failedTarget) process.exitCode = 1;
}

function parseArgs(args) {
  const parsed = {
    quick: false, runs: 3, sets: ['big', 'small', 'mix', 'small-wan'], latency: 0, wanLatency: 20,
    tools: ['engine', 'aws', 'aws-tuned', 'rclone', 'rclone-tuned', 'lib-storage'], profile: false,
  };
  const fail = (why) => {
    console.error(`${why}\n${USAGE}`);
    process.exit(2);
  };
  const list = (value, allowed) => {
    const items = (value ?? '').split(',').map((s) => s.trim()).filter(Boolean);
    if (!items.length || items.some((s) => !allowed.includes(s))) fail(`expected a comma-separated list of ${allowed.join(', ')}`);
    return items;
  };
  const number = (name, value, least) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < least) fail(`--${name} needs an integer of at least ${least}`);
    return n;
  };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === '--quick') parsed.quick = true;
    else if (arg === '--profile') parsed.profile = true;
    else if (arg === '--runs') parsed.runs = number('runs', args[++i], 1);
    else if (arg === '--latency') parsed.latency = number('latency', args[++i], 0);
    else if (arg === '--wan-latency') parsed.wanLatency = number('wan-latency', args[++i], 1);
    else if (arg === '--sets') parsed.sets = list(args[++i], ['big', 'small', 'mix', 'small-wan']);
    else if (arg === '--tools') parsed.tools = list(args[++i], parsed.tools);
    else if (arg === '--help' || arg === '-h') {
      console.log(USAGE);
      process.exit(0);
    } else fail(`unknown argument ${arg}`);
  }
  if (!parsed.tools.includes('engine')) console.warn('Without the engine there are no ratios and no targets.');
  return parsed;
}

try {
  await main();
} catch (error) {
  console.error(error instanceof Error ? error.stack : error);
  process.exitCode = 1;
}

// `npm run bench:ssm [-- --mb N] [--keys N] [--runs N]`: how fast the Session Manager shell client
// is against the local SSM server (test/harness/ssm-server.mjs), next to that server's own
// ceiling. Measured in one run, vscode-free, through startShellSession as the terminal uses it:
//   output   `head -c N | tr` printed by a real shell on a pty, until a marker after it arrives;
//   echo     one keystroke sent, until its echo comes back; one after another, median and p95.
// The ceiling is the same shell on the same kind of pty in the same server process, its output cut
// into the same 1,024-byte messages, over a plain websocket to this process: everything but the
// SSM protocol (framing, sequence numbers, acknowledgements, the client's reorder and decode).
// The server runs in a child process so client and server do not share one event loop.
// Ends with a table of medians over the runs and the ratio SSM / ceiling, taken per run.
import { fork, spawn } from 'node:child_process';
import { constants, tmpdir } from 'node:os';
import { WebSocket, WebSocketServer } from 'ws';

const CHUNK = 1024; // the agent's message size, as ssm-agent.mjs cuts
const MARKER_COMMAND = 'echo END-$((6*7))'; // its output, END-42, is not in the typed line
const MARKER = 'END-42';

if (process.argv[2] === '--serve') await serve();
else await bench(parseArgs(process.argv.slice(2)));

// ---------------------------------------------------------------------------------------------
// The child: the SSM server and the raw shell endpoint.

async function serve() {
  const { startSsmServer } = await import('../test/harness/ssm-server.mjs');
  const ssm = await startSsmServer();
  const raw = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
  raw.on('connection', (socket) => {
    // The agent's shell, as ssm-agent.mjs starts it: util-linux `script` gives it a real pty.
    const shell = spawn('script', ['-qfec', '/bin/sh -i', '/dev/null'], {
      detached: true,
      stdio: ['pipe', 'pipe', 'ignore'],
      env: { PATH: process.env.PATH, HOME: tmpdir(), SHELL: '/bin/sh', TERM: 'xterm', PS1: '$ ', LANG: 'C.UTF-8', ENV: '' },
    });
    shell.stdout.on('data', (chunk) => {
      for (let i = 0; i < chunk.length; i += CHUNK) socket.send(chunk.subarray(i, i + CHUNK));
      // The same backpressure the agent has (a bounded window), in websocket terms.
      if (socket.bufferedAmount > 500 * CHUNK) {
        shell.stdout.pause();
        const drain = setInterval(() => {
          if (socket.bufferedAmount < 100 * CHUNK) {
            clearInterval(drain);
            shell.stdout.resume();
          }
        }, 1);
      }
    });
    shell.stdin.on('error', () => undefined);
    socket.on('message', (data) => shell.stdin.write(data));
    socket.on('close', () => {
      try {
        process.kill(-shell.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    });
  });
  await new Promise((resolve) => raw.once('listening', resolve));
  process.send?.({ ssm: { endpoint: ssm.endpoint, region: ssm.region, accessKeyId: ssm.accessKeyId, secretAccessKey: ssm.secretAccessKey }, raw: `ws://127.0.0.1:${raw.address().port}` });
  process.on('disconnect', async () => {
    for (const client of raw.clients) client.terminate();
    raw.close();
    await ssm.stop();
    process.exit(0);
  });
}

// ---------------------------------------------------------------------------------------------
// The parent: the client side of both.

async function bench({ mb, keys, runs }) {
  const { tsImport } = await import('tsx/esm/api');
  // The client is TypeScript (CommonJS to tsc); tsx compiles it on import, as the test runner does.
  const { Connection } = await tsImport('../src/aws/connection.ts', import.meta.url);
  const { startShellSession } = await tsImport('../src/ssm/session.ts', import.meta.url);
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

  const child = fork(new URL(import.meta.url).pathname, ['--serve'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const stopChild = () => child.connected && child.disconnect();
  process.on('exit', stopChild);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, () => process.exit(128 + constants.signals[signal]));
  const { ssm, raw } = await new Promise((resolve, reject) => {
    child.once('message', resolve);
    child.once('exit', (code) => reject(new Error(`the server process exited (${code})`)));
  });

  const connection = new Connection({}, {
    AWS_CONFIG_FILE: '/dev/null',
    AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
    AWS_ENDPOINT_URL_SSM: ssm.endpoint,
    AWS_REGION: ssm.region,
    AWS_ACCESS_KEY_ID: ssm.accessKeyId,
    AWS_SECRET_ACCESS_KEY: ssm.secretAccessKey,
  });
  const bytes = mb * 1_000_000;
  const command = `head -c ${bytes} /dev/zero | tr '\\0' x; ${MARKER_COMMAND}\r`;
  const results = { ssm: [], raw: [] };

  console.log(`${runs} runs of ${mb} MB of shell output and ${keys} keystrokes, SSM client then plain websocket…`);
  for (let run = 1; run <= runs; run++) {
    const shell = await startShellSession(connection, { target: 'i-0123456789abcdef0', size: { cols: 200, rows: 50 } });
    const ssmTerminal = terminal((listener) => shell.onData(listener), (text) => shell.write(text));
    results.ssm.push(await measure(ssmTerminal, command, bytes, keys));
    await shell.close();

    const socket = new WebSocket(raw, { perMessageDeflate: false });
    await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
    const decoder = new TextDecoder();
    const rawTerminal = terminal(
      (listener) => socket.on('message', (data) => listener(decoder.decode(data, { stream: true }))),
      (text) => new Promise((resolve) => socket.send(Buffer.from(text), () => resolve())),
    );
    results.raw.push(await measure(rawTerminal, command, bytes, keys));
    socket.close();
    console.log(`  run ${run}: SSM ${results.ssm.at(-1).mbps.toFixed(1)} MB/s, plain ${results.raw.at(-1).mbps.toFixed(1)} MB/s`);
  }
  connection.dispose();
  stopChild();
  printTable(results, mb, keys);
}

/**
 * A shell seen as text in and text out, with a way to wait for text. Only a window of the
 * output not yet matched is searched, since searching 50 MB again for every chunk would measure
 * the search.
 */
function terminal(onData, write) {
  let tail = '';
  let received = 0;
  let waiter;
  const check = () => {
    const at = waiter ? tail.indexOf(waiter.text) : -1;
    if (at < 0) return;
    tail = tail.slice(at + waiter.text.length);
    const { resolve } = waiter;
    waiter = undefined;
    resolve();
  };
  onData((text) => {
    received += text.length;
    tail = (tail + text).slice(-256);
    check();
  });
  return {
    write,
    get received() {
      return received;
    },
    /** Forgets output not matched yet, so the next wait sees only what comes after. */
    clear() {
      tail = '';
    },
    /** Resolves when `text` is in the output not matched yet, or arrives. */
    waitFor(text, timeoutMs = 120_000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`"${text}" did not arrive; last output ${JSON.stringify(tail.slice(-80))}`)), timeoutMs);
        waiter = { text, resolve: () => (clearTimeout(timer), resolve()) };
        check();
      });
    },
  };
}

async function measure(term, command, bytes, keys) {
  await term.waitFor('$ ', 20_000);
  // Output: from the command's Enter until the marker printed after the data.
  const cpu = process.cpuUsage();
  const before = term.received;
  const start = performance.now();
  const done = term.waitFor(MARKER);
  await term.write(command);
  await done;
  const seconds = (performance.now() - start) / 1000;
  const cpuSeconds = ((c) => (c.user + c.system) / 1e6)(process.cpuUsage(cpu));
  if (term.received - before < bytes) throw new Error(`only ${term.received - before} of ${bytes} bytes arrived`);
  await term.waitFor('$ ', 20_000);

  // Echo: each keystroke waits for the one before to come back, as a typist sees it. A comment
  // line, so Enter at the end runs nothing.
  term.clear();
  const comment = term.waitFor('#');
  await term.write('#');
  await comment;
  const latencies = [];
  for (let i = 0; i < keys; i++) {
    const key = String.fromCharCode(97 + (i % 26));
    term.clear();
    const t0 = performance.now();
    const echoed = term.waitFor(key, 10_000);
    await term.write(key);
    await echoed;
    latencies.push(performance.now() - t0);
  }
  await term.write('\r');
  return { mbps: bytes / 1e6 / seconds, cpuPerGb: (cpuSeconds / bytes) * 1e9, echo: latencies };
}

function printTable(results, mb, keys) {
  const median = (values) => quantile(values, 0.5);
  // Each run measures both sides back to back, so ratios are taken per run, then their median:
  // on a shared machine that cancels much of the noise that moves both sides together.
  const per = (side, pick) => results[side].map(pick);
  const ratio = (pick) => median(results.ssm.map((r, i) => pick(r) / pick(results.raw[i])));
  const throughput = (r) => r.mbps;
  const echoMedian = (r) => quantile(r.echo, 0.5);
  const echoP95 = (r) => quantile(r.echo, 0.95);
  const rows = [
    ['', 'SSM client', 'ceiling (plain websocket)', 'SSM / ceiling'],
    [`output, ${mb} MB (MB/s)`, median(per('ssm', throughput)).toFixed(1), median(per('raw', throughput)).toFixed(1), `${(ratio(throughput) * 100).toFixed(0)} %`],
    ['client CPU (s per GB)', median(per('ssm', (r) => r.cpuPerGb)).toFixed(1), median(per('raw', (r) => r.cpuPerGb)).toFixed(1), `${ratio((r) => r.cpuPerGb).toFixed(1)} ×`],
    [`echo, ${keys} keys: median (ms)`, median(per('ssm', echoMedian)).toFixed(2), median(per('raw', echoMedian)).toFixed(2), `${ratio(echoMedian).toFixed(1)} ×`],
    [`echo, ${keys} keys: p95 (ms)`, median(per('ssm', echoP95)).toFixed(2), median(per('raw', echoP95)).toFixed(2), `${ratio(echoP95).toFixed(1)} ×`],
  ];
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  console.log(`\nMedians of ${results.ssm.length} runs; ratios are medians of the per-run ratios. Output: higher is better (100 % = the ceiling); CPU and echo: lower is better.\n`);
  for (const [i, row] of rows.entries()) {
    console.log(`| ${row.map((cell, j) => (j ? cell.padStart(widths[j]) : cell.padEnd(widths[j]))).join(' | ')} |`);
    if (i === 0) console.log(`| ${widths.map((w, j) => (j ? `${'-'.repeat(w - 1)}:` : '-'.repeat(w))).join(' | ')} |`);
  }
}

function quantile(values, q) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

function parseArgs(args) {
  const options = { mb: 50, keys: 200, runs: 5 };
  for (let i = 0; i < args.length; i++) {
    const name = args[i].replace(/^--/, '');
    const value = Number(args[++i]);
    if (!(name in options) || !Number.isInteger(value) || value < 1) {
      console.error('usage: node scripts/bench-ssm.mjs [--mb N (default 50)] [--keys N (default 200)] [--runs N (default 5)]');
      process.exit(2);
    }
    options[name] = value;
  }
  return options;
}

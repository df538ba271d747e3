// `research-cloud ssm shell | forward | proxy` against the local SSM server, reached through
// AWS_ENDPOINT_URL_SSM as the CLI reaches AWS: in process with in-memory streams, and the proxy
// once more as a child process, as OpenSSH runs a ProxyCommand.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { get } from 'node:http';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { PassThrough } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { Connection } from '../../src/aws/connection';
import { parseSsmArguments, runSsmCommand, runSsmForward, runSsmProxy, runSsmShell, type SsmIo } from '../../src/cli/commands/ssm';
import { ExitCode } from '../../src/cli/exitCodes';
import { tempAwsDir, withProcessEnv, type TempAwsDir } from '../fixtures/aws-env';
import { startSsmServer } from '../harness/ssm-server.mjs';

type SsmServer = Awaited<ReturnType<typeof startSsmServer>>;

const TARGET = 'i-0123456789abcdef0';
const repoRoot = new URL('../..', import.meta.url).pathname;

/** In-memory standard streams, with what was written to stdout and stderr. */
class TestIo implements SsmIo {
  readonly stdin: PassThrough & { isTTY?: boolean; setRawMode?: (raw: boolean) => unknown } = new PassThrough();
  readonly stdout: PassThrough & { isTTY?: boolean; columns?: number; rows?: number } = new PassThrough();
  readonly stderr = new PassThrough();
  readonly controller = new AbortController();
  readonly signal = this.controller.signal;
  private readonly out: Buffer[] = [];
  private readonly err: Buffer[] = [];

  constructor() {
    this.stdout.on('data', (chunk: Buffer) => this.out.push(chunk));
    this.stderr.on('data', (chunk: Buffer) => this.err.push(chunk));
  }

  get output(): Buffer {
    return Buffer.concat(this.out);
  }

  get errors(): string {
    return Buffer.concat(this.err).toString();
  }
}

async function listening<T extends Server | HttpServer>(server: T): Promise<number> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as AddressInfo).port;
}

async function waitUntil(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  for (const start = Date.now(); !condition(); ) {
    if (Date.now() - start > timeoutMs) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const sha = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

describe('research-cloud ssm against the local SSM server', () => {
  let aws: TempAwsDir;
  let ssm: SsmServer;
  let env: NodeJS.ProcessEnv;
  const closers: (() => void)[] = [];

  before(async () => {
    aws = tempAwsDir({ config: '' });
    ssm = await startSsmServer();
    env = {
      ...aws.env,
      AWS_ENDPOINT_URL_SSM: ssm.endpoint,
      AWS_REGION: ssm.region,
      AWS_ACCESS_KEY_ID: ssm.accessKeyId,
      AWS_SECRET_ACCESS_KEY: ssm.secretAccessKey,
    };
  });

  after(async () => {
    for (const close of closers) close();
    await ssm.stop();
    aws.remove();
  });

  const connection = () => new Connection({}, env);
  const lastAgent = () => ssm.agents().at(-1);

  /** An "sshd" that echoes what it gets; with a banner, it speaks first, as sshd does. */
  async function echoServer(banner = ''): Promise<number> {
    const server = createServer((socket: Socket) => {
      socket.on('error', () => undefined);
      socket.write(banner);
      socket.pipe(socket);
    });
    closers.push(() => server.close());
    return listening(server);
  }

  test('ssm forward prints the local address and serves HTTP until stopped', async () => {
    const web = createHttpServer((_req, res) => res.end('notebook'));
    closers.push(() => web.close());
    const webPort = await listening(web);
    const io = new TestIo();
    const running = runSsmForward(connection(), { target: TARGET, remotePort: webPort }, io);
    await waitUntil(() => /Forwarding 127\.0\.0\.1:\d+/.test(io.output.toString()));
    assert.match(io.output.toString(), new RegExp(`^Forwarding 127\\.0\\.0\\.1:(\\d+) to ${TARGET}:${webPort} \\(multiplexed mode\\)\\. Press Ctrl-C to stop\\.\\n$`));
    const localPort = Number(/127\.0\.0\.1:(\d+)/.exec(io.output.toString())?.[1]);
    const body = await new Promise<string>((resolve, reject) => {
      get({ host: '127.0.0.1', port: localPort, path: '/', agent: false }, (res) => {
        let text = '';
        res.on('data', (chunk) => (text += chunk));
        res.on('end', () => resolve(text));
      }).on('error', reject);
    });
    assert.equal(body, 'notebook');
    io.controller.abort(); // Ctrl-C
    assert.equal(await running, ExitCode.Success);
    assert.equal(lastAgent()?.ended, true);
    assert.match(io.errors, /Stopped forwarding/);
  });

  test('ssm proxy relays bytes both ways and nothing else, and ends when stdin does', async () => {
    const port = await echoServer();
    const io = new TestIo();
    const running = runSsmProxy(connection(), { target: TARGET, port }, io);
    const payload = randomBytes(512 * 1024);
    io.stdin.write(payload);
    await waitUntil(() => io.output.length >= payload.length);
    assert.equal(sha(io.output), sha(payload));
    io.stdin.end();
    assert.equal(await running, ExitCode.Success);
    assert.equal(io.output.length, payload.length, 'stdout carries the stream only');
    assert.equal(io.errors, '');
    const agent = lastAgent();
    assert.equal(agent?.stats.portMode, 'stream');
    assert.deepEqual(agent?.portProperties, { portNumber: String(port) });
    assert.equal(agent?.ended, true);
  });

  test('ssm proxy hands over what sshd says first, and ends when sshd closes', async () => {
    const server = createServer((socket: Socket) => socket.end('SSH-2.0-OpenSSH_9.6 test\r\n'));
    closers.push(() => server.close());
    const port = await listening(server);
    const io = new TestIo();
    assert.equal(await runSsmProxy(connection(), { target: TARGET, port }, io), ExitCode.Success);
    assert.equal(io.output.toString(), 'SSH-2.0-OpenSSH_9.6 test\r\n');
  });

  test('ssm proxy as a child process: stdout carries exactly the SSH stream', async () => {
    const port = await echoServer('SSH-2.0-echo\r\n');
    // The ssm command alone, as the CLI's entry point would run it (node -e: argv[1] is the first argument).
    const entry = `require(${JSON.stringify(`${repoRoot}src/cli/commands/ssm.ts`)}).runSsmCommand(process.argv.slice(1)).then((code) => (process.exitCode = code));`;
    const child = spawn(process.execPath, ['--import', 'tsx', '-e', entry, 'proxy', TARGET, '--port', String(port)], {
      cwd: repoRoot,
      env: { PATH: process.env.PATH, HOME: aws.dir, ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => (err += chunk));
    const payload = randomBytes(64 * 1024);
    child.stdin.write(payload);
    const expected = Buffer.concat([Buffer.from('SSH-2.0-echo\r\n'), payload]);
    await waitUntil(() => Buffer.concat(out).length >= expected.length, 30_000);
    child.stdin.end();
    const [code] = await once(child, 'exit');
    assert.equal(code, 0, err);
    assert.equal(sha(Buffer.concat(out)), sha(expected));
  });

  test('ssm shell runs typed commands and ends when piped input does', async () => {
    const io = new TestIo();
    const running = runSsmShell(connection(), { target: TARGET }, io);
    io.stdin.write('echo shell-$((6*7))\r');
    io.stdin.end();
    assert.equal(await running, ExitCode.Success);
    assert.match(io.output.toString(), /shell-42/);
    assert.match(io.errors, /Started session/);
  });

  test('ssm shell on a terminal: raw mode, the size and its changes, Ctrl-C to the remote shell', async () => {
    const io = new TestIo();
    const rawModes: boolean[] = [];
    Object.assign(io.stdin, { isTTY: true, setRawMode: (raw: boolean) => rawModes.push(raw) });
    Object.assign(io.stdout, { isTTY: true, columns: 100, rows: 30 });
    const running = runSsmShell(connection(), { target: TARGET }, io);
    await waitUntil(() => io.output.toString().includes('$ '));
    const agent = lastAgent();
    assert.deepEqual(agent?.stats.sizes[0], { cols: 100, rows: 30 });
    Object.assign(io.stdout, { columns: 132, rows: 43 });
    io.stdout.emit('resize'); // what Node does on SIGWINCH
    await waitUntil(() => (agent?.stats.sizes.length ?? 0) === 2);
    assert.deepEqual(agent?.stats.sizes[1], { cols: 132, rows: 43 });
    // Ctrl-C interrupts the remote sleep (or the shell about to exec it), not this process.
    io.stdin.write("sh -c 'echo ready-$((1+1)); exec sleep 30'\r");
    await waitUntil(() => io.output.toString().includes('ready-2'));
    io.stdin.write('\x03');
    io.stdin.write('echo after-$((2+3))\r');
    await waitUntil(() => io.output.toString().includes('after-5'));
    io.stdin.write('exit\r');
    assert.equal(await running, ExitCode.Success);
    assert.deepEqual(rawModes, [true, false]);
  });

  test('a failure is one sentence on stderr and exit status 3, with nothing on stdout', async () => {
    const busy = createServer();
    closers.push(() => busy.close());
    const busyPort = await listening(busy);
    const io = new TestIo();
    const code = await withProcessEnv(env, () => runSsmCommand(['forward', TARGET, `8888:${busyPort}`], io));
    assert.equal(code, ExitCode.Stopped);
    assert.equal(io.errors, `Cannot listen on 127.0.0.1:${busyPort}: the port is in use. Choose another local port, or 0 for any free one.\n`);
    assert.equal(io.output.length, 0);
  });

  test('usage errors name what is wrong', async () => {
    assert.throws(() => parseSsmArguments(['forward', TARGET, '88x']), /remote-port>\[:<local-port>\]/);
    assert.throws(() => parseSsmArguments(['shell', 'web-1']), /not an instance id/);
    assert.throws(() => parseSsmArguments(['proxy', TARGET, '--port', '70000']), /from 1 to 65535/);
    assert.deepEqual(parseSsmArguments(['forward', TARGET, '8888:9000', '--remote-host', 'db.internal', '--profile', 'lab']), {
      subcommand: 'forward',
      args: { target: TARGET, remotePort: 8888, localPort: 9000, remoteHost: 'db.internal' },
      connection: { profile: 'lab' },
    });
    const io = new TestIo();
    assert.equal(await runSsmCommand(['tunnel', TARGET], io), ExitCode.Usage);
    assert.match(io.errors, /There is no command "ssm tunnel"/);
    assert.equal(io.output.length, 0);
  });
});

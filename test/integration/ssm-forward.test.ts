// Port forwarding against the local SSM server (test/harness/ssm-server.mjs), whose agent dials
// real local TCP services: multiplexed and basic modes, large bodies both ways, closing, the
// remote-host document, a target that refuses, and an end decided by the service.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { request, createServer as createHttpServer, type IncomingMessage, type Server as HttpServer } from 'node:http';
import { connect, createServer as createTcpServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { after, before, describe, test, type TestContext } from 'node:test';
import { Connection } from '../../src/aws/connection';
import { startPortForward, type PortForward, type PortForwardOptions } from '../../src/ssm/portForward';
import { tempAwsDir, type TempAwsDir } from '../fixtures/aws-env';
import { startSsmServer } from '../harness/ssm-server.mjs';

type SsmServer = Awaited<ReturnType<typeof startSsmServer>>;

const TARGET = 'i-0123456789abcdef0';
const BIG = randomBytes(5 * 1024 * 1024);

/**
 * The service behind the instance. /hold/N answers only once N such requests are open at the
 * same time, so N concurrent answers prove N connections were carried at once.
 */
async function startWebService(host = '127.0.0.1', name = 'local'): Promise<{ server: HttpServer; port: number }> {
  let held: { res: import('node:http').ServerResponse; id: string }[] = [];
  const server = createHttpServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const hold = /^\/hold\/(\d+)\/(\w+)$/.exec(url.pathname);
    if (hold) {
      held.push({ res, id: hold[2] });
      if (held.length >= Number(hold[1])) {
        for (const h of held) h.res.end(`body-${h.id}`);
        held = [];
      }
      return;
    }
    if (url.pathname === '/big') return res.end(BIG);
    const repeat = /^\/repeat\/(\d+)$/.exec(url.pathname);
    if (repeat) {
      res.setHeader('content-length', BIG.length * Number(repeat[1]));
      for (let i = 0; i < Number(repeat[1]); i++) if (!res.write(BIG)) await once(res, 'drain');
      return res.end();
    }
    if (url.pathname === '/echo') {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      return res.end(Buffer.concat(chunks));
    }
    res.end(`hello from ${name}`);
  });
  server.listen(0, host);
  await once(server, 'listening');
  return { server, port: (server.address() as AddressInfo).port };
}

/** An HTTP request through the forward on its own TCP connection (no keep-alive pool). */
async function fetchThrough(port: number, path: string, body?: Buffer): Promise<Buffer> {
  const req = request({ host: '127.0.0.1', port, path, method: body ? 'POST' : 'GET', agent: false, headers: { connection: 'close' } });
  req.end(body);
  const [res] = (await once(req, 'response')) as [IncomingMessage];
  const chunks: Buffer[] = [];
  for await (const chunk of res) chunks.push(chunk as Buffer);
  assert.equal(res.statusCode, 200);
  return Buffer.concat(chunks);
}

const sha = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

describe('port forwarding against the local SSM server', () => {
  let aws: TempAwsDir;
  let web: { server: HttpServer; port: number };
  const servers: SsmServer[] = [];
  const forwards: PortForward[] = [];
  const closers: (() => void)[] = [];

  before(async () => {
    aws = tempAwsDir({ config: '' });
    web = await startWebService();
  });

  after(async () => {
    await Promise.all(forwards.map((f) => f.close().catch(() => undefined)));
    await Promise.all(servers.map((s) => s.stop()));
    for (const close of closers) close();
    web.server.closeAllConnections();
    web.server.close();
    aws.remove();
  });

  async function server(options: Parameters<typeof startSsmServer>[0] = {}): Promise<SsmServer> {
    const ssm = await startSsmServer(options);
    servers.push(ssm);
    return ssm;
  }

  function connectionTo(ssm: SsmServer): Connection {
    return new Connection({}, {
      ...aws.env,
      AWS_ENDPOINT_URL_SSM: ssm.endpoint,
      AWS_REGION: ssm.region,
      AWS_ACCESS_KEY_ID: ssm.accessKeyId,
      AWS_SECRET_ACCESS_KEY: ssm.secretAccessKey,
    });
  }

  async function forwardOn(ssm: SsmServer, options: Partial<PortForwardOptions> = {}): Promise<PortForward> {
    const forward = await startPortForward(connectionTo(ssm), { target: TARGET, remotePort: web.port, signal: AbortSignal.timeout(20_000), ...options });
    forwards.push(forward);
    return forward;
  }

  /** The one session the server has: port forwards here start exactly one each. */
  function onlyAgent(ssm: SsmServer) {
    const agents = ssm.agents();
    assert.equal(agents.length, 1, 'one session');
    return agents[0];
  }

  test('eight concurrent HTTP requests pass through one multiplexed session', async () => {
    const ssm = await server();
    const forward = await forwardOn(ssm);
    assert.equal(forward.mode, 'multiplexed');
    assert.equal(forward.target, TARGET);
    assert.equal(forward.remotePort, web.port);
    const counts: number[] = [];
    forward.onConnectionChange((active) => counts.push(active));
    const ids = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'];
    const bodies = await Promise.all(ids.map((id) => fetchThrough(forward.localPort, `/hold/8/${id}`)));
    assert.deepEqual(bodies.map(String), ids.map((id) => `body-${id}`));
    assert.equal(Math.max(...counts), 8);
    await waitUntil(() => forward.activeConnections === 0);
    const agent = onlyAgent(ssm);
    assert.equal(agent.stats.portMode, 'mux');
    assert.equal(agent.stats.streamsOpened, 8);
    assert.equal(ssm.calls.filter((c: string) => c === 'StartSession').length, 1);
    await waitUntil(() => agent.stats.openTargets === 0);
  });

  test('a 5 MB body arrives intact, and 1 MB goes up intact', async (t: TestContext) => {
    const ssm = await server();
    const forward = await forwardOn(ssm);
    const started = Date.now();
    const big = await fetchThrough(forward.localPort, '/big');
    const seconds = (Date.now() - started) / 1000;
    assert.equal(big.length, BIG.length);
    assert.equal(sha(big), sha(BIG));
    t.diagnostic(`5 MiB down through a multiplexed forward in ${seconds.toFixed(2)} s = ${(BIG.length / 1e6 / seconds).toFixed(1)} MB/s`);

    const upload = BIG.subarray(0, 1024 * 1024);
    const upStarted = Date.now();
    const echoed = await fetchThrough(forward.localPort, '/echo', upload);
    const upSeconds = (Date.now() - upStarted) / 1000;
    assert.equal(sha(echoed), sha(upload));
    t.diagnostic(`1 MiB up and back in ${upSeconds.toFixed(2)} s (uploads are paced at 900 messages/s)`);
  });

  test('a local reader that stops reading stalls the agent instead of filling memory, then gets everything', async () => {
    const window = 200;
    const ssm = await server({ window });
    const forward = await forwardOn(ssm);
    const times = 5;
    const socket = connect(forward.localPort, '127.0.0.1');
    socket.write(`GET /repeat/${times} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
    socket.pause();
    const agent = onlyAgent(ssm);
    // Kernel buffers fill first; then the client stops reading its websocket, its acks stop,
    // and the agent's window of unacknowledged messages fills up.
    await waitUntil(() => agent.unacked.size >= window, 20_000);
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.resume();
    await once(socket, 'end');
    const response = Buffer.concat(chunks);
    const body = response.subarray(response.indexOf('\r\n\r\n') + 4);
    assert.equal(body.length, BIG.length * times);
    for (let i = 0; i < times; i++) assert.equal(sha(body.subarray(i * BIG.length, (i + 1) * BIG.length)), sha(BIG), `copy ${i}`);
  });

  test('basic mode carries one connection at a time; the next one waits its turn', async () => {
    const ssm = await server({ agentVersion: '3.0.161.0' });
    const forward = await forwardOn(ssm);
    assert.equal(forward.mode, 'basic');
    const first = fetchThrough(forward.localPort, '/first');
    const second = fetchThrough(forward.localPort, '/second');
    assert.deepEqual((await Promise.all([first, second])).map(String), ['hello from local', 'hello from local']);
    const agent = onlyAgent(ssm);
    assert.equal(agent.stats.portMode, 'basic');
    await waitUntil(() => agent.stats.flags.length === 2);
    assert.deepEqual(agent.stats.flags, [1, 1], 'DisconnectToPort after each connection');
    assert.equal(agent.stats.dials.length, 2, 'dialled at the start, then again for the second connection');
    const big = await fetchThrough(forward.localPort, '/big');
    assert.equal(sha(big), sha(BIG));
  });

  test('the remote-host document dials the given host', async () => {
    const other = await startWebService('127.0.0.2', 'the database host');
    closers.push(() => other.server.close());
    const ssm = await server();
    const forward = await forwardOn(ssm, { remoteHost: '127.0.0.2', remotePort: other.port });
    assert.equal(forward.remoteHost, '127.0.0.2');
    assert.equal(String(await fetchThrough(forward.localPort, '/')), 'hello from the database host');
    const agent = onlyAgent(ssm);
    assert.deepEqual(agent.stats.dials, [{ host: '127.0.0.2', port: other.port }]);
    assert.deepEqual(agent.portProperties, { host: '127.0.0.2', portNumber: String(other.port), localPortNumber: String(forward.localPort), type: 'LocalPortForwarding' });
  });

  test('closing the forward terminates the session and its connections', async () => {
    const idle = await startHoldingService();
    closers.push(() => idle.server.close());
    const ssm = await server();
    const forward = await forwardOn(ssm, { remotePort: idle.port });
    const ended = new Promise<Error | undefined>((resolve) => forward.onEnd(resolve));
    const socket = connect(forward.localPort, '127.0.0.1');
    socket.on('error', () => undefined);
    const socketClosed = once(socket, 'close');
    await waitUntil(() => idle.connections.size === 1);
    await forward.close();
    assert.equal(await ended, undefined);
    await socketClosed;
    const agent = onlyAgent(ssm);
    assert.equal(agent.ended, true);
    assert.deepEqual(agent.stats.flags, [2], 'TerminateSession flag');
    await waitUntil(() => idle.connections.size === 0);
    await assert.rejects(fetchThrough(forward.localPort, '/'), /ECONNREFUSED/);
  });

  test('a destination that refuses closes that connection only', async () => {
    const closed = createTcpServer();
    closed.listen(0, '127.0.0.1');
    await once(closed, 'listening');
    const deadPort = (closed.address() as AddressInfo).port;
    closed.close();
    const ssm = await server();
    const forward = await forwardOn(ssm, { remotePort: deadPort });
    await assert.rejects(fetchThrough(forward.localPort, '/'), /socket hang up|ECONNRESET/);
    await waitUntil(() => forward.activeConnections === 0);
    assert.equal(onlyAgent(ssm).stats.dials.length, 1);
    await assert.rejects(fetchThrough(forward.localPort, '/'), /socket hang up|ECONNRESET/);
    assert.equal(onlyAgent(ssm).stats.dials.length, 2, 'the forward is still up');
  });

  test('lost, duplicated and reordered messages do not corrupt the streams', async () => {
    const ssm = await server({ faults: { seed: 11, drop: 0.03, duplicate: 0.03, reorder: 0.03 } });
    const forward = await forwardOn(ssm);
    const ids = ['a', 'b', 'c', 'd'];
    const [big, ...small] = await Promise.all([fetchThrough(forward.localPort, '/big'), ...ids.map((id) => fetchThrough(forward.localPort, `/hold/4/${id}`))]);
    assert.equal(sha(big), sha(BIG));
    assert.deepEqual(small.map(String), ids.map((id) => `body-${id}`));
  });

  test('the service ending the session ends the forward with its reason', async () => {
    const ssm = await server();
    const forward = await forwardOn(ssm);
    const ended = new Promise<Error | undefined>((resolve) => forward.onEnd(resolve));
    onlyAgent(ssm).closeChannel('Your session timed out due to inactivity.');
    assert.match((await ended)?.message ?? '', /ended the session: Your session timed out due to inactivity/);
    await assert.rejects(fetchThrough(forward.localPort, '/'), /ECONNREFUSED/);
    assert.equal(ssm.calls.includes('TerminateSession'), false, 'an ended session is not terminated again');
  });

  test('a local port in use is explained, and no session is started', async () => {
    const ssm = await server();
    await assert.rejects(forwardOn(ssm, { localPort: web.port }), /port is in use/);
    assert.deepEqual(ssm.calls, []);
  });
});

/** A TCP service that accepts and never answers, keeping its connections. */
async function startHoldingService(): Promise<{ server: Server; port: number; connections: Set<Socket> }> {
  const connections = new Set<Socket>();
  const server = createTcpServer((socket) => {
    connections.add(socket);
    socket.on('error', () => undefined);
    socket.on('close', () => connections.delete(socket));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, port: (server.address() as AddressInfo).port, connections };
}

async function waitUntil(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  for (const start = Date.now(); !condition(); ) {
    if (Date.now() - start > timeoutMs) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

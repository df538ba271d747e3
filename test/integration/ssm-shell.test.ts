// The Session Manager shell client against the local SSM server (test/harness/ssm-server.mjs),
// which serves the SSM API and plays the agent with a real shell on a pty. The client is reached
// only through the Connection and AWS_ENDPOINT_URL_SSM, as the extension reaches AWS.
import { GenerateDataKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { mockClient } from 'aws-sdk-client-mock';
import assert from 'node:assert/strict';
import { after, before, describe, test, type TestContext } from 'node:test';
import { Connection } from '../../src/aws/connection';
import { startShellSession, type ShellSession, type ShellSessionOptions } from '../../src/ssm/session';
import { tempAwsDir, type TempAwsDir } from '../fixtures/aws-env';
import { createLocalKms } from '../harness/ssm-kms.mjs';
import { startSsmServer } from '../harness/ssm-server.mjs';

type SsmServer = Awaited<ReturnType<typeof startSsmServer>>;

const TARGET = 'i-0123456789abcdef0';

/**
 * Everything a shell printed. Waiting for a marker looks only at new text (plus an overlap),
 * because searching 10 MB again for every chunk would measure the test, not the client.
 */
class Transcript {
  private readonly chunks: string[] = [];
  private joined?: string;
  private tail = '';
  private waiters: { marker: string; resolve(): void }[] = [];

  constructor(shell: ShellSession) {
    shell.onData((chunk) => {
      this.chunks.push(chunk);
      this.joined = undefined;
      const window = this.tail + chunk;
      this.waiters = this.waiters.filter((w) => !(window.includes(w.marker) && (w.resolve(), true)));
      this.tail = window.slice(-64);
    });
  }

  get text(): string {
    this.joined ??= this.chunks.join('');
    return this.joined;
  }

  /** Resolves when `marker` (at most 64 characters) appears in output printed from now on. */
  waitFor(marker: string, timeoutMs = 15_000): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`"${marker}" did not appear; the last output was: ${JSON.stringify(this.tail)}`)), timeoutMs);
      this.waiters.push({ marker, resolve: () => (clearTimeout(timer), resolve()) });
    });
  }
}

describe('Session Manager shell against the local SSM server', () => {
  let aws: TempAwsDir;
  const servers: SsmServer[] = [];
  const shells: ShellSession[] = [];

  before(() => {
    aws = tempAwsDir({ config: '' });
  });

  after(async () => {
    await Promise.all(shells.map((s) => s.close().catch(() => undefined)));
    await Promise.all(servers.map((s) => s.stop()));
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

  async function shellOn(ssm: SsmServer, options: Partial<ShellSessionOptions> = {}): Promise<{ shell: ShellSession; out: Transcript }> {
    const shell = await startShellSession(connectionTo(ssm), { target: TARGET, signal: AbortSignal.timeout(20_000), ...options });
    shells.push(shell);
    const out = new Transcript(shell);
    await out.waitFor('$ ');
    return { shell, out };
  }

  /** The exact text `seq 1 n` prints through a pty, which turns each \n into \r\n. */
  function seqOutput(n: number): string {
    return Array.from({ length: n }, (_, i) => `${i + 1}\r\n`).join('');
  }

  test('a typed command returns its output', async () => {
    const ssm = await server();
    const { shell, out } = await shellOn(ssm);
    assert.equal(shell.info?.sessionType, 'Standard_Stream');
    const done = out.waitFor('hello-42');
    await shell.write('echo hello-$((6*7))\r');
    await done;
    const agent = ssm.agent(shell.sessionId);
    assert.deepEqual([...new Set(agent?.stats.clientVersions)], ['1.2.694.0']);
  });

  test('stty size reflects the initial size and a resize', async () => {
    const ssm = await server();
    const { shell, out } = await shellOn(ssm, { size: { cols: 100, rows: 30 } });
    let seen = out.waitFor('30 100');
    await shell.write('stty size\r');
    await seen;
    await shell.resize(123, 45);
    seen = out.waitFor('45 123');
    await shell.write('stty size\r');
    await seen;
  });

  test('10 MB of output arrives intact and in order', async (t: TestContext) => {
    const ssm = await server();
    const { shell, out } = await shellOn(ssm);
    const lines = 1_250_000;
    const expected = seqOutput(lines);
    const done = out.waitFor('END-2', 120_000);
    const started = Date.now();
    await shell.write(`seq 1 ${lines}; echo END-$((1+1))\r`);
    await done;
    const seconds = (Date.now() - started) / 1000;
    assert.ok(expected.length >= 10_000_000);
    assert.ok(out.text.includes(expected), 'the output is not the exact sequence');
    t.diagnostic(`${(expected.length / 1e6).toFixed(1)} MB in ${seconds.toFixed(2)} s = ${(expected.length / 1e6 / seconds).toFixed(1)} MB/s`);
  });

  test('drops, duplicates and reordering of the agent’s messages are survived', async () => {
    const ssm = await server({ faults: { seed: 7, drop: 0.05, duplicate: 0.05, reorder: 0.05 } });
    const { shell, out } = await shellOn(ssm);
    const done = out.waitFor('END-2', 60_000);
    await shell.write('seq 1 20000; echo END-$((1+1))\r');
    await done;
    assert.ok(out.text.includes(seqOutput(20000)), 'the output is not the exact sequence');
    const typed = out.waitFor('typed-4');
    await shell.write('echo typed-$((2+2))\r');
    await typed;
    assert.ok((ssm.agent(shell.sessionId)?.stats.retransmitted ?? 0) > 0, 'nothing was retransmitted: the faults did not bite');
  });

  test('a dropped websocket resumes without losing input or output', async () => {
    const ssm = await server({ faults: { dropSocketAfter: 150 } });
    const { shell, out } = await shellOn(ssm);
    const states: string[] = [];
    // Typed while the websocket is down: must reach the shell once it is back. Echo is off so the
    // typed line cannot land in the middle of seq's output.
    shell.onConnectionChange((state) => {
      states.push(state);
      if (state === 'reconnecting') void shell.write('echo typed-$((1+1))\r');
    });
    const done = out.waitFor('typed-2', 60_000);
    await shell.write('stty -echo; seq 1 30000; echo END-$((1+1))\r');
    await done;
    assert.ok(out.text.includes(seqOutput(30000)), 'output was lost or reordered across the drop');
    assert.ok(out.text.indexOf('END-2') < out.text.indexOf('typed-2'));
    assert.deepEqual(states, ['reconnecting', 'connected']);
    assert.equal(ssm.agent(shell.sessionId)?.stats.socketsOpened, 2);
    assert.ok(ssm.calls.includes('ResumeSession'));
  });

  test('UTF-8 characters split across messages are decoded whole', async () => {
    const ssm = await server();
    const { shell, out } = await shellOn(ssm);
    const done = out.waitFor('END-2');
    // 9 bytes a round, so the agent's 1,024-byte cuts fall inside characters.
    await shell.write("i=0; while [ $i -lt 400 ]; do printf 'é€😀'; i=$((i+1)); done; echo; echo END-$((1+1))\r");
    await done;
    assert.ok(out.text.includes('é€😀'.repeat(400)));
    assert.ok(!out.text.includes('\ufffd'));
  });

  test('the KMS encryption handshake completes and data flows encrypted', async () => {
    const kms = createLocalKms();
    const ssm = await server({ kms });
    const { shell, out } = await shellOn(ssm, { generateDataKey: kms.generateDataKey });
    assert.equal(shell.info?.encrypted, true);
    assert.equal(shell.info?.customerMessage, 'This session is encrypted using AWS KMS.');
    const done = out.waitFor('secret-9');
    await shell.write('echo secret-$((3*3))\r');
    await done;
    assert.ok((ssm.agent(shell.sessionId)?.stats.encryptedInputs ?? 0) > 0);
    assert.deepEqual(kms.requests[0]?.EncryptionContext, {
      'aws:ssm:SessionId': shell.sessionId,
      'aws:ssm:TargetId': TARGET,
      'aws:ssm:RandomChallenge': kms.requests[0]?.EncryptionContext['aws:ssm:RandomChallenge'],
    });
    assert.ok(kms.requests[0]?.EncryptionContext['aws:ssm:RandomChallenge']);
  });

  test('by default the data key comes from kms:GenerateDataKey through the connection', async (t) => {
    const kms = createLocalKms();
    const ssm = await server({ kms });
    // The connection's own KMS client, answered by the local key as KMS would.
    const kmsMock = mockClient(KMSClient);
    t.after(() => kmsMock.restore());
    kmsMock.on(GenerateDataKeyCommand).callsFake((input) => kms.generateDataKey(input));
    const { shell, out } = await shellOn(ssm, {});
    assert.equal(shell.info?.customerMessage, 'This session is encrypted using AWS KMS.');
    await shell.write('echo kms-$((20+22))\r');
    await out.waitFor('kms-42');
    const sent = kmsMock.commandCalls(GenerateDataKeyCommand)[0]?.args[0].input;
    assert.equal(sent?.KeyId, kms.requests[0]?.KeyId);
    assert.equal(sent?.NumberOfBytes, 64);
  });

  test('a KMS session whose data key is refused fails naming kms:GenerateDataKey, and is terminated', async (t) => {
    const ssm = await server({ kms: createLocalKms() });
    const kmsMock = mockClient(KMSClient);
    t.after(() => kmsMock.restore());
    kmsMock.on(GenerateDataKeyCommand).rejects(Object.assign(new Error('User is not authorized to perform: kms:GenerateDataKey'), { name: 'AccessDeniedException', $metadata: { httpStatusCode: 400 } }));
    await assert.rejects(startShellSession(connectionTo(ssm), { target: TARGET }), /kms:GenerateDataKey/);
    await waitUntil(() => ssm.calls.includes('TerminateSession'));
  });

  test('exit ends the session; close() terminates it', async () => {
    const ssm = await server();
    const first = await shellOn(ssm);
    const exited = new Promise((resolve) => first.shell.onExit(resolve));
    await first.shell.write('exit\r');
    assert.deepEqual(await exited, { reason: 'closed', message: undefined });

    const second = await shellOn(ssm);
    const closed = new Promise((resolve) => second.shell.onExit(resolve));
    await second.shell.close();
    assert.deepEqual(await closed, { reason: 'terminated' });
    assert.equal(ssm.calls.filter((c) => c === 'TerminateSession').length, 1);
  });

  test('an instance that is not connected is explained', async () => {
    const ssm = await server();
    await assert.rejects(startShellSession(connectionTo(ssm), { target: 'i-offline' }), /not connected to Session Manager/);
  });
});

async function waitUntil(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  for (const start = Date.now(); !condition(); ) {
    if (Date.now() - start > timeoutMs) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

// A local Session Manager for tests and the demo: the SSM API that @aws-sdk/client-ssm speaks
// (awsJson1_1: POST / with `X-Amz-Target: AmazonSSM.<Operation>`) for StartSession,
// ResumeSession, TerminateSession and DescribeInstanceInformation, and the data channel
// websocket, where it plays the agent (ssm-agent.mjs) with a real shell. It checks no signatures.
//
//   const ssm = await startSsmServer({ faults: { seed: 7, drop: 0.05 } });
//   // AWS_ENDPOINT_URL_SSM=ssm.endpoint, AWS_REGION=ssm.region, any keys
//   await ssm.stop();
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { WebSocketServer } from 'ws';
import { AgentSession, isKnownDocument } from './ssm-agent.mjs';

/**
 * @param {object} [options]
 * @param {import('./ssm-agent.mjs').Faults} [options.faults]  applied to every session's outgoing messages
 * @param {ReturnType<typeof import('./ssm-kms.mjs').createLocalKms>} [options.kms]  require KMS encryption with this key
 * @param {string} [options.shell]  the shell to run, `-i` is added
 * @param {number} [options.window]  the agent's bound on unacknowledged messages
 * @param {string} [options.agentVersion]  what the agent reports; '3.0.161.0' makes port forwarding basic
 * @param {(line: string) => void} [options.log]
 */
export async function startSsmServer({ faults, kms, shell = '/bin/sh', window, agentVersion, log = () => undefined } = {}) {
  /** @type {Map<string, { token: string, streamUrl: string, agent: AgentSession, terminated: boolean }>} */
  const sessions = new Map();
  /** API operations in the order they were called: ['StartSession', 'ResumeSession', …]. */
  const calls = [];
  const server = createServer((req, res) => void handleApi(req, res));
  const sockets = new WebSocketServer({ noServer: true, perMessageDeflate: false });
  server.on('upgrade', (req, socket, head) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const session = sessions.get(url.pathname.replace('/v1/data-channel/', ''));
    // Only the URL exactly as StartSession returned it is accepted, query included.
    if (!session || `${url.pathname}${url.search}` !== new URL(session.streamUrl).pathname + new URL(session.streamUrl).search) {
      socket.end('HTTP/1.1 404 Not Found\r\n\r\n');
      return;
    }
    sockets.handleUpgrade(req, socket, head, (ws) => awaitOpenDataChannel(ws, session));
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = /** @type {import('node:net').AddressInfo} */ (server.address());

  function awaitOpenDataChannel(ws, session) {
    ws.once('message', (data, isBinary) => {
      let request;
      try {
        request = isBinary ? undefined : JSON.parse(data.toString());
      } catch {
        request = undefined;
      }
      if (!request || request.TokenValue !== session.token || session.terminated) {
        ws.close(4001, 'invalid token');
        return;
      }
      session.agent.attach(ws, request);
    });
  }

  async function handleApi(req, res) {
    const chunks = [];
    for await (const chunk of req) chunks.push(chunk);
    const operation = String(req.headers['x-amz-target'] ?? '').replace(/^AmazonSSM\./, '');
    let input;
    try {
      input = JSON.parse(Buffer.concat(chunks).toString() || '{}');
    } catch {
      return reply(res, 400, { __type: 'SerializationException', message: 'Body is not JSON.' });
    }
    calls.push(operation);
    switch (operation) {
      case 'StartSession': {
        if (!input.Target) return reply(res, 400, { __type: 'ValidationException', message: 'Target is required.' });
        if (!/^(i|mi)-[0-9a-f]+$/.test(input.Target)) {
          return reply(res, 400, { __type: 'TargetNotConnected', message: `${input.Target} is not connected.` });
        }
        const sessionId = `local-${randomBytes(8).toString('hex')}`;
        const streamUrl = `ws://127.0.0.1:${port}/v1/data-channel/${sessionId}?role=publish_subscribe&cell-number=${randomBytes(6).toString('base64url')}`;
        if (!isKnownDocument(input.DocumentName)) {
          return reply(res, 400, { __type: 'InvalidDocument', message: `Document ${input.DocumentName} does not exist.` });
        }
        const agent = new AgentSession({ sessionId, target: input.Target, shell, faults, kms, window, documentName: input.DocumentName, parameters: input.Parameters, agentVersion, log });
        const session = { token: randomBytes(24).toString('base64'), streamUrl, agent, terminated: false };
        sessions.set(sessionId, session);
        return reply(res, 200, { SessionId: sessionId, TokenValue: session.token, StreamUrl: streamUrl });
      }
      case 'ResumeSession': {
        const session = sessions.get(input.SessionId);
        if (!session) return reply(res, 400, { __type: 'DoesNotExistException', message: `Session ${input.SessionId} does not exist.` });
        // A session that is over yields no token, which tells the client it cannot come back.
        if (session.terminated || session.agent.ended) return reply(res, 200, { SessionId: input.SessionId });
        session.token = randomBytes(24).toString('base64');
        return reply(res, 200, { SessionId: input.SessionId, TokenValue: session.token, StreamUrl: session.streamUrl });
      }
      case 'TerminateSession': {
        const session = sessions.get(input.SessionId);
        if (session) {
          session.terminated = true;
          session.agent.closeChannel(`Session ${input.SessionId} was terminated.`);
        }
        return reply(res, 200, { SessionId: input.SessionId });
      }
      case 'DescribeInstanceInformation': {
        // Every target StartSession accepts has an agent online here; others are not registered.
        const ids = (input.Filters ?? []).find((f) => f.Key === 'InstanceIds')?.Values ?? [];
        const online = ids.filter((id) => /^(i|mi)-[0-9a-f]+$/.test(id));
        return reply(res, 200, {
          InstanceInformationList: online.map((id) => ({
            InstanceId: id, PingStatus: 'Online', LastPingDateTime: Date.now() / 1000, AgentVersion: agentVersion ?? '3.3.987.0',
            IsLatestVersion: true, PlatformType: 'Linux', PlatformName: 'Debian GNU/Linux', ResourceType: 'EC2Instance',
          })),
        });
      }
      default:
        return reply(res, 400, { __type: 'UnknownOperationException', message: `${operation} is not served here.` });
    }
  }

  return {
    endpoint: `http://127.0.0.1:${port}`,
    region: 'us-east-1',
    accessKeyId: 'LOCALSSMKEY',
    secretAccessKey: 'local-ssm-secret',
    calls,
    /** The agent of a session, for tests to read its stats. */
    agent: (sessionId) => sessions.get(sessionId)?.agent,
    /** Every session's agent, oldest first. */
    agents: () => [...sessions.values()].map((session) => session.agent),
    async stop() {
      for (const session of sessions.values()) session.agent.end();
      for (const ws of sockets.clients) ws.terminate();
      const closed = new Promise((resolve) => server.close(() => resolve(undefined)));
      server.closeAllConnections(); // the SDK's keep-alive sockets would hold close() open
      await closed;
    },
  };
}

function reply(res, status, body) {
  res.writeHead(status, { 'content-type': 'application/x-amz-json-1.1' });
  res.end(JSON.stringify(body));
}

// A reverse proxy in front of an S3 endpoint (e.g. Ceph RGW from rgw.mjs) that injects the
// failures an upload engine must survive: S3 throttling, connections reset before a request is
// forwarded, bodies cut partway, and responses lost after the server acted. Requests are passed on
// byte for byte with the Host header the client sent, so SigV4 signatures (which sign the host)
// still verify: clients sign for the proxy's address and the target checks that same Host.
//
// Which requests fail is decided per request by a hash of (seed, request, attempt), not by arrival
// order: the same seed fails the same parts on the same attempts however concurrent the client
// is, and a retry draws afresh so it can succeed. Upload ids are left out of the hash, so runs
// against a server that makes up new ids still fail alike.

import { createHash } from 'node:crypto';
import { Agent, createServer, request as httpRequest } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { s3ErrorXml, s3Operation } from './s3-sink.mjs';

/** The kinds of fault, in the order their shares are laid out on [0, 1). */
const FAULT_KINDS = Object.freeze(['slowDown', 'reset', 'resetMidBody', 'lostResponse']);
/** Connection-level headers: they describe one hop and are never signed. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'upgrade']);

/**
 * @typedef {object} Faults Shares of the requests (0..1, adding up to at most 1) that get each fault.
 * @property {number} [slowDown] Answered 503 SlowDown, as S3 throttles, without being forwarded.
 * @property {number} [reset] Client connection reset (TCP RST) before anything is forwarded.
 * @property {number} [resetMidBody] A request with a body is forwarded up to half its body, then
 *   both connections are cut (the server never completes it); any other request is forwarded, then
 *   its response is cut after half its bytes (before the headers if it has no body).
 * @property {number} [lostResponse] Forwarded and answered by the server, then the client's
 *   connection is reset before any of the answer: the request took effect but the client cannot
 *   know (e.g. a CompleteMultipartUpload, whose retry may then find no such upload).
 * @property {number} [delayMs] Added before every request that `only` selects, faulted or not.
 * @property {(req: import('node:http').IncomingMessage, operation: string) => boolean} [only] Which
 *   requests faults (and the delay) apply to, e.g. `(req, op) => op === 'UploadPart'`; default:
 *   all. The others pass through and draw nothing.
 */

/**
 * Starts the proxy on 127.0.0.1.
 * @param {object} options
 * @param {string} options.target The S3 endpoint to forward to, e.g. http://127.0.0.1:7480.
 * @param {number} [options.port] Default: a free one.
 * @param {Faults} [options.faults] Default: none.
 * @param {number | string} [options.seed] Chooses which requests fail; default 1.
 * @param {(line: string) => void} [options.log] One line per request; default: silent.
 */
export async function startFaultProxy({ target, port = 0, faults = {}, seed = 1, log }) {
  const upstream = new URL(target);
  if (upstream.protocol !== 'http:') throw new Error(`startFaultProxy: target must be http://, not ${target}`);
  const state = {
    upstream,
    seed,
    faults: checkFaults(faults),
    attempts: new Map(),
    stats: newStats(),
    // Kept alive like a client's; no cap, so the proxy never queues what a client sends at once.
    agent: new Agent({ keepAlive: true, maxSockets: Infinity }),
    log,
  };
  const server = createServer({ requestTimeout: 0 }, (req, res) => {
    proxy(state, req, res).catch((error) => {
      log?.(`fault-proxy: ${error.stack}`);
      req.socket.destroy();
    });
  });
  // Clients keep idle connections for a minute or so; closing them sooner looks like a fault.
  server.keepAliveTimeout = 65_000;
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  let stopped;
  return {
    endpoint: `http://127.0.0.1:${server.address().port}`,
    stats: state.stats,
    /** Replaces the faults for requests from now on; attempt counts and stats carry on. */
    setFaults(next) {
      state.faults = checkFaults(next);
    },
    /** Closes the listener, every client connection and every connection to the target; idempotent. */
    stop: () => (stopped ??= new Promise((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
      state.agent.destroy();
    })),
  };
}

function checkFaults(faults) {
  for (const name of Object.keys(faults)) {
    if (!FAULT_KINDS.includes(name) && name !== 'delayMs' && name !== 'only') {
      throw new Error(`startFaultProxy: unknown fault '${name}' (known: ${FAULT_KINDS.join(', ')}, delayMs, only)`);
    }
  }
  const total = FAULT_KINDS.reduce((sum, kind) => {
    const share = faults[kind] ?? 0;
    if (!(share >= 0 && share <= 1)) throw new Error(`startFaultProxy: ${kind} must be a share between 0 and 1, not ${share}`);
    return sum + share;
  }, 0);
  if (total > 1 + 1e-9) throw new Error(`startFaultProxy: the fault shares add up to ${total}, more than 1`);
  return { ...faults };
}

/**
 * @typedef {Record<'received' | 'forwarded' | 'slowDown' | 'reset' | 'resetMidBody' | 'lostResponse', number>} OperationCounts
 */

function newStats() {
  return {
    /** Requests the proxy received. */
    received: 0,
    /** Requests the target answered (whether or not the answer then reached the client). */
    forwarded: 0,
    /**
     * Faults injected, by kind.
     * @type {Record<'slowDown' | 'reset' | 'resetMidBody' | 'lostResponse', number>}
     */
    faults: Object.fromEntries(FAULT_KINDS.map((kind) => [kind, 0])),
    /**
     * By S3 operation (UploadPart, …): received, forwarded, and each fault kind.
     * @type {Record<string, OperationCounts>}
     */
    operations: {},
  };
}

function countOperation(stats, operation, field) {
  stats.operations[operation] ??= { received: 0, forwarded: 0, ...Object.fromEntries(FAULT_KINDS.map((kind) => [kind, 0])) };
  stats.operations[operation][field] += 1;
}

async function proxy(state, req, res) {
  const { stats, faults } = state;
  const operation = s3Operation(req.method, req.url, req.headers);
  stats.received += 1;
  countOperation(stats, operation, 'received');
  const selected = !faults.only || faults.only(req, operation);
  const fault = selected ? chooseFault(state, req) : undefined;
  state.log?.(`${fault ?? 'pass'} ${operation} ${req.method} ${req.url}`);
  if (selected && faults.delayMs > 0) await sleep(faults.delayMs);
  if (fault) {
    stats.faults[fault] += 1;
    countOperation(stats, operation, fault);
  }
  const forwarded = () => {
    stats.forwarded += 1;
    countOperation(stats, operation, 'forwarded');
  };
  switch (fault) {
    case 'slowDown': return slowDown(req, res);
    case 'reset': return void req.socket.resetAndDestroy();
    case 'resetMidBody': return hasBody(req) ? cutRequest(state, req) : forward(state, req, res, { forwarded, cut: cutResponse });
    case 'lostResponse': return forward(state, req, res, { forwarded, cut: loseResponse });
    default: return forward(state, req, res, { forwarded, cut: undefined });
  }
}

/** The fault for a request, if any: a draw in [0, 1) fixed by the seed, the request and its attempt number. */
function chooseFault(state, req) {
  const identity = requestIdentity(req);
  const attempt = (state.attempts.get(identity) ?? 0) + 1;
  state.attempts.set(identity, attempt);
  const digest = createHash('sha256').update(`${state.seed}\n${identity}\n${attempt}`).digest();
  const draw = digest.readUInt32BE(0) / 2 ** 32;
  let bound = 0;
  for (const kind of FAULT_KINDS) {
    bound += state.faults[kind] ?? 0;
    if (draw < bound) return kind;
  }
  return undefined;
}

/** Method, path and query, without what differs between runs: upload ids and presign parameters. */
function requestIdentity(req) {
  const q = req.url.indexOf('?');
  if (q === -1) return `${req.method} ${req.url}`;
  const params = new URLSearchParams(req.url.slice(q + 1));
  const kept = [...params].filter(([name]) => name !== 'uploadId' && !/^x-amz-/i.test(name)).sort();
  return `${req.method} ${req.url.slice(0, q)}?${new URLSearchParams(kept)}`;
}

/** S3's throttling answer. The body is read first so the connection stays usable, as on S3. */
function slowDown(req, res) {
  req.resume();
  req.once('end', () => {
    const body = s3ErrorXml('SlowDown', 'Please reduce your request rate.', req.url.split('?')[0], 'fault-proxy');
    res.writeHead(503, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
}

function hasBody(req) {
  return Number(req.headers['content-length'] ?? 0) > 0 || req.headers['transfer-encoding'] !== undefined;
}

/**
 * Forwards the request to the target and, unless `cut` takes over, its response back. `forwarded`
 * is called once the target has answered.
 */
function forward(state, req, res, { forwarded, cut }) {
  const outgoing = upstreamRequest(state, req);
  outgoing.once('response', (answer) => {
    forwarded();
    if (cut) return cut(req, res, answer);
    res.writeHead(answer.statusCode, answer.statusMessage, withoutHopByHop(answer.rawHeaders));
    answer.pipe(res);
    // The target dropped the connection mid-answer: so must we, or the client waits forever.
    answer.once('close', () => { if (!answer.complete) res.destroy(); });
  });
  outgoing.once('error', (error) => answerProxyError(req, res, error));
  // The client gave up (or was cut): the target should see the request end the same way.
  req.once('close', () => { if (!req.complete) outgoing.destroy(); });
  req.pipe(outgoing);
}

/**
 * Sends the target half the body, then cuts both sides: the target sees a client that vanished
 * mid-upload, the client a reset while still sending.
 */
function cutRequest(state, req) {
  const length = Number(req.headers['content-length'] ?? 0);
  // Without a length (chunked), one byte stands for "partway".
  const limit = Math.max(Math.floor(length / 2), 1);
  const outgoing = upstreamRequest(state, req);
  outgoing.once('error', () => {}); // destroyed below on purpose
  let sent = 0;
  let cut = false;
  const cutBoth = () => {
    if (cut) return;
    cut = true;
    req.removeAllListeners('data');
    outgoing.destroy();
    req.socket.resetAndDestroy();
  };
  req.on('data', (chunk) => {
    const part = chunk.subarray(0, limit - sent);
    sent += part.length;
    if (sent < limit) return void outgoing.write(part);
    req.pause();
    // Cut once the half is handed to the kernel, so the target does receive it.
    outgoing.write(part, cutBoth);
  });
  req.once('end', cutBoth);
}

function upstreamRequest({ upstream, agent }, req) {
  return httpRequest({
    host: upstream.hostname,
    port: upstream.port,
    method: req.method,
    path: req.url,
    headers: withoutHopByHop(req.rawHeaders),
    agent,
  });
}

/**
 * Passes the status, headers and first half of the body (of the first chunk, when chunked), then
 * closes the connection: the client gets less than it was promised. A response with no body
 * (HEAD, 204, an empty PUT answer) is lost whole instead.
 */
function cutResponse(req, res, answer) {
  const chunked = answer.headers['transfer-encoding'] !== undefined;
  const length = req.method === 'HEAD' || answer.statusCode === 204 ? 0 : Number(answer.headers['content-length'] ?? 0);
  if (!chunked && length < 2) return loseResponse(req, res, answer);
  res.writeHead(answer.statusCode, answer.statusMessage, withoutHopByHop(answer.rawHeaders));
  let left = chunked ? undefined : Math.floor(length / 2);
  const close = () => res.socket?.destroy();
  answer.on('data', (chunk) => {
    left ??= Math.max(Math.floor(chunk.length / 2), 1);
    if (left <= 0) return;
    const part = chunk.subarray(0, left);
    left -= part.length;
    // Bytes written reach the kernel before the close, so the client does get them.
    if (left <= 0) res.write(part, close);
    else res.write(part);
  });
  // An empty chunked answer has no half to send; otherwise the last write above closes.
  answer.once('end', () => { if (left === undefined) close(); });
}

/** Reads the target's whole answer, then resets the client's connection without a byte of it. */
function loseResponse(req, res, answer) {
  answer.resume();
  answer.once('end', () => req.socket.resetAndDestroy());
}

/** The target could not be reached or dropped the connection: 502, as a gateway would say. */
function answerProxyError(req, res, error) {
  if (res.headersSent) return void res.destroy();
  const body = s3ErrorXml('BadGateway', `fault-proxy: target failed: ${error.message}`, req.url.split('?')[0], 'fault-proxy');
  res.writeHead(502, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

/** Raw headers ([name, value, name, value, …]) less the hop-by-hop ones; Host and case kept. */
function withoutHopByHop(rawHeaders) {
  const kept = [];
  for (let i = 0; i < rawHeaders.length; i += 2) {
    if (!HOP_BY_HOP.has(rawHeaders[i].toLowerCase())) kept.push(rawHeaders[i], rawHeaders[i + 1]);
  }
  return kept;
}

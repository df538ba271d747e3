// The agent's side of one Session Manager session, for the local SSM server: sequencing,
// acknowledgements and retransmission as amazon-ssm-agent does them, the handshake (with KMS
// encryption when asked), and a real shell on a pseudo-terminal, or, for the port documents, the
// port plugin of ssm-port.mjs dialling a real TCP service.
//
// The pty: Node has none built in, so the shell runs under util-linux `script -qfec`, which
// gives it a real pty (echo, line discipline, `stty`). The shell first writes its tty's path to
// a file; a Size message then runs `stty -F <tty> cols C rows R`, which sets the window size on
// the pty from outside (TIOCSWINSZ, and SIGWINCH for the shell) without typing into the shell.
import { execFile, spawn } from 'node:child_process';
import { createCipheriv, createDecipheriv, randomBytes, randomUUID } from 'node:crypto';
import { readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { PortPlugin, portMode } from './ssm-port.mjs';
import { ackFor, decode, encode } from './ssm-wire.mjs';
import { mulberry32 } from './seeded-random.mjs';

const run = promisify(execFile);
const CHUNK = 1024;
const RESEND_AFTER_MS = 200;

/** Session documents of type Port, and the properties the agent resolves from their parameters (§2.4). */
const PORT_DOCUMENTS = {
  'AWS-StartPortForwardingSession': (p) => ({ portNumber: p.portNumber, localPortNumber: p.localPortNumber ?? '0', type: 'LocalPortForwarding' }),
  'AWS-StartPortForwardingSessionToRemoteHost': (p) => ({ host: p.host, portNumber: p.portNumber, localPortNumber: p.localPortNumber ?? '0', type: 'LocalPortForwarding' }),
  'AWS-StartSSHSession': (p) => ({ portNumber: p.portNumber ?? '22' }),
};

/** Whether StartSession may be called with this document; undefined is the shell. */
export function isKnownDocument(name) {
  return name === undefined || name === 'SSM-SessionManagerRunShell' || name in PORT_DOCUMENTS;
}

/**
 * @typedef {object} Faults  What happens to the agent's outgoing messages (data and acks).
 * @property {number} [seed]
 * @property {number} [drop]       probability a message is lost
 * @property {number} [duplicate]  probability it is sent twice
 * @property {number} [reorder]    probability it is held back and sent after the next one
 * @property {number} [dropSocketAfter]  terminate the websocket once, after this many messages
 */

export class AgentSession {
  /**
   * @param {object} o
   * @param {string} o.sessionId
   * @param {string} o.target
   * @param {string} o.shell
   * @param {Faults} [o.faults]
   * @param {ReturnType<typeof import('./ssm-kms.mjs').createLocalKms>} [o.kms]
   * @param {number} [o.window]  unacknowledged messages before the shell's output is paused
   * @param {string} [o.documentName]  a port document runs the port plugin instead of a shell
   * @param {Record<string, string[]>} [o.parameters]  the document parameters of StartSession
   * @param {string} [o.agentVersion]  reported in the handshake; decides the port mode
   * @param {(line: string) => void} [o.log]
   */
  constructor({ sessionId, target, shell, faults = {}, kms, window = 500, documentName, parameters = {}, agentVersion = '3.3.987.0', log = () => undefined }) {
    Object.assign(this, { sessionId, target, shell, faults, kms, window, agentVersion, log });
    const resolve = PORT_DOCUMENTS[documentName ?? ''];
    /** The resolved properties of a port session; undefined for a shell. */
    this.portProperties = resolve?.(Object.fromEntries(Object.entries(parameters).map(([k, v]) => [k, v[0]])));
    this.random = mulberry32(faults.seed ?? 1);
    this.dropSocketAfter = faults.dropSocketAfter;
    this.transmitted = 0;
    this.socket = undefined;
    this.started = false;
    this.ended = false;
    this.nextSeq = 0;
    /** @type {Map<number, { bytes: Buffer, sentAt: number }>} */
    this.unacked = new Map();
    this.expectedIn = 0;
    this.earlyIn = new Map();
    this.ops = Promise.resolve();
    /** What tests look at. */
    this.stats = {
      socketsOpened: 0, socketsDropped: 0, sizes: [], clientVersions: [], encryptedInputs: 0, duplicatesIn: 0, retransmitted: 0,
      // Port sessions: the mode the agent chose, its dials of the target, the flags it received,
      // smux streams opened and NOPs received, and target connections open now.
      /** @type {'mux' | 'basic' | 'stream' | undefined} */ portMode: undefined,
      /** @type {{ host: string, port: number }[]} */ dials: [],
      /** @type {number[]} */ flags: [],
      streamsOpened: 0, nops: 0, openTargets: 0,
    };
    this.resendTimer = setInterval(() => this.resendExpired(), 50);
  }

  /** A websocket whose OpenDataChannel carried this session's current token. */
  attach(socket, openRequest) {
    this.socket?.terminate();
    this.socket = socket;
    this.stats.socketsOpened++;
    this.stats.clientVersions.push(openRequest.ClientVersion);
    socket.on('message', (data, isBinary) => isBinary && this.receive(Buffer.from(data)));
    socket.on('close', () => {
      if (this.socket === socket) this.socket = undefined;
    });
    if (!this.started) {
      this.started = true;
      if (this.portProperties) this.sendPortHandshakeRequest();
      else if (this.kms) this.sendHandshakeRequest();
      else this.startShell();
    } else {
      // As MGS does when the client is back: tell it to publish again, then resend what is unacked.
      this.sendRaw(encode({ messageType: 'start_publication', sequenceNumber: 0, flags: 0, messageId: randomUUID(), payloadType: 0, payload: Buffer.alloc(0) }));
      for (const entry of this.unacked.values()) this.transmit(entry);
    }
  }

  sendHandshakeRequest() {
    this.challenge = randomBytes(16).toString('base64');
    this.sendSequenced(5, json({
      AgentVersion: '3.3.987.0',
      RequestedClientActions: [
        { ActionType: 'SessionType', ActionParameters: { SessionType: 'Standard_Stream', Properties: null } },
        { ActionType: 'KMSEncryption', ActionParameters: { KMSKeyId: this.kms.keyId, Challenge: this.challenge } },
      ],
    }));
  }

  /** Port sessions always shake hands, and are never encrypted (§2.4, §10). */
  sendPortHandshakeRequest() {
    this.sendSequenced(5, json({
      AgentVersion: this.agentVersion,
      RequestedClientActions: [{ ActionType: 'SessionType', ActionParameters: { SessionType: 'Port', Properties: this.portProperties } }],
    }));
  }

  portHandshakeResponse(response) {
    this.stats.clientVersions.push(response.ClientVersion);
    if (response.ProcessedClientActions.some((a) => a.ActionStatus !== 1)) {
      return this.closeChannel('Encountered error while initiating handshake.');
    }
    const properties = this.portProperties;
    const mode = portMode(properties, this.agentVersion, response.ClientVersion);
    this.stats.portMode = mode;
    this.port = new PortPlugin(
      {
        send: (payloadType, payload) => this.sendSequenced(payloadType, payload),
        close: (output) => void this.closeWhenAcknowledged(output),
        congested: () => this.unacked.size >= this.window,
        log: this.log,
        stats: this.stats,
      },
      // Without a host the agent dials localhost; the test services listen on its IPv4 address.
      { mode, targetHost: properties.host ?? '127.0.0.1', targetPort: Number(properties.portNumber) },
    );
    this.sendSequenced(7, json({ HandshakeTimeToComplete: 1_000_000, CustomerMessage: '' }));
    this.port.start();
    return undefined;
  }

  receive(bytes) {
    let m;
    try {
      m = decode(bytes);
    } catch (err) {
      this.log(`agent: dropped a bad message: ${err.message}`);
      return;
    }
    if (m.messageType === 'acknowledge') {
      const { AcknowledgedMessageSequenceNumber: seq } = JSON.parse(m.payload.toString());
      this.unacked.delete(seq);
      if (this.unacked.size < this.window) {
        this.child?.stdout.resume();
        this.port?.resume();
      }
      return;
    }
    if (m.messageType !== 'input_stream_data') return;
    // The agent acknowledges every input message, duplicates too, then processes in order.
    this.transmit({ bytes: ackFor(m), sentAt: 0 });
    if (m.sequenceNumber < this.expectedIn || this.earlyIn.has(m.sequenceNumber)) {
      this.stats.duplicatesIn++;
      return;
    }
    this.earlyIn.set(m.sequenceNumber, m);
    for (let next = this.earlyIn.get(this.expectedIn); next; next = this.earlyIn.get(this.expectedIn)) {
      this.earlyIn.delete(this.expectedIn++);
      this.process(next);
    }
  }

  process(m) {
    if (this.portProperties) {
      switch (m.payloadType) {
        case 6: return this.portHandshakeResponse(JSON.parse(m.payload.toString()));
        case 1: return this.port?.input(m.payload); // input during the handshake is discarded
        case 10: return this.port?.flag(m.payload.readUInt32BE(0));
        default: return undefined;
      }
    }
    switch (m.payloadType) {
      case 6: return this.handshakeResponse(JSON.parse(m.payload.toString()));
      case 9: return this.challengeResponse(JSON.parse(m.payload.toString()));
      case 1: {
        if (!this.child) return; // input during the handshake is acknowledged and discarded, as the agent does
        let data = m.payload;
        if (this.keys) {
          data = open(this.keys.decrypt, data);
          this.stats.encryptedInputs++;
        }
        return this.serially(() => new Promise((resolve) => this.child.stdin.write(data, resolve)));
      }
      case 3: {
        const { cols, rows } = JSON.parse(m.payload.toString());
        this.stats.sizes.push({ cols, rows });
        return this.serially(async () => {
          const tty = await this.ttyPath;
          await run('stty', ['-F', tty, 'cols', String(cols), 'rows', String(rows)]);
        });
      }
      default:
        return undefined;
    }
  }

  handshakeResponse(response) {
    this.stats.clientVersions.push(response.ClientVersion);
    const action = response.ProcessedClientActions.find((a) => a.ActionType === 'KMSEncryption');
    if (response.ProcessedClientActions.some((a) => a.ActionStatus !== 1) || !action?.ActionResult?.ChallengeAcknowledgement) {
      return this.closeChannel('Encountered error while initiating handshake. KMSEncryption failed on client with status 2');
    }
    const context = { 'aws:ssm:SessionId': this.sessionId, 'aws:ssm:TargetId': this.target, 'aws:ssm:RandomChallenge': this.challenge };
    let dataKey;
    try {
      dataKey = this.kms.decrypt({ CiphertextBlob: Buffer.from(action.ActionResult.KMSCipherTextKey, 'base64'), EncryptionContext: context }).Plaintext;
    } catch (err) {
      return this.closeChannel(`KMS decrypt failed: ${err.message}`);
    }
    // The agent encrypts with the half the client decrypts with, and the other way round.
    this.pendingKeys = { encrypt: dataKey.subarray(0, 32), decrypt: dataKey.subarray(32, 64) };
    this.challengeBytes = randomBytes(64);
    this.sendSequenced(8, json({ Challenge: seal(this.pendingKeys.encrypt, this.challengeBytes).toString('base64') }));
  }

  challengeResponse({ Challenge }) {
    let answer;
    try {
      answer = open(this.pendingKeys.decrypt, Buffer.from(Challenge, 'base64'));
    } catch {
      answer = undefined;
    }
    if (!answer?.equals(this.challengeBytes)) return this.closeChannel('Encryption challenge failed.');
    this.keys = this.pendingKeys;
    this.sendSequenced(7, json({ HandshakeTimeToComplete: 1_000_000, CustomerMessage: 'This session is encrypted using AWS KMS.' }));
    this.startShell();
  }

  startShell() {
    const ttyFile = join(tmpdir(), `ssm-agent-tty-${randomUUID()}`);
    const command = `tty > '${ttyFile}'; exec ${this.shell} -i`;
    // Own process group, so ending the session kills the shell and whatever it runs.
    this.child = spawn('script', ['-qfec', command, '/dev/null'], {
      detached: true,
      stdio: ['pipe', 'pipe', 'ignore'],
      env: { PATH: process.env.PATH, HOME: tmpdir(), SHELL: '/bin/sh', TERM: 'xterm', PS1: '$ ', LANG: 'C.UTF-8', ENV: '' },
    });
    this.ttyPath = waitForFile(ttyFile).then((text) => text.trim());
    this.ttyPath.finally(() => rm(ttyFile, { force: true })).catch(() => undefined);
    this.child.stdin.on('error', () => undefined);
    this.child.stdout.on('data', (chunk) => {
      // Cut at 1,024 bytes like the agent, but without keeping UTF-8 sequences whole: the
      // client must decode across message boundaries.
      for (let i = 0; i < chunk.length; i += CHUNK) {
        const piece = chunk.subarray(i, i + CHUNK);
        this.sendSequenced(1, this.keys ? seal(this.keys.encrypt, piece) : piece);
      }
      if (this.unacked.size >= this.window) this.child.stdout.pause();
    });
    this.child.on('exit', () => void this.shellExited());
  }

  async shellExited() {
    this.child = undefined;
    await this.closeWhenAcknowledged('');
  }

  /** Lets the last output be acknowledged before saying the channel is closed. */
  async closeWhenAcknowledged(output) {
    for (let waited = 0; this.unacked.size > 0 && waited < 5000 && !this.ended; waited += 20) await sleep(20);
    this.closeChannel(output);
  }

  closeChannel(output) {
    if (this.ended) return;
    const body = { MessageId: randomUUID(), CreatedDate: new Date().toISOString(), DestinationId: this.sessionId, SessionId: this.sessionId, MessageType: 'channel_closed', SchemaVersion: 1, Output: output };
    this.sendRaw(encode({ messageType: 'channel_closed', sequenceNumber: 0, flags: 0, messageId: randomUUID(), payloadType: 0, payload: json(body) }));
    this.end();
  }

  /** TerminateSession, or the server stopping. */
  end() {
    if (this.ended) return;
    this.ended = true;
    clearInterval(this.resendTimer);
    this.port?.end();
    this.socket?.close(1000);
    if (this.child?.pid) {
      try {
        process.kill(-this.child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }

  serially(op) {
    this.ops = this.ops.then(op).catch((err) => this.log(`agent: ${err.message}`));
  }

  sendSequenced(payloadType, payload) {
    const seq = this.nextSeq++;
    const bytes = encode({ messageType: 'output_stream_data', sequenceNumber: seq, flags: seq === 0 ? 1 : 0, messageId: randomUUID(), payloadType, payload });
    const entry = { bytes, sentAt: Date.now() };
    this.unacked.set(seq, entry);
    this.transmit(entry);
  }

  resendExpired() {
    const now = Date.now();
    for (const entry of this.unacked.values()) {
      if (now - entry.sentAt >= RESEND_AFTER_MS) {
        this.stats.retransmitted++;
        this.transmit(entry);
      }
    }
  }

  /** Sends through the configured faults. */
  transmit(entry) {
    entry.sentAt = Date.now();
    if (!this.socket) return;
    if (this.dropSocketAfter !== undefined && ++this.transmitted >= this.dropSocketAfter) {
      this.dropSocketAfter = undefined;
      this.stats.socketsDropped++;
      this.log('agent: dropping the websocket');
      this.socket.terminate();
      this.socket = undefined;
      return;
    }
    const { drop = 0, duplicate = 0, reorder = 0 } = this.faults;
    const roll = this.random();
    if (roll < drop) return;
    if (roll < drop + duplicate) {
      this.sendRaw(entry.bytes);
      this.sendRaw(entry.bytes);
      return;
    }
    if (roll < drop + duplicate + reorder && !this.held) {
      this.held = entry.bytes;
      setTimeout(() => this.releaseHeld(), 5);
      return;
    }
    this.sendRaw(entry.bytes);
    this.releaseHeld();
  }

  releaseHeld() {
    const held = this.held;
    this.held = undefined;
    if (held) this.sendRaw(held);
  }

  sendRaw(bytes) {
    if (this.socket?.readyState === 1) this.socket.send(bytes);
  }
}

function json(body) {
  return Buffer.from(JSON.stringify(body));
}

function seal(key, plaintext) {
  const nonce = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, nonce);
  return Buffer.concat([nonce, cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
}

function open(key, sealed) {
  const decipher = createDecipheriv('aes-256-gcm', key, sealed.subarray(0, 12));
  decipher.setAuthTag(sealed.subarray(sealed.length - 16));
  return Buffer.concat([decipher.update(sealed.subarray(12, sealed.length - 16)), decipher.final()]);
}

async function waitForFile(path) {
  for (let waited = 0; waited < 10_000; waited += 10) {
    const text = await readFile(path, 'utf8').catch(() => '');
    if (text.endsWith('\n')) return text;
    await sleep(10);
  }
  throw new Error(`the shell did not report its tty in ${path}`);
}


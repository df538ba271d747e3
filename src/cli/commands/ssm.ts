// `research-cloud ssm shell | forward | proxy`: Session Manager from a shell, with no
// session-manager-plugin. Each command takes its streams and its stop signal as `io`, so tests
// run it against the local SSM server with in-memory streams.
import type { Readable, Writable } from 'node:stream';
import { parseArgs } from 'node:util';
import { Connection } from '../../aws/connection';
import { startPortForward } from '../../ssm/portForward';
import { startShellSession, type SessionExit } from '../../ssm/session';
import { startSshStream } from '../../ssm/sshStream';
import { errorSentence, ExitCode, UsageError } from '../exitCodes';

export interface SsmIo {
  readonly stdin: Readable & { isTTY?: boolean; setRawMode?: (raw: boolean) => unknown };
  /** A terminal's stdout has columns and rows, and emits 'resize' on SIGWINCH. */
  readonly stdout: Writable & { isTTY?: boolean; columns?: number; rows?: number };
  readonly stderr: Writable;
  /** Aborted by Ctrl-C (outside a raw-mode shell), SIGTERM or SIGHUP: the command ends its session. */
  readonly signal: AbortSignal;
}

export interface SsmShellArgs {
  readonly target: string;
}

export interface SsmForwardArgs {
  readonly target: string;
  readonly remotePort: number;
  /** Absent: any free port. */
  readonly localPort?: number;
  readonly remoteHost?: string;
  readonly localHost?: string;
}

export interface SsmProxyArgs {
  readonly target: string;
  readonly port: number;
}

/** Profile and region; the SSM endpoint follows AWS_ENDPOINT_URL_SSM and the profile, as everywhere. */
export interface SsmConnectionFlags {
  readonly profile?: string;
  readonly region?: string;
}

export type SsmInvocation =
  | { readonly subcommand: 'shell'; readonly args: SsmShellArgs; readonly connection: SsmConnectionFlags }
  | { readonly subcommand: 'forward'; readonly args: SsmForwardArgs; readonly connection: SsmConnectionFlags }
  | { readonly subcommand: 'proxy'; readonly args: SsmProxyArgs; readonly connection: SsmConnectionFlags }
  | { readonly subcommand: 'help' };

export const SSM_USAGE = `Usage:
  research-cloud ssm shell <instance-id>
  research-cloud ssm forward <instance-id> <remote-port>[:<local-port>] [--remote-host HOST] [--local-host ADDRESS]
  research-cloud ssm proxy <instance-id> [--port 22]
Each also takes --profile NAME and --region REGION.`;

export const SSM_HELP = `research-cloud ssm: terminals, port forwarding and SSH to instances through AWS Systems
Manager Session Manager, with no SSH keys on the network path and no session-manager-plugin.

  ssm shell <instance-id>
      An interactive shell on the instance. Ctrl-C goes to the remote shell; the command ends
      when the session does (type exit).
  ssm forward <instance-id> <remote-port>[:<local-port>]
      Listens on 127.0.0.1:<local-port> (any free port if omitted) and forwards each connection
      to <remote-port> on the instance, or on --remote-host as the instance reaches it. Prints the
      local address and runs until Ctrl-C.
        --remote-host HOST      forward to HOST (e.g. a database in the VPC) through the instance
        --local-host ADDRESS    listen on ADDRESS instead of 127.0.0.1
  ssm proxy <instance-id> [--port 22]
      An OpenSSH ProxyCommand over AWS-StartSSHSession: stdin and stdout carry the SSH
      connection. In ~/.ssh/config:  ProxyCommand research-cloud ssm proxy %h --port %p

  --profile NAME, --region REGION   as for the other commands; AWS_ENDPOINT_URL_SSM is honoured.`;

/**
 * The `ssm` command: parses the words after `research-cloud ssm`, runs the subcommand and
 * returns its exit status. Errors become one sentence on stderr.
 */
export async function runSsmCommand(argv: readonly string[], io: SsmIo = processIo()): Promise<ExitCode> {
  let invocation: SsmInvocation;
  try {
    invocation = parseSsmArguments(argv);
  } catch (err) {
    io.stderr.write(`${errorSentence(err)}\n\n${SSM_USAGE}\n`);
    return ExitCode.Usage;
  }
  if (invocation.subcommand === 'help') {
    io.stdout.write(`${SSM_HELP}\n`);
    return ExitCode.Success;
  }
  const connection = new Connection({ profile: invocation.connection.profile, region: invocation.connection.region });
  try {
    switch (invocation.subcommand) {
      case 'shell':
        return await runSsmShell(connection, invocation.args, io);
      case 'forward':
        return await runSsmForward(connection, invocation.args, io);
      case 'proxy':
        return await runSsmProxy(connection, invocation.args, io);
    }
  } catch (err) {
    io.stderr.write(`${errorSentence(err)}\n`);
    return ExitCode.Stopped;
  } finally {
    connection.dispose();
  }
}

const CONNECTION_OPTIONS = { profile: { type: 'string' }, region: { type: 'string' }, help: { type: 'boolean', short: 'h' } } as const;
const OPTIONS = {
  shell: CONNECTION_OPTIONS,
  forward: { ...CONNECTION_OPTIONS, 'remote-host': { type: 'string' }, 'local-host': { type: 'string' } },
  proxy: { ...CONNECTION_OPTIONS, port: { type: 'string', short: 'p' } },
} as const;

export function parseSsmArguments(argv: readonly string[]): SsmInvocation {
  const [subcommand, ...rest] = argv;
  if (subcommand === undefined) throw new UsageError('Give an ssm command: shell, forward or proxy.');
  if (subcommand === 'help' || subcommand === '--help' || subcommand === '-h') return { subcommand: 'help' };
  if (subcommand !== 'shell' && subcommand !== 'forward' && subcommand !== 'proxy') {
    throw new UsageError(`There is no command "ssm ${subcommand}"; use shell, forward or proxy.`);
  }
  let values: Record<string, string | boolean | undefined>;
  let positionals: string[];
  try {
    const parsed = parseArgs({ args: [...rest], options: OPTIONS[subcommand], allowPositionals: true, strict: true });
    values = parsed.values as Record<string, string | boolean | undefined>;
    positionals = parsed.positionals;
  } catch (err) {
    throw new UsageError(`ssm ${subcommand}: ${(err as Error).message}`);
  }
  if (values.help) return { subcommand: 'help' };
  const connection = connectionFlags(values);
  const target = instanceId(positionals[0], subcommand);
  switch (subcommand) {
    case 'shell':
      expectArguments(subcommand, positionals, 1);
      return { subcommand, args: { target }, connection };
    case 'forward': {
      expectArguments(subcommand, positionals, 2);
      const ports = /^(\d+)(?::(\d+))?$/.exec(positionals[1]);
      if (!ports) throw new UsageError(`ssm forward takes <remote-port>[:<local-port>], e.g. 8888 or 8888:9000, not "${positionals[1]}".`);
      const remotePort = port(ports[1], 'remote port', 1);
      const localPort = ports[2] === undefined ? undefined : port(ports[2], 'local port', 0);
      const remoteHost = optionalText(values, 'remote-host');
      const localHost = optionalText(values, 'local-host');
      return {
        subcommand,
        args: { target, remotePort, ...(localPort !== undefined && { localPort }), ...(remoteHost && { remoteHost }), ...(localHost && { localHost }) },
        connection,
      };
    }
    case 'proxy':
      expectArguments(subcommand, positionals, 1);
      return { subcommand, args: { target, port: port(optionalText(values, 'port') ?? '22', 'SSH port (--port)', 1) }, connection };
  }
}

/**
 * An interactive shell: the terminal in raw mode so every key, Ctrl-C included, goes to the
 * remote shell; the remote pty follows the terminal's size. Returns when the session ends.
 */
export async function runSsmShell(connection: Connection, args: SsmShellArgs, io: SsmIo): Promise<ExitCode> {
  const { stdin, stdout, stderr } = io;
  const shell = await startShellSession(connection, { target: args.target, size: terminalSize(stdout), signal: io.signal });
  const raw = !!stdin.isTTY && !!stdin.setRawMode;
  stderr.write(`Started session ${shell.sessionId} on ${args.target}.\n`);
  if (shell.info?.customerMessage) stderr.write(`${shell.info.customerMessage}\n`);
  if (raw) stdin.setRawMode?.(true);

  const onInput = (chunk: Buffer | string) => {
    // Paused until the channel has taken the chunk, so a large paste is paced, not buffered.
    stdin.pause();
    shell.write(chunk).then(
      () => stdin.resume(),
      () => undefined,
    );
  };
  // Piped input: its end is the remote shell's end of input too, as Ctrl-D at a prompt.
  const onInputEnd = () => void shell.write('\x04').catch(() => undefined);
  const onResize = () => {
    const size = terminalSize(stdout);
    if (size) shell.resize(size.cols, size.rows).catch(() => undefined);
  };
  const onStop = () => void shell.close().catch(() => undefined);
  const output = shell.onData((text) => stdout.write(text));
  stdin.on('data', onInput);
  if (!raw) stdin.once('end', onInputEnd);
  stdout.on('resize', onResize);
  io.signal.addEventListener('abort', onStop, { once: true });
  if (io.signal.aborted) onStop();
  stdin.resume();

  const exit = await new Promise<SessionExit>((resolve) => shell.onExit(resolve));
  output.dispose();
  stdin.off('data', onInput);
  stdin.off('end', onInputEnd);
  stdout.off('resize', onResize);
  io.signal.removeEventListener('abort', onStop);
  if (raw) stdin.setRawMode?.(false);
  stdin.pause();
  if (exit.reason === 'failed') {
    stderr.write(`\n${errorSentence(exit.error)}\n`);
    return ExitCode.Stopped;
  }
  stderr.write(`\n${exit.message ?? `Session ${shell.sessionId} ended.`}\n`);
  return ExitCode.Success;
}

/** Forwards a local port until the signal (Ctrl-C) or until the session ends. */
export async function runSsmForward(connection: Connection, args: SsmForwardArgs, io: SsmIo): Promise<ExitCode> {
  const forward = await startPortForward(connection, { ...args, signal: io.signal });
  const address = hostPort(args.localHost ?? '127.0.0.1', forward.localPort);
  const destination = args.remoteHost ? `${hostPort(args.remoteHost, forward.remotePort)} through ${forward.target}` : `${forward.target}:${forward.remotePort}`;
  io.stdout.write(`Forwarding ${address} to ${destination} (${forward.mode} mode). Press Ctrl-C to stop.\n`);
  if (forward.mode === 'basic') {
    io.stderr.write("This instance's SSM Agent is old: connections are carried one at a time. Update the agent to carry many at once.\n");
  }
  // The signal was passed to the forward: aborting it closes the forward, which ends it.
  const reason = await new Promise<Error | undefined>((resolve) => forward.onEnd(resolve));
  if (reason) {
    io.stderr.write(`${errorSentence(reason)}\n`);
    return ExitCode.Stopped;
  }
  io.stderr.write('Stopped forwarding; the session has ended.\n');
  return ExitCode.Success;
}

/**
 * An OpenSSH ProxyCommand: stdin to the instance's sshd, sshd to stdout, and nothing else on
 * stdout. Returns when the session ends: sshd closed, ssh closed stdin, or a signal.
 */
export async function runSsmProxy(connection: Connection, args: SsmProxyArgs, io: SsmIo): Promise<ExitCode> {
  const stream = await startSshStream(connection, { target: args.target, port: args.port, signal: io.signal });
  const stop = () => void stream.close().catch(() => undefined);
  io.signal.addEventListener('abort', stop, { once: true });
  if (io.signal.aborted) stop();
  io.stdin.pipe(stream);
  // ssh closing our stdin means it is done: end the session once what it sent has gone.
  stream.once('finish', stop);
  stream.pipe(io.stdout);
  const failure = await new Promise<Error | undefined>((resolve) => {
    stream.once('end', () => resolve(undefined));
    stream.once('error', resolve);
  });
  io.signal.removeEventListener('abort', stop);
  io.stdin.unpipe(stream);
  io.stdin.pause();
  if (failure) {
    io.stderr.write(`${errorSentence(failure)}\n`);
    return ExitCode.Stopped;
  }
  return ExitCode.Success;
}

/** The process's own streams, and a signal that Ctrl-C, SIGTERM and SIGHUP abort. A second Ctrl-C quits at once. */
export function processIo(): SsmIo {
  const controller = new AbortController();
  const stop = () => {
    if (controller.signal.aborted) process.exit(ExitCode.Stopped);
    controller.abort();
  };
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, stop);
  return { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, signal: controller.signal };
}

function terminalSize(stdout: SsmIo['stdout']): { cols: number; rows: number } | undefined {
  const { columns, rows } = stdout;
  return stdout.isTTY && columns && rows ? { cols: columns, rows } : undefined;
}

function hostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

function instanceId(value: string | undefined, subcommand: string): string {
  if (value === undefined) throw new UsageError(`ssm ${subcommand} needs an instance id, such as i-0123456789abcdef0.`);
  if (!/^(i|mi)-[0-9a-f]{8,}$/.test(value)) throw new UsageError(`"${value}" is not an instance id such as i-0123456789abcdef0 or mi-0123456789abcdef0.`);
  return value;
}

function port(value: string, what: string, min: number): number {
  const number = Number(value);
  if (!/^\d+$/.test(value) || number < min || number > 65535) {
    throw new UsageError(`The ${what} must be a number from ${min} to 65535, not "${value}".`);
  }
  return number;
}

function expectArguments(subcommand: string, positionals: readonly string[], count: number): void {
  if (positionals.length !== count) {
    throw new UsageError(`ssm ${subcommand} takes ${count === 1 ? 'one argument' : `${count} arguments`}, not ${positionals.length}.`);
  }
}

function connectionFlags(values: Record<string, string | boolean | undefined>): SsmConnectionFlags {
  const profile = optionalText(values, 'profile');
  const region = optionalText(values, 'region');
  if (region !== undefined && !/^[a-z0-9][a-z0-9-]*$/.test(region)) throw new UsageError(`--region takes a region code such as eu-west-1, not "${region}".`);
  return { ...(profile && { profile }), ...(region && { region }) };
}

function optionalText(values: Record<string, string | boolean | undefined>, name: string): string | undefined {
  const value = values[name];
  return typeof value === 'string' ? value : undefined;
}

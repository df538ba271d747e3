import * as vscode from 'vscode';
import type { Connection } from '../../aws/connection';
import type { Disposable } from '../../ssm/events';
import { startShellSession, type SessionExit, type ShellSession } from '../../ssm/session';
import { log } from '../log';

export interface SessionTerminalOptions {
  readonly connection: Connection;
  /** Instance id. */
  readonly target: string;
  /** What the terminal tab says: the Name tag, or the id. */
  readonly label: string;
  /** Session document; undefined for the account's standard shell (SSM-SessionManagerRunShell). */
  readonly documentName?: string;
  /** Typed into the shell once it has printed its prompt, e.g. `sudo -iu ec2-user`. */
  readonly loginCommand?: string;
}

const DIM = '\x1b[2m';
const RED = '\x1b[31m';
const RESET = '\x1b[0m';

/**
 * A terminal whose shell runs on an instance through Session Manager. It is a Pseudoterminal,
 * not a process: the session's token lives only in this extension host's memory, never in a
 * command line, an environment or a setting. `isTransient` keeps VS Code from restoring it after
 * a reload, when there would be no session behind it.
 */
export function openSessionTerminal(options: SessionTerminalOptions): vscode.Terminal {
  const terminal = vscode.window.createTerminal({
    name: `SSM: ${options.label}`,
    pty: new SessionPseudoterminal(options),
    iconPath: new vscode.ThemeIcon('remote'),
    isTransient: true,
  });
  terminal.show();
  return terminal;
}

/** Adapts a ShellSession to VS Code's Pseudoterminal: keys in, output out, size, close. */
export class SessionPseudoterminal implements vscode.Pseudoterminal {
  private readonly writeEmitter = new vscode.EventEmitter<string>();
  private readonly closeEmitter = new vscode.EventEmitter<number | void>();
  private readonly nameEmitter = new vscode.EventEmitter<string>();
  readonly onDidWrite = this.writeEmitter.event;
  readonly onDidClose = this.closeEmitter.event;
  readonly onDidChangeName = this.nameEmitter.event;

  /** Aborted when the terminal closes while the session is still starting. */
  private readonly starting = new AbortController();
  private shell?: ShellSession;
  /** Keys typed while the session was starting, sent once it is ready. */
  private typedAhead: string[] = [];
  private size?: vscode.TerminalDimensions;
  /** The session is over and its reason is on screen: the next key closes the terminal. */
  private over = false;
  private readonly subscriptions: Disposable[] = [];

  constructor(private readonly options: SessionTerminalOptions) {}

  open(initialDimensions: vscode.TerminalDimensions | undefined): void {
    const { connection, target, label, documentName } = this.options;
    this.size = initialDimensions;
    this.writeEmitter.fire(`${DIM}Starting a Session Manager session on ${label}…${RESET}\r\n`);
    startShellSession(connection, {
      target,
      documentName,
      // The first size goes out as soon as the shell is ready, before its first prompt.
      size: initialDimensions && { cols: initialDimensions.columns, rows: initialDimensions.rows },
      reason: 'Research Cloud terminal',
      signal: this.starting.signal,
      log: (line) => log.debug(line),
    }).then(
      (shell) => this.attach(shell),
      (err: unknown) => {
        if (this.starting.signal.aborted) return;
        log.error(`Terminal on ${target}: ${(err as Error).message}`);
        this.end(`${RED}${(err as Error).message}${RESET}`);
      },
    );
  }

  handleInput(data: string): void {
    if (this.over) {
      this.closeEmitter.fire();
      return;
    }
    // Ctrl-C, Ctrl-D and escape sequences pass through as typed; the remote pty interprets them.
    if (this.shell) this.send(this.shell, data);
    else this.typedAhead.push(data);
  }

  setDimensions(dimensions: vscode.TerminalDimensions): void {
    this.size = dimensions;
    // A failed resize means the session is ending; onExit reports that.
    this.shell?.resize(dimensions.columns, dimensions.rows).catch(() => undefined);
  }

  /** The user closed the terminal: end the session on the instance (TerminateSession). */
  close(): void {
    this.starting.abort();
    this.dispose();
    this.shell?.close().catch((err: unknown) => log.warn(`Ending session ${this.shell?.sessionId}: ${(err as Error).message}`));
  }

  private attach(shell: ShellSession): void {
    if (this.starting.signal.aborted) {
      // Closed while the session was starting; the channel opened anyway, so end it.
      void shell.close().catch(() => undefined);
      return;
    }
    this.shell = shell;
    const { target, label, loginCommand } = this.options;
    log.info(`Session ${shell.sessionId} started on ${target}.`);
    let awaitingPrompt = Boolean(loginCommand);
    this.subscriptions.push(
      shell.onData((text) => {
        this.writeEmitter.fire(text);
        if (awaitingPrompt) {
          awaitingPrompt = false;
          this.send(shell, `${loginCommand}\r`);
        }
      }),
      shell.onExit((exit) => this.exited(shell, exit)),
      shell.onConnectionChange((state) => this.nameEmitter.fire(state === 'reconnecting' ? `SSM: ${label} (reconnecting…)` : `SSM: ${label}`)),
    );
    // The size may have changed while the session was starting; an unchanged one is not resent.
    if (this.size) this.setDimensions(this.size);
    for (const data of this.typedAhead) this.send(shell, data);
    this.typedAhead = [];
  }

  private send(shell: ShellSession, data: string): void {
    // A write fails only when the session is ending, which onExit reports.
    shell.write(data).catch(() => undefined);
  }

  private exited(shell: ShellSession, exit: SessionExit): void {
    log.info(`Session ${shell.sessionId} on ${this.options.target} ended (${exit.reason}${exit.message ? `: ${exit.message}` : ''}).`);
    this.dispose();
    if (exit.reason === 'terminated') return; // closed from here
    // The shell exited (`exit`, Ctrl-D): close as a local terminal would.
    if (exit.reason === 'closed' && !exit.message) {
      this.closeEmitter.fire();
      return;
    }
    // Idle timeout, terminated elsewhere, or a failure: keep the reason on screen.
    const reason = exit.error?.message ?? exit.message ?? 'The session ended.';
    if (exit.error) log.error(`Session ${shell.sessionId}: ${reason}`);
    this.end(exit.reason === 'failed' ? `${RED}${reason}${RESET}` : reason);
  }

  private end(message: string): void {
    this.over = true;
    this.nameEmitter.fire(`SSM: ${this.options.label} (ended)`);
    this.writeEmitter.fire(`\r\n${message.replace(/\r?\n/g, '\r\n')}\r\n${DIM}Press any key to close this terminal.${RESET}\r\n`);
  }

  private dispose(): void {
    for (const s of this.subscriptions.splice(0)) s.dispose();
  }
}

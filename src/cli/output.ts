import { createInterface } from 'node:readline';
import type { ProgressSink } from '../core/progress';
import { createProgressDisplay, type ProgressDisplay } from './progressBar';

/**
 * Where a command's words go. Stdout carries the result: text for people, or with --json one
 * JSON object and nothing else. Stderr carries warnings, failures and errors in both modes.
 * Progress goes to stdout too (a bar on a terminal, a line now and then in a log file), except
 * with --json.
 */
export class Output {
  private display?: ProgressDisplay;

  constructor(
    readonly json: boolean,
    private readonly stdout: NodeJS.WriteStream = process.stdout,
    private readonly stderr: NodeJS.WriteStream = process.stderr,
    private readonly stdin: NodeJS.ReadStream = process.stdin,
  ) {}

  /** Someone can answer a question: both the keyboard and the screen are a terminal. */
  get interactive(): boolean {
    return !!(this.stdin.isTTY && this.stderr.isTTY);
  }

  /** Lines for people on stdout; nothing with --json. */
  print(...lines: string[]): void {
    if (this.json || !lines.length) return;
    this.write(this.stdout, lines);
  }

  /** Lines on stderr, in both modes. */
  warn(...lines: string[]): void {
    if (lines.length) this.write(this.stderr, lines);
  }

  /** The one JSON object of --json; nothing otherwise. */
  result(value: object): void {
    if (this.json) this.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
  }

  startProgress(): ProgressSink {
    if (this.json) return () => undefined;
    this.display = createProgressDisplay(this.stdout);
    return this.display.sink;
  }

  stopProgress(): void {
    this.display?.finish();
    this.display = undefined;
  }

  /** Asks on the terminal; anything but yes, Ctrl-C or the end of input is a no. */
  async confirm(question: string): Promise<boolean> {
    const prompt = createInterface({ input: this.stdin, output: this.stderr });
    try {
      return await new Promise<boolean>((resolve) => {
        prompt.on('SIGINT', () => {
          this.stderr.write('\n');
          resolve(false);
        });
        prompt.on('close', () => resolve(false));
        prompt.question(`${question} [y/N] `, (answer) => resolve(/^y(es)?$/i.test(answer.trim())));
      });
    } finally {
      prompt.close();
    }
  }

  private write(stream: NodeJS.WriteStream, lines: string[]): void {
    const text = `${lines.join('\n')}\n`;
    if (this.display) this.display.around(() => stream.write(text));
    else stream.write(text);
  }
}

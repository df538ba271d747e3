import { version } from '../../package.json';
import { parseCommandLine, type Invocation } from './args';
import { cleanup } from './commands/cleanup';
import { discard } from './commands/discard';
import { download } from './commands/download';
import { jobs } from './commands/jobs';
import { resume } from './commands/resume';
import { runSsmCommand } from './commands/ssm';
import { upload } from './commands/upload';
import { errorSentence, ExitCode, exitCodeForError, UsageError } from './exitCodes';
import { Output } from './output';
import { FULL_HELP, SHORT_USAGE } from './usage';

/** Runs one command line and returns its exit code; every error ends as a sentence, never a stack trace. */
export async function runCli(argv: readonly string[]): Promise<ExitCode> {
  // `ssm` has subcommands and options of its own and owns stdin and stdout (ssm proxy carries
  // SSH on them), so it parses its own words and never writes through Output.
  if (argv[0] === 'ssm') return runSsmCommand(argv.slice(1));
  let invocation: Invocation;
  try {
    invocation = parseCommandLine(argv);
  } catch (err) {
    process.stderr.write(`${errorSentence(err)}\n\n${SHORT_USAGE}\n`);
    return exitCodeForError(err);
  }
  if (invocation.command === 'help') {
    process.stdout.write(`${FULL_HELP}\n`);
    return ExitCode.Success;
  }
  if (invocation.command === 'version') {
    process.stdout.write(`research-cloud ${version}\n`);
    return ExitCode.Success;
  }
  const output = new Output(invocation.json);
  try {
    return await dispatch(invocation, output);
  } catch (err) {
    const sentence = errorSentence(err);
    output.warn(...(err instanceof UsageError ? [sentence, '', SHORT_USAGE] : [sentence]));
    if (!(err instanceof UsageError)) output.result({ command: invocation.command, status: 'stopped', error: sentence });
    return exitCodeForError(err);
  }
}

function dispatch(invocation: Exclude<Invocation, { command: 'help' | 'version' }>, output: Output): Promise<ExitCode> {
  switch (invocation.command) {
    case 'upload':
    case 'sync':
      return upload(invocation, output);
    case 'download':
      return download(invocation, output);
    case 'jobs':
      return jobs(output);
    case 'resume':
      return resume(invocation, output);
    case 'discard':
      return discard(invocation, output);
    case 'cleanup':
      return cleanup(invocation, output);
  }
}

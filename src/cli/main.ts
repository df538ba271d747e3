// The `research-cloud` command. esbuild bundles this file into dist/cli.js with a
// `#!/usr/bin/env node` banner; in development, run it with `node --import tsx src/cli/main.ts`.
import { runCli } from './cli';

// The SDK warns on Node 20 about its releases after January 2027; this bundle pins its SDK, so
// the warning asks the user for nothing and would only bury the command's own output.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

// `research-cloud jobs | head` closes the pipe early; that is not an error worth a stack trace.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});

void runCli(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});

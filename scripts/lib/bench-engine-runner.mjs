// One upload by this project's engine, in a process of its own so that the benchmark
// (scripts/bench-upload.mjs) measures its memory and CPU alone. The benchmark bundles it with
// esbuild, as dist/cli.js is bundled, and runs the bundle:
//   node bench-engine-runner.js SOURCE_DIR BUCKET JOBS_DIR
// The endpoint, keys and region come from the environment (AWS_ENDPOINT_URL_S3,
// AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION, AWS_CONFIG_FILE=/nonexistent), as they
// reach the extension. Settings are the extension's defaults (package.json, "researchCloud.upload.*"):
// adaptive concurrency up to 64, 512 MiB memory budget, 8 MiB parts, the default excludes.
// Prints one line of JSON on stdout; exits 1 (JSON with "error") if the job failed.
import { Connection } from '../../src/aws/connection.ts';
import { MiB } from '../../src/transfer/plan.ts';
import { prepareUpload, runPrepared } from '../../src/transfer/uploadService.ts';

const [source, bucket, jobsDirectory] = process.argv.slice(2);
if (!source || !bucket || !jobsDirectory) {
  console.error('usage: node bench-engine-runner.js SOURCE_DIR BUCKET JOBS_DIR');
  process.exit(2);
}

/** What uploadOptionsFromSettings() (src/ui/transfers/settings.ts) gives under default settings. */
const ENGINE_DEFAULTS = {
  storageClass: 'STANDARD',
  encryption: undefined,
  contentTypeFromName: true,
  gzip: false,
  hashedPrefixes: false,
  partSize: 8 * MiB,
  concurrency: undefined,
  maxConcurrency: 64,
  memoryBudget: 512 * MiB,
};
const SCAN_DEFAULTS = { followSymlinks: false, exclude: ['**/.git/**', '**/.DS_Store', '**/__pycache__/**'] };

const stopper = new AbortController();
for (const signal of ['SIGINT', 'SIGTERM']) process.once(signal, () => stopper.abort(new Error(`stopped by ${signal}`)));

// Like the CLI's openConnection(): sockets never fewer than the requests the engine may keep in flight.
const connection = new Connection({ maxSockets: Math.max(64, ENGINE_DEFAULTS.maxConcurrency) });
const concurrencySteps = [];
let logLines = 0;
// A function, not top-level await: the bundle is CommonJS, as dist/cli.js is.
async function main() {
  try {
    const loadedMs = performance.now(); // since the process started: node and the bundle
    const request = { sources: [source], bucket, prefix: '', scan: SCAN_DEFAULTS, engine: ENGINE_DEFAULTS };
    const prepared = await prepareUpload(connection, request, stopper.signal);
    const scannedMs = performance.now();
    // The baseline of the memory check: everything but file data (runtime, SDK, engine code, the
    // list of files), taken after the scan and before the first request.
    const baselineRss = process.memoryUsage.rss();
    const outcome = await runPrepared(connection, prepared, {
      jobsDirectory,
      signal: stopper.signal,
      log: (line) => {
        logLines++;
        const step = /^requests in flight: (\d+) → (\d+)$/.exec(line);
        if (step) concurrencySteps.push({ atMs: Math.round(performance.now() - scannedMs), to: Number(step[2]) });
      },
    });
    const doneMs = performance.now();
    const { result } = outcome;
    const report = {
      files: result.files,
      bytes: result.bytes,
      failed: result.failed.map((f) => `${f.path}: ${f.error.message}`).slice(0, 5),
      failedCount: result.failed.length,
      // The upload alone (open target, send, complete), and the parts before it.
      seconds: (doneMs - scannedMs) / 1000,
      startupSeconds: loadedMs / 1000,
      scanSeconds: (scannedMs - loadedMs) / 1000,
      finalConcurrency: result.finalConcurrency,
      peakBufferedBytes: result.peakBufferedBytes,
      requests: result.requests,
      retries: result.retries,
      baselineRss,
      // Peak RSS comes from GNU time around this process (sampling it here would cost CPU).
      endRss: process.memoryUsage.rss(),
      concurrencySteps,
      logLines,
    };
    process.stdout.write(`${JSON.stringify(report)}\n`);
    if (result.failed.length) process.exitCode = 1;
  } catch (error) {
    process.stdout.write(`${JSON.stringify({ error: error instanceof Error ? `${error.name}: ${error.message}` : String(error) })}\n`);
    process.exitCode = 1;
  } finally {
    connection.dispose();
  }
}

void main();

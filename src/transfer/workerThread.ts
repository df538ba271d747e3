import { dirname, join } from 'node:path';
import { Worker } from 'node:worker_threads';

/**
 * A worker thread on one of the engine's worker scripts: bundled beside dist/extension.js and
 * dist/cli.js (esbuild.mjs), or the TypeScript source beside this module under tsx.
 */
export function startWorkerThread(script: 'fileReaderWorker' | 'scanWorker', workerData?: unknown): Worker {
  // dirname(__filename), not __dirname: tsx, loading this module from ESM, sets only the former right.
  const here = dirname(__filename);
  if (!__filename.endsWith('.ts')) return new Worker(join(here, `${script}.js`), { workerData });
  // Tests run the TypeScript sources: a worker's entry file does not pass through the
  // --import tsx hooks, so the worker registers tsx before loading its script.
  return new Worker(`require('tsx/cjs'); require(${JSON.stringify(join(here, `${script}.ts`))});`, { eval: true, workerData });
}

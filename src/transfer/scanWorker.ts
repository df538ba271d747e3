// The worker thread of scanSources (scan.ts): one walk per thread, its result posted back.
// Bundled on its own as dist/scanWorker.js; under tsx (tests) this file runs as is.
import { parentPort, workerData } from 'node:worker_threads';
import type { ScanOptions } from './scan';
import { walkSources } from './scanWalk';

const { sources, options } = workerData as { sources: string[]; options: Pick<ScanOptions, 'followSymlinks' | 'exclude'> };
parentPort!.postMessage(walkSources(sources, options));

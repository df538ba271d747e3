// Bundles the extension host code (and the AWS SDK it uses) into dist/extension.js, the
// `research-cloud` command line into dist/cli.js (for npm and npx; the .vsix leaves it out).
// `--watch` rebuilds on change; `--dev` keeps names and adds source maps for debugging.
import { chmod } from 'node:fs/promises';
import * as esbuild from 'esbuild';

const watch = process.argv.includes('--watch');
const dev = watch || process.argv.includes('--dev');

const extension = {
  entryPoints: ['src/extension.ts'],
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  outfile: 'dist/extension.js',
  external: ['vscode'],
  minify: !dev,
  sourcemap: dev ? 'linked' : false,
  // The AWS SDK ships ESM and CJS builds; prefer the ESM one so unused code is shaken out.
  mainFields: ['module', 'main'],
  legalComments: 'external',
  logLevel: 'info',
};

const cli = {
  ...extension,
  entryPoints: ['src/cli/main.ts'],
  outfile: 'dist/cli.js',
  external: [],
  banner: { js: '#!/usr/bin/env node' },
  // Runnable as ./dist/cli.js too, not only through npm's bin link.
  plugins: [{ name: 'executable', setup: (build) => build.onEnd((result) => (result.errors.length ? undefined : chmod('dist/cli.js', 0o755))) }],
};

// The upload engine's worker threads (src/transfer/workerThread.ts) run these scripts, found
// beside dist/extension.js and dist/cli.js: reading and hashing files, and scanning folders.
const workers = {
  ...extension,
  entryPoints: ['src/transfer/fileReaderWorker.ts', 'src/transfer/scanWorker.ts'],
  outfile: undefined,
  outdir: 'dist',
  external: [],
};

// The Metrics webview's page: a browser bundle with uPlot; its CSS lands in dist/webview/metrics.css.
const metricsWebview = {
  entryPoints: { metrics: 'src/metrics/webview/main.ts' },
  bundle: true,
  platform: 'browser',
  target: 'es2022',
  format: 'iife',
  outdir: 'dist/webview',
  minify: !dev,
  sourcemap: dev ? 'linked' : false,
  legalComments: 'none',
  logLevel: 'info',
};

if (watch) {
  for (const options of [extension, cli, workers, metricsWebview]) await (await esbuild.context(options)).watch();
} else {
  await Promise.all([extension, cli, workers, metricsWebview].map((options) => esbuild.build(options)));
}

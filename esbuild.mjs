// Bundles the extension host code (and the AWS SDK it uses) into dist/extension.js.
// `--watch` rebuilds on change; `--dev` keeps names and adds source maps for debugging.
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

if (watch) {
  const context = await esbuild.context(extension);
  await context.watch();
} else {
  await esbuild.build(extension);
}

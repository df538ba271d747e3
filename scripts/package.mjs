// Builds the bundle and packs it with vsce into research-cloud-<version>.vsix, then prints its
// size. Dependencies are bundled by esbuild, so vsce is told not to look at node_modules.
import { execFileSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';

const run = (cmd, args) => execFileSync(cmd, args, { stdio: 'inherit' });
const { name, version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
const out = `${name}-${version}.vsix`;

run(process.execPath, ['esbuild.mjs']);
run(process.execPath, ['node_modules/@vscode/vsce/vsce', 'package', '--no-dependencies', '--allow-missing-repository', '--skip-license', '--no-rewrite-relative-links', '--out', out]);
console.log(`${out}: ${(statSync(out).size / 1e6).toFixed(2)} MB`);

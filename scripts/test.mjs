// `npm test`: from a fresh clone, installs what the tests need, then runs the checks and the
// three suites (unit, integration against Ceph RGW, end-to-end in code-server) and ends with a
// line `N passed, N failed` totalling them. Exits non-zero if anything failed.
// `npm test -- unit` (or integration, e2e) runs one suite.
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { buildVsix, ensureDebianPackages, ensureNpmPackages, repoRoot, run } from './lib/setup.mjs';

const SUITES = {
  unit: { dir: 'test/unit', debian: [] },
  // aws-cli and rclone: the S3 sink is checked against the peers the benchmarks measure.
  integration: { dir: 'test/integration', debian: ['ceph-mon', 'ceph-osd', 'ceph-common', 'radosgw', 'awscli', 'rclone'] },
  e2e: { dir: 'test/e2e', debian: ['chromium', 'ripgrep', 'libkrb5-dev'] },
};

const wanted = process.argv.slice(2).filter((a) => a in SUITES);
const suites = wanted.length ? wanted : Object.keys(SUITES);

ensureNpmPackages();
ensureDebianPackages([...new Set(suites.flatMap((s) => SUITES[s].debian))]);
run('npx', ['tsc', '-p', '.', '--noEmit']);
// The Metrics webview runs in a browser: its own tsconfig adds the DOM types.
run('npx', ['tsc', '-p', 'src/metrics/webview', '--noEmit']);
run(process.execPath, ['scripts/check-layers.mjs']);

const env = {};
if (suites.includes('e2e')) {
  env.RESEARCH_CLOUD_VSIX = buildVsix();
  const { ensureCodeServer } = await import('../test/harness/code-server.mjs');
  await ensureCodeServer({ log: (line) => console.log(line) });
}

const totals = { passed: 0, failed: 0 };
for (const suite of suites) {
  const counts = await runSuite(suite, env);
  console.log(`${suite}: ${counts.passed} passed, ${counts.failed} failed`);
  totals.passed += counts.passed;
  totals.failed += counts.failed;
}
console.log(`${totals.passed} passed, ${totals.failed} failed`);
process.exit(totals.failed || !totals.passed ? 1 : 0);

/** Runs one suite's files with Node's test runner and reads its pass and fail counts. */
function runSuite(suite, extraEnv) {
  const dir = join(repoRoot, SUITES[suite].dir);
  const files = readdirSync(dir).filter((f) => /\.test\.(ts|mjs)$/.test(f)).map((f) => join(SUITES[suite].dir, f));
  console.log(`\n== ${suite}: ${files.length} files`);
  // Suites that start servers run their files one at a time, to stay within 2 cores and memory.
  const args = ['--import', 'tsx', '--test', '--test-reporter=spec', ...(suite === 'unit' ? [] : ['--test-concurrency=1']), ...files];
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { cwd: repoRoot, env: { ...process.env, ...extraEnv }, stdio: ['ignore', 'pipe', 'inherit'] });
    let tail = '';
    child.stdout.on('data', (chunk) => {
      process.stdout.write(chunk);
      tail = (tail + chunk).slice(-4000);
    });
    child.on('close', (code) => {
      const count = (word) => Number(new RegExp(`ℹ ${word} (\\d+)`).exec(tail)?.[1] ?? 0);
      const passed = count('pass');
      // A runner that crashed before its summary counts as one failure, never as a pass.
      const failed = count('fail') + count('cancelled') + (code !== 0 && count('fail') === 0 ? 1 : 0);
      resolve({ passed, failed });
    });
  });
}

// Smoke test of the code-server harness itself: install, start, drive the workbench, stop
// without leaving processes behind. Run with:
//   node --import tsx --test test/e2e/code-server-smoke.test.ts

import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import {
  ensureCodeServer,
  launchBrowser,
  notifications,
  runCommand,
  screenshot,
  startCodeServer,
  terminalText,
  waitForWorkbench,
} from '../harness/code-server.mjs';

const SCREENSHOT = path.join('test-results', 'code-server-smoke.png');

test('code-server runs the workbench in headless Chromium and stops cleanly', { timeout: 300_000 }, async (t) => {
  const timer = stopwatch();
  await ensureCodeServer({ log: (line) => t.diagnostic(line) });
  t.diagnostic(`ensureCodeServer: ${timer.lap()} ms`);

  const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'smoke-folder-'));
  t.after(() => fs.rmSync(folder, { recursive: true, force: true }));
  fs.writeFileSync(path.join(folder, 'hello.txt'), 'hello\n');

  const server = await startCodeServer({ folder });
  t.after(server.stop);
  t.diagnostic(`HTTP server listening: ${timer.lap()} ms (port ${server.port})`);

  const browser = await launchBrowser();
  t.after(browser.close);
  const { page } = browser;
  await page.goto(server.url);
  await waitForWorkbench(page, 'Explorer');
  t.diagnostic(`workbench ready: ${timer.lap()} ms`);

  await page.locator('.explorer-folders-view .monaco-list-row[aria-label="hello.txt"]').waitFor();

  await runCommand(page, 'View: Toggle Terminal');
  const terminal = page.locator('.terminal-wrapper.active');
  await terminal.locator('.xterm-rows').waitFor({ state: 'visible' });
  // Running a command proves the pty host spawned a shell, not just that a panel opened.
  // Focus returns to the editor when the palette closes, so click into the terminal first.
  await terminal.click();
  await page.keyboard.type('echo smoke-$((6*7))\n');
  await waitUntil(async () => (await terminalText(page)).includes('smoke-42'), 'terminal output "smoke-42"');
  t.diagnostic(`terminal answered: ${timer.lap()} ms; toasts: ${JSON.stringify(await notifications(page))}`);

  await screenshot(page, SCREENSHOT);
  assert.ok(fs.statSync(SCREENSHOT).size > 10_000, 'screenshot written');

  const pids = server.processes();
  assert.ok(pids.length >= 3, `expected code-server, extension host and pty host at least, got ${pids}`);
  await browser.close();
  timer.lap();
  await server.stop();
  t.diagnostic(`stopped ${pids.length} processes: ${timer.lap()} ms`);
  await server.stop(); // idempotent
  assert.deepEqual(server.processes(), [], 'no process of this run is left');
  assert.deepEqual(pids.filter(isAlive), [], 'every pid seen while running is gone');
  assert.equal(fs.existsSync(server.userDataDir), false, 'temp profile removed');
});

function stopwatch() {
  let last = Date.now();
  return {
    lap() {
      const now = Date.now();
      const elapsed = now - last;
      last = now;
      return elapsed;
    },
  };
}

async function waitUntil(condition: () => Promise<boolean>, what: string, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

// A zombie (exited, not yet reaped by its new parent) counts as gone.
function isAlive(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

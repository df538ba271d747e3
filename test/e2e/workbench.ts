// The set-up every end-to-end test shares: the packaged extension in code-server with an AWS
// configuration of its own (so nothing on this machine leaks in), Chromium on the workbench,
// and a tear-down that leaves a screenshot and no process behind.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { launchBrowser, screenshot, startCodeServer, waitForWorkbench } from '../harness/code-server.mjs';

export const RESULTS = join(process.cwd(), 'test-results');
export const CONTAINER = 'researchCloud';

export interface Workbench {
  readonly page: Page;
  /** The folder code-server opened. */
  readonly workspace: string;
  /** code-server's user data (logs included), for checks that nothing secret was written. */
  readonly userDataDir: string;
  /** Takes a screenshot named after the test, then stops the browser and code-server. */
  close(): Promise<void>;
}

export interface WorkbenchOptions {
  /** Names the screenshot left at close: test-results/e2e-<name>-last.png. */
  readonly name: string;
  /** Endpoints (AWS_ENDPOINT_URL_<SERVICE>), region and keys, as a user's environment gives them. */
  readonly env: Record<string, string>;
  readonly settings?: Record<string, unknown>;
  /** Fills the workspace before code-server opens it. */
  readonly prepare?: (workspace: string) => Promise<void>;
}

export async function openWorkbench(options: WorkbenchOptions): Promise<Workbench> {
  const vsix = process.env.RESEARCH_CLOUD_VSIX;
  assert.ok(vsix, 'RESEARCH_CLOUD_VSIX names the packaged extension (npm test sets it)');
  const scratch = await mkdtemp(join(tmpdir(), `rc-e2e-${options.name}-`));
  const workspace = join(scratch, 'workspace');
  await mkdir(workspace);
  await options.prepare?.(workspace);
  // An empty AWS config and no credentials file: only what `env` says reaches the extension.
  await writeFile(join(scratch, 'config'), '');
  let server: Awaited<ReturnType<typeof startCodeServer>> | undefined;
  let browser: Awaited<ReturnType<typeof launchBrowser>> | undefined;
  const close = async () => {
    if (browser) await screenshot(browser.page, join(RESULTS, `e2e-${options.name}-last.png`)).catch(() => undefined);
    await browser?.close();
    await server?.stop();
    await rm(scratch, { recursive: true, force: true });
  };
  try {
    server = await startCodeServer({
      folder: workspace,
      vsix,
      env: { AWS_CONFIG_FILE: join(scratch, 'config'), AWS_SHARED_CREDENTIALS_FILE: join(scratch, 'credentials'), ...options.env },
      settings: options.settings,
    });
    browser = await launchBrowser();
    await browser.page.goto(server.url);
    await waitForWorkbench(browser.page, 'Research Cloud', { timeout: 90_000 });
  } catch (err) {
    await close();
    throw err;
  }
  return { page: browser.page, workspace, userDataDir: server.userDataDir, close };
}

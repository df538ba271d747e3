// The packaged extension in a real VS Code (code-server), driven in Chromium, against a local
// S3 server: what a researcher sees and does in the Buckets view.
import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import { answerQuickInput, contextMenu, notifications, openView, screenshot, treeRow, treeRows, viewContainer } from '../harness/code-server.mjs';
import { startLocalS3 } from '../harness/fauxqs.mjs';
import { BIG_PREFIX_COUNT, SAMPLE_BUCKET, SECOND_BUCKET, sampleObjects, seedSampleData } from '../fixtures/sample-data.mjs';
import { CONTAINER, openWorkbench, RESULTS, type Workbench } from './workbench';

/** A results folder in the workspace, to upload from the Explorer. */
const LOCAL_RESULTS: Array<[string, string]> = [
  ['summary.csv', 'sample,reads\nS1,1000\n'],
  ['plots/coverage.svg', '<svg xmlns="http://www.w3.org/2000/svg"/>'],
  ['notes (final).md', '# Results\n'],
];

describe('Buckets view in code-server', () => {
  let store: Awaited<ReturnType<typeof startLocalS3>>;
  let workbench: Workbench;
  let page: Page;
  let workspace: string;

  before(async () => {
    store = await startLocalS3();
    await seedSampleData(store);
    workbench = await openWorkbench({
      name: 'buckets',
      env: { AWS_ENDPOINT_URL_S3: store.endpoint, AWS_REGION: store.region, AWS_ACCESS_KEY_ID: store.accessKeyId, AWS_SECRET_ACCESS_KEY: store.secretAccessKey },
      prepare: async (folder) => {
        await mkdir(join(folder, 'results', 'plots'), { recursive: true });
        for (const [path, body] of LOCAL_RESULTS) await writeFile(join(folder, 'results', path), body);
      },
    });
    ({ page, workspace } = workbench);
    await openView(page, 'Research Cloud');
  });

  after(async () => {
    await workbench?.close();
    await store?.stop();
  });

  it('shows the buckets of the local server', async () => {
    await treeRow(page, CONTAINER, SAMPLE_BUCKET).waitFor({ timeout: 30_000 });
    const rows = await treeRows(page, CONTAINER);
    assert.ok(rows.some((r) => r.includes(SECOND_BUCKET)), `both buckets listed: ${rows.join(' | ')}`);
  });

  it('expands a bucket into folders and objects with size, date and storage class', async () => {
    await treeRow(page, CONTAINER, SAMPLE_BUCKET).click();
    await treeRow(page, CONTAINER, /^runs/).waitFor();
    const rows = await treeRows(page, CONTAINER);
    for (const folder of ['notebooks', 'plates', 'runs']) assert.ok(rows.some((r) => r.startsWith(folder)), `folder ${folder}: ${rows.join(' | ')}`);
    const readme = rows.find((r) => r.startsWith('README.md'));
    assert.ok(readme, `object README.md: ${rows.join(' | ')}`);
    assert.match(readme, /README\.md\s*\d+ B · \d{4}-\d{2}-\d{2} \d{2}:\d{2} · STANDARD/);
    await screenshot(page, join(RESULTS, 'buckets-view.png'));
  });

  it('pages past 1,000 keys with "Load more…" and loads the rest', async () => {
    await treeRow(page, CONTAINER, /^plates/).click();
    // Clicking a folder row expands it and keeps the keyboard in the tree (clicking an object
    // would open it in an editor and take the focus there).
    await treeRow(page, CONTAINER, /^plate-0001/).click();
    await treeRow(page, CONTAINER, 'well_0000.tif').waitFor();
    // The tree is virtualised: jump to its end to reach the last rows.
    await page.keyboard.press('End');
    const more = treeRow(page, CONTAINER, 'Load more…');
    await more.waitFor();
    assert.match((await more.innerText()).replace(/\s+/g, ' '), /1,000 shown/);
    assert.ok(await treeRow(page, CONTAINER, 'well_0999.tif').isVisible(), 'the first page ends at the 1,000th key');
    await more.click();
    const last = `well_${String(BIG_PREFIX_COUNT - 1).padStart(4, '0')}.tif`;
    await treeRow(page, CONTAINER, 'well_1000.tif').waitFor({ state: 'attached' });
    await page.keyboard.press('End');
    await treeRow(page, CONTAINER, last).waitFor();
    assert.equal(await treeRow(page, CONTAINER, 'Load more…').count(), 0, 'no more pages after the last key');
    // Fold the plates away again for the next test.
    await page.keyboard.press('Home');
    await treeRow(page, CONTAINER, /^plates/).click();
  });

  it('downloads a folder into the workspace, keeping its files', async () => {
    await treeRow(page, CONTAINER, /^runs/).click();
    const run = treeRow(page, CONTAINER, /^run-2026-11-01/);
    await run.waitFor();
    await contextMenu(page, run, 'Download…');
    // In the browser, VS Code's open dialog is a quick input that takes a path. It fills in its
    // default folder asynchronously, which would overwrite a path typed before that.
    const pathInput = page.locator('.quick-input-widget input');
    await waitFor(async () => (await pathInput.inputValue()).startsWith('/'), 15_000);
    await pathInput.fill(`${workspace}/`);
    // Accept with the dialog's own button: Enter on a folder path may open the folder instead.
    await page.locator('.quick-input-widget .monaco-button').filter({ hasText: 'Download Here' }).click();
    const target = join(workspace, 'run-2026-11-01');
    const expected = sampleObjects().filter(([key]) => key.startsWith('runs/run-2026-11-01/'));
    // Every file under its final name: a download in progress has a temporary name, which a
    // count of the folder's entries would take for a finished file.
    const names = expected.map(([key]) => key.slice('runs/run-2026-11-01/'.length)).sort();
    await waitFor(async () => JSON.stringify((await readdir(target).catch(() => [])).sort()) === JSON.stringify(names), 30_000);
    for (const [key, body] of expected) {
      assert.equal(await readFile(join(target, key.slice('runs/run-2026-11-01/'.length)), 'utf8'), body);
    }
    await waitFor(async () => (await notifications(page)).some((n) => n.startsWith('Downloaded 81 files')), 15_000);
  });

  it('uploads a right-clicked workspace folder and its objects appear in the Buckets view', async () => {
    await openView(page, 'Explorer');
    const row = page.locator('.explorer-folders-view .monaco-list-row[aria-label="results"]');
    await row.waitFor();
    await contextMenu(page, row, 'Upload to S3…');
    // The bucket picker takes a typed s3:// URI; then the prefix inside it.
    await answerQuickInput(page, `s3://${SAMPLE_BUCKET}/`);
    // The same widget asks next for the prefix: type only once it shows that question.
    await page.locator('.quick-input-widget .quick-input-title').filter({ hasText: `Upload into s3://${SAMPLE_BUCKET}/` }).waitFor();
    await answerQuickInput(page, 'uploads/');
    await waitFor(async () => (await notifications(page)).some((n) => n.startsWith('Uploaded 3 files')), 30_000).catch(async (err: Error) => {
      // Say what the workbench showed instead: a failed upload names its reason in a notification.
      throw new Error(`${err.message}; notifications: ${JSON.stringify(await notifications(page))}`);
    });

    await openView(page, 'Research Cloud');
    // Refresh drops what was listed; Collapse All makes the next clicks expand, not collapse.
    const titleAction = (label: string) => viewContainer(page, CONTAINER).locator(`a.action-label[aria-label="${label}"]`).first();
    await viewContainer(page, CONTAINER).locator('.pane-header').filter({ hasText: 'Buckets' }).hover();
    await titleAction('Refresh').click();
    await titleAction('Collapse All').click();
    await treeRow(page, CONTAINER, SAMPLE_BUCKET).click();
    // Exact names: the Transfers view below lists a row starting with "results" too.
    await treeRow(page, CONTAINER, /^uploads$/).click();
    await treeRow(page, CONTAINER, /^results$/).click();
    await treeRow(page, CONTAINER, /^plots$/).waitFor();
    // The Buckets pane shares the container with four other views: bring the last rows in.
    await page.keyboard.press('End');
    await treeRow(page, CONTAINER, /^summary\.csv/).waitFor();
    const rows = await treeRows(page, CONTAINER);
    assert.ok(rows.some((r) => r.startsWith('summary.csv') && /\b21 B\b/.test(r)), `summary.csv with its size: ${rows.join(' | ')}`);
    assert.ok(rows.some((r) => r.startsWith('notes (final).md')), `notes (final).md: ${rows.join(' | ')}`);
    await screenshot(page, join(RESULTS, 'upload-done.png'));
  });
});

async function waitFor(check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

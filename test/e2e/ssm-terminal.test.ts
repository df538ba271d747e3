// The packaged extension in a real VS Code (code-server), driven in Chromium: "Open Terminal on
// Node…" lists the instances of a local EC2 endpoint, checks the node, and opens a Session
// Manager terminal through the local SSM server, whose agent runs a real shell on a pty; "Forward
// Port…" reaches a web service on the node through the same server's port sessions.
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import { answerQuickInput, openView, runCommand, screenshot, terminalText, treeRow, viewContainer } from '../harness/code-server.mjs';
import { SAMPLE_INSTANCE_ID, startEc2Server } from '../harness/ec2-server.mjs';
import { startSsmServer } from '../harness/ssm-server.mjs';
import { CONTAINER, openWorkbench, RESULTS, type Workbench } from './workbench';

const OPEN_TERMINAL = 'Research Cloud: Open Terminal on Node…';
/** Typed once the shell shows its prompt; prints login-42. */
const LOGIN_COMMAND = 'echo login-$((40+2))';
const NOTEBOOK_PAGE = 'notebook on the node';

describe('Session Manager terminal in code-server', () => {
  let ssm: Awaited<ReturnType<typeof startSsmServer>>;
  let ec2: Awaited<ReturnType<typeof startEc2Server>>;
  let workbench: Workbench;
  let page: Page;
  /** A web app on "the node": the local SSM agent dials 127.0.0.1 for port sessions. */
  let notebook: Server;

  before(async () => {
    notebook = createServer((_req, res) => res.end(NOTEBOOK_PAGE));
    await new Promise<void>((resolve) => notebook.listen(0, '127.0.0.1', resolve));
    ssm = await startSsmServer();
    ec2 = await startEc2Server();
    // Neither local server checks signatures.
    workbench = await openWorkbench({
      name: 'ssm',
      env: {
        AWS_ENDPOINT_URL_SSM: ssm.endpoint,
        AWS_ENDPOINT_URL_EC2: ec2.endpoint,
        AWS_REGION: ssm.region,
        AWS_ACCESS_KEY_ID: ssm.accessKeyId,
        AWS_SECRET_ACCESS_KEY: ssm.secretAccessKey,
      },
      settings: { 'researchCloud.ssm.loginCommand': LOGIN_COMMAND },
    });
    page = workbench.page;
  });

  after(async () => {
    await workbench?.close();
    await ssm?.stop();
    await ec2?.stop();
    notebook?.closeAllConnections();
    notebook?.close();
  });

  it('shows the Port Forwards view with a way to start one', async () => {
    await openView(page, 'Research Cloud');
    const header = viewContainer(page, CONTAINER).locator('.pane-header').filter({ hasText: 'Port Forwards' });
    await header.waitFor();
    if ((await header.getAttribute('aria-expanded')) === 'false') await header.click();
    const welcome = viewContainer(page, CONTAINER).locator('.welcome-view-content').filter({ hasText: 'No ports forwarded' });
    await welcome.locator('.monaco-button', { hasText: 'Forward Port…' }).waitFor();
    await welcome.locator('.monaco-button', { hasText: 'Open Terminal on Node…' }).waitFor();
  });

  it('picks the running instance from EC2, opens a shell on it and types the login command', async () => {
    await runCommand(page, OPEN_TERMINAL);
    // The pick list shows the Name tag, with id, type and zone beside it.
    const row = page.locator('.quick-input-list .monaco-list-row').filter({ hasText: 'analysis-node' });
    await row.waitFor({ timeout: 30_000 });
    assert.match(collapse(await row.innerText()), new RegExp(`analysis-node.*${SAMPLE_INSTANCE_ID} · t3\\.large · us-east-1a.*SSM Agent online`));
    await answerQuickInput(page, SAMPLE_INSTANCE_ID);
    await waitForText(page, 'login-42', 30_000);
    assert.ok(ssm.calls.includes('DescribeInstanceInformation'), `agent checked: ${ssm.calls.join(', ')}`);
    // Listed (running instances), then checked by id before connecting. Other views may call
    // EC2 too, so the two calls are found by their parameters.
    const listed = ec2.calls.findIndex((c) => c.action === 'DescribeInstances' && c.params['Filter.1.Name'] === 'instance-state-name' && c.params['Filter.1.Value.1'] === 'running');
    const checked = ec2.calls.findIndex((c) => c.action === 'DescribeInstances' && c.params['InstanceId.1'] === SAMPLE_INSTANCE_ID);
    assert.ok(listed >= 0 && checked > listed, `EC2 calls: ${JSON.stringify(ec2.calls)}`);
    assert.ok(ssm.calls.includes('StartSession'));
  });

  it('runs what is typed and shows its output', async () => {
    await focusTerminal(page);
    await page.keyboard.type('echo research-$((6*7))');
    await page.keyboard.press('Enter');
    await waitForText(page, 'research-42');
  });

  it('sends the terminal size on open and on every resize', async () => {
    await focusTerminal(page);
    const before = await shellSize(page, 'a');
    // xterm fills the panel, so the size is the panel's, never the pty default of 0×0 or 24×80.
    assert.ok(before.cols > 80 && before.rows > 0, `size on open: ${JSON.stringify(before)}`);
    await runCommand(page, 'View: Toggle Maximized Panel');
    await focusTerminal(page);
    const after = await shellSize(page, 'b');
    assert.equal(after.cols, before.cols, 'same width');
    assert.ok(after.rows > before.rows, `a maximized panel has more rows: ${before.rows} → ${after.rows}`);
    await screenshot(page, join(RESULTS, 'ssm-terminal.png'));
    await runCommand(page, 'View: Toggle Maximized Panel');
  });

  it('passes Ctrl-C through to the remote shell', async () => {
    await focusTerminal(page);
    await page.keyboard.type('sleep 60');
    await page.keyboard.press('Enter');
    await page.waitForTimeout(500);
    await page.keyboard.press('Control+C');
    await page.keyboard.type('echo after-$((1+1))');
    await page.keyboard.press('Enter');
    // Without the interrupt the shell would sit in `sleep` for a minute.
    await waitForText(page, 'after-2', 5_000);
  });

  it('ends the session when the terminal is closed, leaving no token in the logs', async () => {
    await runCommand(page, 'Terminal: Kill the Active Terminal Instance');
    await waitUntil(() => ssm.calls.includes('TerminateSession'), 'TerminateSession', 15_000);
    // The extension's log names the session, proving the files searched are the right ones;
    // the stream URL's query and the token value of StartSession's reply appear nowhere.
    const logs = await readTree(workbench.userDataDir);
    assert.match(logs, /Session local-[0-9a-f]+ started on i-0123456789abcdef0/);
    assert.doesNotMatch(logs, /cell-number=|TokenValue/);
  });

  it('forwards a port of the node, lists it, opens it in the browser and stops it', async () => {
    const remotePort = (notebook.address() as AddressInfo).port;
    await runCommand(page, 'Research Cloud: Forward Port…');
    await page.locator('.quick-input-list .monaco-list-row').filter({ hasText: 'analysis-node' }).waitFor({ timeout: 30_000 });
    await answerQuickInput(page, SAMPLE_INSTANCE_ID);
    await page.locator('.quick-input-list .monaco-list-row').filter({ hasText: 'Jupyter' }).waitFor();
    await answerQuickInput(page, 'Other port');
    await answerQuickInput(page, String(remotePort));

    // The remote port is taken on this machine (the app itself listens there), so the forward
    // takes another local port and the view says which.
    const row = treeRow(page, CONTAINER, `Port ${remotePort}`);
    await row.waitFor({ timeout: 30_000 });
    const text = collapse(await row.innerText());
    const localPort = Number(/localhost:(\d+)/.exec(text)?.[1]);
    assert.ok(localPort > 0 && localPort !== remotePort, `local port in "${text}"`);
    assert.match(text, new RegExp(`analysis-node:${remotePort}`));
    assert.equal(await (await fetch(`http://127.0.0.1:${localPort}/`)).text(), NOTEBOOK_PAGE);

    // Open in Browser goes through asExternalUri: code-server answers with its own proxy address.
    await row.hover();
    const opened = page.context().waitForEvent('page');
    await row.locator('a.action-label[aria-label="Open in Browser"]').click();
    const tab = await opened;
    await tab.waitForLoadState();
    assert.equal(new URL(tab.url()).pathname, `/proxy/${localPort}/`, `opened ${tab.url()}`);
    assert.match(await tab.content(), new RegExp(NOTEBOOK_PAGE));
    await screenshot(page, join(RESULTS, 'ssm-port-forward.png'));
    await tab.close();

    await row.hover();
    await row.locator('a.action-label[aria-label="Stop Forwarding"]').click();
    await row.waitFor({ state: 'detached' });
    await assert.rejects(fetch(`http://127.0.0.1:${localPort}/`), 'the local port is closed');
  });
});

/** Text in the visible terminal. */
async function waitForText(page: Page, text: string, timeoutMs = 10_000): Promise<void> {
  await waitUntil(async () => (await terminalText(page)).includes(text), `terminal text "${text}"`, timeoutMs, async () => terminalText(page));
}

/** The remote pty's size, as `stty size` reports it; `tag` tells one answer from another. */
async function shellSize(page: Page, tag: string): Promise<{ rows: number; cols: number }> {
  await page.keyboard.type(`echo size-${tag}-$(stty size | tr ' ' x)`);
  await page.keyboard.press('Enter');
  const pattern = new RegExp(`size-${tag}-(\\d+)x(\\d+)`);
  let match: RegExpExecArray | null = null;
  await waitUntil(async () => (match = pattern.exec(collapse(await terminalText(page)))) !== null, `stty size (${tag})`, 10_000);
  const [, rows, cols] = match as unknown as RegExpExecArray;
  return { rows: Number(rows), cols: Number(cols) };
}

/** The palette takes the focus; a click in the terminal gives it back for typing. */
async function focusTerminal(page: Page): Promise<void> {
  await page.locator('.terminal-wrapper.active .xterm-screen').click();
}

async function readTree(dir: string): Promise<string> {
  const texts: string[] = [];
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (entry.isFile() && /\.(log|json)$/.test(entry.name)) texts.push(await readFile(join(entry.parentPath, entry.name), 'utf8'));
  }
  return texts.join('\n');
}

async function waitUntil(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000, describe?: () => Promise<string>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${describe ? `; saw: ${await describe()}` : ''}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

function collapse(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

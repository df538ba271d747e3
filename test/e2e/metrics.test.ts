// The Metrics view in a real VS Code (code-server), against the local CloudWatch endpoint: the
// node's charts are drawn, hover values are the served ones, and a theme switch recolours them.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { FrameLocator, Locator, Page } from 'playwright-core';
import { answerQuickInput, openView, runCommand, screenshot, viewContainer, waitForWorkbench } from '../harness/code-server.mjs';
import { startCloudWatchServer } from '../harness/cloudwatch-server.mjs';
import { CONTAINER, openWorkbench, RESULTS, type Workbench } from './workbench';

const NODE = 'i-0123456789abcdef0';

describe('Metrics view in code-server', () => {
  let cloudWatch: Awaited<ReturnType<typeof startCloudWatchServer>>;
  let workbench: Workbench;
  let page: Page;

  before(async () => {
    cloudWatch = await startCloudWatchServer();
    workbench = await openWorkbench({
      name: 'metrics',
      env: {
        AWS_ENDPOINT_URL_CLOUDWATCH: cloudWatch.endpoint,
        AWS_REGION: cloudWatch.region,
        AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE',
        AWS_SECRET_ACCESS_KEY: 'fakeSecretKeyForTestsOnly',
      },
      // No auto-refresh: a redraw under the pointer would reset the hover legend.
      settings: { 'researchCloud.metrics.refreshSeconds': 0, 'workbench.colorTheme': 'Default Dark Modern' },
    });
    page = workbench.page;
    await openView(page, 'Research Cloud');
    // The Metrics view shares the side bar with four others: fold them to give the charts room.
    for (const title of ['Buckets', 'Transfers', 'Cluster', 'Port Forwards']) {
      const header = viewContainer(page, CONTAINER)
        .locator('.pane-header[aria-expanded="true"]')
        .filter({ has: page.locator('h3.title', { hasText: new RegExp(`^${title}$`, 'i') }) });
      if (await header.count()) await header.first().click();
    }
  });

  after(async () => {
    await workbench?.close();
    await cloudWatch?.stop();
  });

  it('draws the charts of a node picked from the command palette', async () => {
    await runCommand(page, 'Research Cloud: Show Metrics for Node…');
    await answerQuickInput(page, NODE);
    const cpu = chart(metricsFrame(page), 'CPU utilization');
    await cpu.locator('canvas').waitFor({ timeout: 30_000 });
    assert.match(await metricsFrame(page).locator('h2').innerText(), new RegExp(NODE));
    const requests = cloudWatch.requests.filter((r) => r.operation === 'GetMetricData');
    assert.ok(requests.length >= 1, 'the extension asked the local endpoint');
    const ms = await metricsFrame(page).locator('body').getAttribute('data-render-ms');
    console.log(`metrics: node charts drawn in ${ms} ms after the data arrived`);
    await screenshot(page, join(RESULTS, 'metrics-node.png'));
  });

  it('shows the served values when hovering the chart', async () => {
    const frame = metricsFrame(page);
    for (const at of [0.3, 0.7]) {
      const { time, values } = await hover(chart(frame, 'CPU utilization'), at);
      // The endpoint serves CPUUtilization = minute of the hour + 0.5.
      const minute = Number(/:(\d\d)$/.exec(time)?.[1]);
      assert.ok(Number.isInteger(minute), `a time in the legend: ${time}`);
      assert.equal(values[0], `${minute + 0.5}%`, `CPU at ${time}`);
    }
    const network = await hover(chart(frame, 'Network'), 0.5);
    assert.deepEqual(network.values, ['100 KB/s', '50.0 KB/s'], 'served byte sums per minute, shown as rates');
  });

  it('recolours the charts when the colour theme changes', async () => {
    const marker = chart(metricsFrame(page), 'CPU utilization').locator('.u-legend .u-series').nth(1).locator('.u-marker');
    // uPlot paints each legend marker in its line's stroke colour.
    const colour = () => marker.evaluate((el) => el.ownerDocument.defaultView!.getComputedStyle(el).borderColor);
    const dark = await colour();
    await runCommand(page, 'Preferences: Color Theme');
    await answerQuickInput(page, 'Light Modern');
    await waitUntil(async () => (await colour().catch(() => dark)) !== dark, 20_000);
    const light = await colour();
    assert.notEqual(light, dark, `the line colour follows the theme (${dark} → ${light})`);
    await screenshot(page, join(RESULTS, 'metrics-node-light.png'));
  });

  it('shows the same node again after a reload', async () => {
    await page.reload();
    await waitForWorkbench(page, 'Research Cloud', { timeout: 90_000 });
    // The side bar comes back on the Research Cloud container by itself; clicking its tab while
    // the workbench is still restoring could hide it.
    await chart(metricsFrame(page), 'CPU utilization').locator('canvas').waitFor({ timeout: 30_000 });
    assert.match(await metricsFrame(page).locator('h2').innerText(), new RegExp(NODE));
  });
});

/** Webviews are nested iframes in VS Code 1.100: the host frame, then the page's own. */
function metricsFrame(page: Page): FrameLocator {
  return page.frameLocator('iframe.webview').frameLocator('iframe#active-frame');
}

function chart(frame: FrameLocator, title: string): Locator {
  return frame.locator('section.chart').filter({ has: frame.locator('h3', { hasText: title }) }).first();
}

/** Moves the pointer to `fraction` of the plot's width and reads uPlot's legend: time and values. */
async function hover(section: Locator, fraction: number): Promise<{ time: string; values: string[] }> {
  const over = section.locator('.u-over');
  const box = await over.boundingBox();
  assert.ok(box, 'the plot area is on screen');
  await over.hover({ position: { x: Math.round(box.width * fraction), y: Math.round(box.height / 2) } });
  const cells = await section.locator('.u-legend .u-series .u-value').allInnerTexts();
  return { time: cells[0], values: cells.slice(1) };
}

async function waitUntil(check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

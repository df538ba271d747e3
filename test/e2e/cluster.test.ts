// The packaged extension in a real VS Code (code-server), driven in Chromium, against the local
// EC2 endpoint holding an AWS ParallelCluster cluster (an on-demand head node and three spot
// compute nodes). The Cluster view groups them with their prices; Stop on the persistent spot
// node moves it through stopping to stopped; Stop on a one-time spot node offers terminate.
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Locator, Page } from 'playwright-core';
import { contextMenu, openView, screenshot, treeRow, treeRows, viewContainer } from '../harness/code-server.mjs';
import { startEc2Server } from '../harness/ec2-server.mjs';
import { CONTAINER, openWorkbench, RESULTS, type Workbench } from './workbench';

const DIALOG = '.monaco-dialog-box';

describe('Cluster view in code-server', () => {
  let ec2: Awaited<ReturnType<typeof startEc2Server>>;
  let workbench: Workbench;
  let page: Page;

  before(async () => {
    // Transitions long enough that the view shows "stopping" before "stopped".
    ec2 = await startEc2Server({ instances: [], cluster: { name: 'genomics' }, transitionMs: 4_000 });
    // Pricing and CloudWatch are not served: a port nobody listens on fails at once, as an
    // unreachable endpoint does, instead of waiting on the real AWS from a machine without internet.
    const closed = await closedPort();
    workbench = await openWorkbench({
      name: 'cluster',
      env: {
        AWS_ENDPOINT_URL_EC2: ec2.endpoint,
        AWS_ENDPOINT_URL_PRICING: `http://127.0.0.1:${closed}`,
        AWS_ENDPOINT_URL_CLOUDWATCH: `http://127.0.0.1:${closed}`,
        AWS_REGION: ec2.region,
        AWS_ACCESS_KEY_ID: 'AKIAIOSFODNN7EXAMPLE',
        AWS_SECRET_ACCESS_KEY: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
      },
    });
    page = workbench.page;
    await openView(page, 'Research Cloud');
    const header = viewContainer(page, CONTAINER).locator('.pane-header').filter({ hasText: 'Cluster' });
    await header.waitFor();
    if ((await header.getAttribute('aria-expanded')) === 'false') await header.click();
  });

  after(async () => {
    await workbench?.close();
    await ec2?.stop();
  });

  it('groups the head node and three spot compute nodes under the cluster, with prices', async () => {
    await treeRow(page, CONTAINER, 'spot-dy-c5-3').waitFor({ timeout: 30_000 });
    const rows = (await treeRows(page, CONTAINER)).filter((r) => /genomics|Head|Compute|spot-dy/.test(r));
    assert.deepEqual(
      rows.map((r) => r.split(' ')[0]),
      ['genomics', 'Head', 'HeadNode', 'Compute', 'spot-dy-c5-1', 'spot-dy-c5-2', 'spot-dy-c5-3'],
      rows.join('\n'),
    );
    // The cluster row: what its running spot nodes cost (an estimate); the head node has no price.
    assert.match(rows[0], /genomics ~\$0\.\d{3}\/h · ~\$\d+\.\d+ since launch/);
    assert.match(rows[2], /HeadNode m5\.xlarge · running · on-demand · us-east-1a · 10\.0\.0\.10 · up 30 h · price unknown/);
    for (const row of rows.slice(4)) assert.match(row, /c5\.2xlarge · running · spot · us-east-1[ab] · 10\.0\.\d\.\d+ · up \d h · \$0\.1\d\d\/h/);
    // No error row: the missing on-demand prices are told in the tooltip instead.
    // (The Buckets view above has its own error row here; only the Cluster view's rows count.)
    const all = await treeRows(page, CONTAINER);
    const clusterRows = all.slice(all.findIndex((r) => r.startsWith('genomics')));
    assert.ok(!clusterRows.some((r) => /failed|could not|problem/i.test(r)), clusterRows.join('\n'));
    const tooltip = await hoverText(page, treeRow(page, CONTAINER, 'HeadNode'));
    assert.match(tooltip, /Price: unknown\. Read on-demand prices of us-east-1 failed/);
    // The status bar sums the running nodes.
    assert.match(await page.locator('.statusbar-item').filter({ hasText: /\/h$/ }).first().innerText(), /~\$0\.\d{3}\/h/);
  });

  it('stops the persistent spot node after a confirmation: stopping, then stopped', async () => {
    const row = treeRow(page, CONTAINER, 'spot-dy-c5-3');
    await contextMenu(page, row, 'Stop');
    const dialog = page.locator(DIALOG);
    await dialog.waitFor();
    const text = collapse(await dialog.innerText());
    assert.match(text, /Stop spot-dy-c5-3 \(i-0a1b2c3d4e5f60013\)\?/);
    // A ParallelCluster compute node: the scheduler warning comes with the question.
    assert.match(text, /compute node of ParallelCluster genomics/);
    await dialog.locator('.monaco-button', { hasText: 'Stop 1 Node' }).click();
    await treeRow(page, CONTAINER, /spot-dy-c5-3.*c5\.2xlarge · stopping/).waitFor({ timeout: 15_000 });
    // Nobody refreshes: the view polls while a node is in transition.
    await treeRow(page, CONTAINER, /spot-dy-c5-3.*c5\.2xlarge · stopped/).waitFor({ timeout: 20_000 });
    assert.ok(ec2.calls.some((c) => c.action === 'StopInstances' && c.params['InstanceId.1'] === 'i-0a1b2c3d4e5f60013'));
  });

  it('offers terminate instead when Stop is asked of a one-time spot node', async () => {
    const row = treeRow(page, CONTAINER, 'spot-dy-c5-1');
    await contextMenu(page, row, 'Stop');
    const dialog = page.locator(DIALOG);
    await dialog.waitFor();
    const text = collapse(await dialog.innerText());
    assert.match(text, /spot-dy-c5-1 \(i-0a1b2c3d4e5f60011\) cannot be stopped\./);
    assert.match(text, /It is a one-time spot instance: AWS can only stop spot instances launched from a persistent spot request\. Terminate it instead/);
    await dialog.locator('.monaco-button', { hasText: 'Terminate Instead…' }).waitFor();
    await screenshot(page, join(RESULTS, 'cluster-stop-one-time.png'));
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'detached' });
    // The other views folded away, so the picture shows the whole cluster.
    for (const other of ['Buckets', 'Transfers', 'Port Forwards', 'Metrics']) {
      const header = viewContainer(page, CONTAINER).locator('.pane-header').filter({ hasText: other });
      if ((await header.count()) && (await header.first().getAttribute('aria-expanded')) === 'true') await header.first().click();
    }
    await page.mouse.move(0, 0);
    await screenshot(page, join(RESULTS, 'cluster-view.png'));
    assert.ok(!ec2.calls.some((c) => c.action === 'StopInstances' && c.params['InstanceId.1'] === 'i-0a1b2c3d4e5f60011'), 'nothing sent');
  });
});

/** The hover shown for a row: a tree item's Markdown tooltip. */
async function hoverText(page: Page, row: Locator): Promise<string> {
  await row.hover();
  const hover = page.locator('.monaco-hover, .workbench-hover').filter({ hasText: 'Price' }).first();
  await hover.waitFor({ timeout: 10_000 });
  const text = collapse(await hover.innerText());
  await page.mouse.move(0, 0);
  return text;
}

async function closedPort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as { port: number };
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

function collapse(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

// The packaged extension in a real VS Code (code-server), driven in Chromium, against the local
// EC2 endpoint holding an AWS ParallelCluster cluster (an on-demand head node and three spot
// compute nodes). The Cluster view groups them with their prices; Stop on the persistent spot
// node moves it through stopping to stopped; Stop on a one-time spot node offers terminate.
// A spot interruption is told in a notification and on the node's row; Stop When Idle… puts a
// CloudWatch alarm on a node (local CloudWatch) and Remove Idle Guards deletes it; Launch Nodes
// from Cluster File… falls back to the second instance type when EC2 has no capacity for the
// first; a daily budget below what the nodes cost brings a warning.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Locator, Page } from 'playwright-core';
import { answerQuickInput, contextMenu, notifications, openView, runCommand, screenshot, treeRow, treeRowLocator, treeRows, viewContainer } from '../harness/code-server.mjs';
import { startCloudWatchServer } from '../harness/cloudwatch-server.mjs';
import { startEc2Server } from '../harness/ec2-server.mjs';
import { CONTAINER, openWorkbench, RESULTS, type Workbench } from './workbench';

const DIALOG = '.monaco-dialog-box';
const HEAD = 'i-0a1b2c3d4e5f60001';
/** Two instance types: the local EC2 has no capacity for the first. */
const CLUSTER_FILE = `name: assembly
region: us-east-1
ami: ami-0123456789abcdef0
instanceTypes:
  - c6i.4xlarge
  - c5.4xlarge
count: 2
`;

describe('Cluster view in code-server', () => {
  let ec2: Awaited<ReturnType<typeof startEc2Server>>;
  let cw: Awaited<ReturnType<typeof startCloudWatchServer>>;
  let workbench: Workbench;
  let page: Page;

  before(async () => {
    // Transitions long enough that the view shows "stopping" before "stopped".
    ec2 = await startEc2Server({ instances: [], cluster: { name: 'genomics' }, transitionMs: 4_000, noCapacityFor: ['c6i.4xlarge'] });
    // CloudWatch holds the idle guards' alarms (none at first).
    cw = await startCloudWatchServer();
    // Pricing is not served: a port nobody listens on fails at once, as an unreachable endpoint
    // does, instead of waiting on the real AWS from a machine without internet.
    const closed = await closedPort();
    workbench = await openWorkbench({
      name: 'cluster',
      // The spot nodes cost about $9 a day: a $1 budget is passed from the first look.
      settings: { 'researchCloud.cluster.dailyBudgetUSD': 1 },
      prepare: (workspace) => writeFile(join(workspace, 'research-cluster.yaml'), CLUSTER_FILE),
      env: {
        AWS_ENDPOINT_URL_EC2: ec2.endpoint,
        AWS_ENDPOINT_URL_PRICING: `http://127.0.0.1:${closed}`,
        AWS_ENDPOINT_URL_CLOUDWATCH: cw.endpoint,
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
    await cw?.stop();
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

  it('tells of a spot interruption in a notification and on the node', async () => {
    await treeRow(page, CONTAINER, /spot-dy-c5-2.*running/).waitFor({ timeout: 15_000 });
    ec2.interrupt('i-0a1b2c3d4e5f60012'); // a one-time spot node: terminated
    await runCommand(page, 'Research Cloud: Refresh Cluster');
    const text = await notification(page, /spot-dy-c5-2/);
    assert.match(text, /AWS terminated the spot node spot-dy-c5-2 \(i-0a1b2c3d4e5f60012\) of genomics to reclaim capacity \(a spot interruption\)/);
    // The view polls while it shuts down; the row keeps the mark once terminated.
    const row = treeRow(page, CONTAINER, /spot-dy-c5-2.*c5\.2xlarge · terminated.*⚠ interrupted/);
    await row.waitFor({ timeout: 20_000 });
    const tooltip = await hoverText(page, row);
    assert.match(tooltip, /terminated \(Server\.SpotInstanceTermination: Spot instance termination\)/);
    assert.match(tooltip, /⚠ AWS terminated the spot node spot-dy-c5-2/);
  });

  it('puts an idle guard on the head node as a CloudWatch alarm, and removes it', async () => {
    const row = treeRow(page, CONTAINER, 'HeadNode');
    await contextMenu(page, row, 'Stop When Idle…');
    const widget = page.locator('.quick-input-widget');
    await widget.filter({ hasText: '(1/2)' }).waitFor();
    await answerQuickInput(page, '5');
    await widget.filter({ hasText: '(2/2)' }).waitFor();
    await answerQuickInput(page, '60');
    const put = await until(() => cw.requests.find((r) => r.operation === 'PutMetricAlarm'), 'PutMetricAlarm');
    const alarm = put.body;
    assert.equal(alarm.AlarmName, `research-cloud-idle-${HEAD}`);
    assert.equal(alarm.Namespace, 'AWS/EC2');
    assert.equal(alarm.MetricName, 'CPUUtilization');
    assert.equal(alarm.Threshold, 5);
    assert.equal(alarm.ComparisonOperator, 'LessThanThreshold');
    assert.equal(alarm.Period * alarm.EvaluationPeriods, 3_600);
    assert.deepEqual(alarm.Dimensions, [{ Name: 'InstanceId', Value: HEAD }]);
    // An on-demand head node can be stopped.
    assert.deepEqual(alarm.AlarmActions, ['arn:aws:automate:us-east-1:ec2:stop']);
    assert.match(await notification(page, /^Idle guards put on/), /Idle guards put on 1 node: .* after 60 minutes below 5% CPU/);
    // The view reads the guard back from CloudWatch.
    await treeRow(page, CONTAINER, /HeadNode.*idle guard/).waitFor({ timeout: 15_000 });

    await contextMenu(page, treeRow(page, CONTAINER, 'HeadNode'), 'Remove Idle Guards');
    const dialog = page.locator(DIALOG);
    await dialog.waitFor();
    assert.match(collapse(await dialog.innerText()), /Remove the idle guards of 1 node\?/);
    await dialog.locator('.monaco-button', { hasText: 'Remove 1 Guard' }).click();
    const deleted = await until(() => cw.requests.find((r) => r.operation === 'DeleteAlarms'), 'DeleteAlarms');
    assert.deepEqual(deleted.body.AlarmNames, [`research-cloud-idle-${HEAD}`]);
    assert.equal(cw.alarms.length, 0);
    await treeRow(page, CONTAINER, /HeadNode.*idle guard/).waitFor({ state: 'detached', timeout: 15_000 });
  });

  it('launches from the cluster file, falling back to the second instance type', async () => {
    await runCommand(page, 'Research Cloud: Launch Nodes from Cluster File…');
    const dialog = page.locator(DIALOG);
    await dialog.waitFor();
    const text = collapse(await dialog.innerText());
    assert.match(text, /Launch 2 on-demand nodes of assembly in us-east-1\?/);
    assert.match(text, /Instance types, tried in order: c6i\.4xlarge, c5\.4xlarge\./);
    await dialog.locator('.monaco-button', { hasText: 'Launch 2 Nodes' }).click();
    const report = await notification(page, /^Launch assembly:/);
    assert.match(report, /Launch assembly: Launched 2 of 2 nodes: 2 × c5\.4xlarge\./);
    const runs = ec2.calls.filter((c) => c.action === 'RunInstances');
    assert.deepEqual(runs.map((c) => c.params.InstanceType), ['c6i.4xlarge', 'c5.4xlarge']);
    assert.equal(runs[1].params.ImageId, 'ami-0123456789abcdef0');
    // The log tells of the first type's failure and the fallback.
    await page.locator('.notifications-toasts .monaco-button', { hasText: 'Show Log' }).first().click();
    const log = await panelText(page, /Trying the next subnet or instance type/);
    assert.match(log, /c6i\.4xlarge in default subnet: Launch c6i\.4xlarge failed: AWS has no spare capacity of this instance type in this Availability Zone right now\. \(InsufficientInstanceCapacity\) Trying the next subnet or instance type\./);
    assert.match(log, /c5\.4xlarge in default subnet: Launched 2 of 2 as c5\.4xlarge: i-0[0-9a-f]+, i-0[0-9a-f]+\./);
    // The new nodes show under their cluster, pending, then running (the view polls).
    await treeRow(page, CONTAINER, /^assembly/).waitFor({ timeout: 15_000 });
    const running = treeRowLocator(page, CONTAINER).filter({ hasText: /assembly-compute.*c5\.4xlarge · running/ });
    await running.nth(1).waitFor({ timeout: 20_000 });
    assert.equal(await running.count(), 2);
  });

  it('warns when the running nodes would pass the daily budget', async () => {
    const text = await notification(page, /daily budget/, 1_000);
    assert.match(text, /The running nodes would cost \$\d+\.\d\d a day, over your daily budget of \$1\.00\./);
  });
});

/** Waits until a notification (a toast, or failing that the notification center) matches `pattern`; gives its text. */
async function notification(page: Page, pattern: RegExp, timeout = 30_000): Promise<string> {
  const deadline = Date.now() + timeout;
  for (;;) {
    const found = (await notifications(page)).find((n) => pattern.test(n));
    if (found) return found;
    if (Date.now() > deadline) break;
    await page.waitForTimeout(250);
  }
  // Toasts hide after a while; the center keeps every notification.
  await runCommand(page, 'Notifications: Show Notifications');
  const center = page.locator('.notifications-center .notification-list-item-message');
  await center.first().waitFor();
  const texts = (await center.allInnerTexts()).map(collapse);
  await runCommand(page, 'Notifications: Hide Notifications');
  const found = texts.find((n) => pattern.test(n));
  assert.ok(found, `no notification matches ${pattern}:\n${texts.join('\n')}`);
  return found;
}

/** The text of the panel's editor (the log in the Output view) once it matches `pattern`; Monaco draws spaces as no-break spaces. */
async function panelText(page: Page, pattern: RegExp, timeout = 10_000): Promise<string> {
  const deadline = Date.now() + timeout;
  for (;;) {
    const text = collapse((await page.locator('.part.panel .view-lines').allInnerTexts()).join('\n').replace(/\u00a0/g, ' '));
    if (pattern.test(text)) return text;
    if (Date.now() > deadline) throw new Error(`The panel never showed ${pattern}:\n${text}`);
    await page.waitForTimeout(250);
  }
}

/** Waits until `check` gives something other than undefined (polling, as the servers record calls). */
async function until<T>(check: () => T | undefined, what: string, timeout = 20_000): Promise<T> {
  const deadline = Date.now() + timeout;
  for (;;) {
    const value = check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

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

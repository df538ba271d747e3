import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import * as vscode from 'vscode';
import { explainAwsError } from '../../aws/errors';
import { isInstanceId, type MetricRef, type NodeRef, type Selection } from '../../metrics/selection';
import { listMetrics } from '../../metrics/service';
import type { ConnectionState } from '../connectionState';
import { guarded } from '../log';
import { MetricsView, METRICS_VIEW_ID } from './metricsView';

/** Charts beyond this many make the panel long and the page slow; browse picks are capped. */
const MAX_BROWSED_METRICS = 20;

/**
 * The Metrics view and its commands. Show Metrics commands take what the trees hand them (a
 * node, a cluster, a bucket row) or, from the palette, ask.
 */
export function registerMetricsFeatures(state: ConnectionState, context: vscode.ExtensionContext): vscode.Disposable {
  const view = new MetricsView(state, context.extensionUri, context.workspaceState);
  const show = (selection: Selection | undefined) => (selection ? view.show(selection) : undefined);
  return vscode.Disposable.from(
    view,
    vscode.window.registerWebviewViewProvider(METRICS_VIEW_ID, view),
    vscode.commands.registerCommand('researchCloud.metrics.showNode', guarded(async (arg?: unknown) => show(await nodeSelection(arg)))),
    vscode.commands.registerCommand('researchCloud.metrics.showCluster', guarded(async (arg?: unknown) => show(await clusterSelection(arg)))),
    vscode.commands.registerCommand('researchCloud.metrics.showBucket', guarded(async (arg?: unknown) => show(await bucketSelection(arg)))),
    vscode.commands.registerCommand('researchCloud.metrics.showBill', guarded(() => show({ kind: 'bill' }))),
    vscode.commands.registerCommand('researchCloud.metrics.browse', guarded(async () => show(await browseMetrics(state)))),
    vscode.commands.registerCommand('researchCloud.metrics.refresh', guarded(() => view.refresh())),
  );
}

const str = (value: unknown) => (typeof value === 'string' && value ? value : undefined);

function toNode(value: unknown): NodeRef | undefined {
  const v = value as Record<string, unknown> | undefined;
  const instanceId = str(v?.instanceId);
  if (!instanceId) return undefined;
  return { instanceId, name: str(v?.name), instanceType: str(v?.instanceType) };
}

async function nodeSelection(arg: unknown): Promise<Selection | undefined> {
  const node = typeof arg === 'string' ? { instanceId: arg } : toNode(arg);
  if (node) return { kind: 'node', ...node, region: str((arg as Record<string, unknown>)?.region) };
  const instanceId = await vscode.window.showInputBox({
    title: 'Show Metrics for Node',
    prompt: 'Instance id of the node',
    placeHolder: 'i-0123456789abcdef0',
    validateInput: (value) => (isInstanceId(value.trim()) ? undefined : 'An instance id looks like i-0123456789abcdef0.'),
  });
  return instanceId ? { kind: 'node', instanceId: instanceId.trim() } : undefined;
}

async function clusterSelection(arg: unknown): Promise<Selection | undefined> {
  const a = arg as Record<string, unknown> | undefined;
  const nodes = Array.isArray(a?.nodes) ? a.nodes.map(toNode).filter((n): n is NodeRef => !!n) : [];
  if (nodes.length) return { kind: 'cluster', name: str(a?.name) ?? 'cluster', region: str(a?.region), nodes };
  const ids = await vscode.window.showInputBox({
    title: 'Show Metrics for Cluster',
    prompt: 'Instance ids of the cluster\'s nodes, separated by spaces or commas',
    validateInput: (value) => {
      const ids = splitIds(value);
      return ids.length && ids.every(isInstanceId) ? undefined : 'Instance ids look like i-0123456789abcdef0.';
    },
  });
  return ids ? { kind: 'cluster', name: 'cluster', nodes: splitIds(ids).map((instanceId) => ({ instanceId })) } : undefined;
}

const splitIds = (value: string) => value.split(/[\s,]+/).filter(Boolean);

async function bucketSelection(arg: unknown): Promise<Selection | undefined> {
  // A bucket name, or a row of the Buckets tree (which carries `.bucket`).
  const bucket = str(arg) ?? str((arg as Record<string, unknown> | undefined)?.bucket);
  if (bucket) return { kind: 'bucket', bucket };
  const typed = await vscode.window.showInputBox({ title: 'Show Metrics for Bucket', prompt: 'Bucket name' });
  return typed?.trim() ? { kind: 'bucket', bucket: typed.trim() } : undefined;
}

/** Namespace, then metrics with their dimensions, as ListMetrics finds them. */
async function browseMetrics(state: ConnectionState): Promise<Selection | undefined> {
  const connection = state.connection;
  const client = await connection.client(CloudWatchClient, 'cloudwatch');
  const explain = (err: unknown) => explainAwsError(err, { operation: 'List CloudWatch metrics', action: 'cloudwatch:ListMetrics', profile: connection.profileName });
  // A few pages of the account's metrics show which namespaces are in use, job counters included.
  const sample = await listMetrics(client, {}, undefined, 3).catch((err: unknown) => Promise.reject(explain(err)));
  const namespaces = [...new Set(['AWS/EC2', 'CWAgent', 'AWS/S3', ...sample.map((m) => m.Namespace ?? '')])].filter(Boolean).sort();
  const OTHER = 'Other namespace…';
  let namespace = await vscode.window.showQuickPick([...namespaces, OTHER], { title: 'Browse Metrics (1/2): namespace', placeHolder: 'A namespace of this account and region' });
  if (namespace === OTHER) namespace = (await vscode.window.showInputBox({ title: 'Browse Metrics: namespace', prompt: 'Namespace, e.g. MyLab/Pipeline' }))?.trim();
  if (!namespace) return undefined;
  const metrics = await listMetrics(client, { Namespace: namespace }).catch((err: unknown) => Promise.reject(explain(err)));
  if (!metrics.length) {
    void vscode.window.showInformationMessage(`No metrics in ${namespace} in this region for the last two weeks.`);
    return undefined;
  }
  const items = metrics
    .map((m) => ({
      label: m.MetricName ?? '',
      description: (m.Dimensions ?? []).map((d) => `${d.Name}=${d.Value}`).join(', '),
      metric: { namespace, metricName: m.MetricName ?? '', dimensions: (m.Dimensions ?? []).map((d) => ({ name: d.Name ?? '', value: d.Value ?? '' })) } satisfies MetricRef,
    }))
    .sort((a, b) => a.label.localeCompare(b.label) || a.description.localeCompare(b.description));
  const picked = await vscode.window.showQuickPick(items, { title: 'Browse Metrics (2/2): metrics to chart', canPickMany: true, matchOnDescription: true });
  if (!picked?.length) return undefined;
  if (picked.length > MAX_BROWSED_METRICS) void vscode.window.showInformationMessage(`Showing the first ${MAX_BROWSED_METRICS} of ${picked.length} metrics.`);
  return { kind: 'custom', metrics: picked.slice(0, MAX_BROWSED_METRICS).map((p) => p.metric) };
}

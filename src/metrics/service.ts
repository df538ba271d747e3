/** Loads what the Metrics panel shows: discovery, GetMetricData in batches, alarms. */
import {
  DescribeAlarmsCommand,
  DescribeAlarmsForMetricCommand,
  GetMetricDataCommand,
  ListMetricsCommand,
  type CloudWatchClient,
  type Metric,
  type MetricAlarm,
  type MetricDataQuery,
} from '@aws-sdk/client-cloudwatch';
import { explainAwsError } from '../aws/errors';
import type { AlarmInfo, ChartData, MetricsData } from './messages';
import { resolveRange, type RangeLimits, type TimeRange } from './periods';
import { batchQueries, planCharts, type ChartPlan, type Discovered } from './queries';
import { selectionRegion, selectionTitle, type MetricRef, type Selection } from './selection';

/** A CloudWatch client for a region (undefined: the connection's own). */
export type CloudWatchFor = (region: string | undefined) => Promise<Pick<CloudWatchClient, 'send'>>;

export interface LoadOptions {
  readonly nowMs?: number;
  readonly signal?: AbortSignal;
  /** The region the connection uses, for the panel's subtitle when the selection names none. */
  readonly defaultRegion: string;
}

const DAY = 86400;
/** Pages of DescribeAlarms read when looking for a resource's alarms: 1,000 alarms. */
const ALARM_PAGES = 10;

export async function loadMetrics(cloudWatchFor: CloudWatchFor, selection: Selection, range: TimeRange, options: LoadOptions): Promise<MetricsData> {
  const { nowMs = Date.now(), signal } = options;
  const region = selectionRegion(selection);
  const client = await cloudWatchFor(region);
  const { start, end, period } = resolveRange(range, nowMs, limitsOf(selection));
  const notes: string[] = [];
  try {
    const discovered = await discover(client, selection, signal);
    const plans = planCharts(selection, discovered, period);
    const [charts, alarms] = await Promise.all([
      fetchCharts(client, plans, start, end, period, signal),
      findAlarms(client, selection, signal).catch((err: unknown) => {
        notes.push(`Alarms could not be read: ${explainAwsError(err, { operation: 'DescribeAlarms', action: 'cloudwatch:DescribeAlarms' }).message}`);
        return [];
      }),
    ]);
    notes.push(...notesFor(selection, discovered, charts));
    return { title: selectionTitle(selection), region: region ?? options.defaultRegion, period, start, end, charts, alarms, notes, fetchedAt: nowMs };
  } catch (err) {
    throw explainAwsError(err, { operation: `Read CloudWatch metrics of ${selectionTitle(selection)}`, action: 'cloudwatch:GetMetricData' });
  }
}

/** S3 storage metrics are daily and billing metrics about 6-hourly: finer periods return nothing. */
function limitsOf(selection: Selection): RangeLimits {
  if (selection.kind === 'bucket') return { minPeriod: DAY, minSpan: 14 * DAY };
  if (selection.kind === 'bill') return { minPeriod: 6 * 3600, minSpan: 3 * DAY };
  return {};
}

async function discover(client: Pick<CloudWatchClient, 'send'>, selection: Selection, signal?: AbortSignal): Promise<Discovered> {
  if (selection.kind === 'node') {
    // The agent's dimension sets vary with its configuration (path, device, fstype, ...);
    // filtering on InstanceId alone finds them all.
    return { agentMetrics: await listMetrics(client, { Namespace: 'CWAgent', Dimensions: [{ Name: 'InstanceId', Value: selection.instanceId }] }, signal) };
  }
  if (selection.kind === 'bucket') {
    return { bucketSizeMetrics: await listMetrics(client, { Namespace: 'AWS/S3', MetricName: 'BucketSizeBytes', Dimensions: [{ Name: 'BucketName', Value: selection.bucket }] }, signal) };
  }
  return {};
}

/** Every page of ListMetrics for a filter. */
export async function listMetrics(
  client: Pick<CloudWatchClient, 'send'>,
  filter: { Namespace?: string; MetricName?: string; Dimensions?: Array<{ Name: string; Value?: string }> },
  signal?: AbortSignal,
  maxPages = 20,
): Promise<Metric[]> {
  const metrics: Metric[] = [];
  let NextToken: string | undefined;
  for (let page = 0; page < maxPages; page++) {
    const reply = await client.send(new ListMetricsCommand({ ...filter, NextToken }), { abortSignal: signal });
    metrics.push(...(reply.Metrics ?? []));
    NextToken = reply.NextToken;
    if (!NextToken) break;
  }
  return metrics;
}

interface Points {
  readonly timestamps: number[];
  readonly values: number[];
}

async function fetchCharts(
  client: Pick<CloudWatchClient, 'send'>,
  plans: readonly ChartPlan[],
  start: number,
  end: number,
  period: number,
  signal?: AbortSignal,
): Promise<ChartData[]> {
  const batches = batchQueries(plans.map((p) => p.series.map((s) => s.query)));
  const results = new Map<string, Points>();
  // Calls run one after another: CloudWatch throttles GetMetricData per account, and one call
  // already holds every chart of a 99-node cluster.
  for (const batch of batches) await fetchBatch(client, batch, start, end, results, signal);
  const timestamps = Array.from({ length: Math.round((end - start) / period) }, (_, i) => start + i * period);
  return plans.map((plan) => ({
    title: plan.title,
    unit: plan.unit,
    timestamps,
    series: plan.series.map((s) => ({
      label: s.label,
      ...(s.aggregate && { aggregate: true }),
      values: onGrid(results.get(s.query.Id!), start, period, timestamps.length, plan.perSecond ? period : 1),
    })),
  }));
}

/** One GetMetricData call and its NextToken pages (a call returns at most 100,800 datapoints). */
async function fetchBatch(
  client: Pick<CloudWatchClient, 'send'>,
  queries: MetricDataQuery[],
  start: number,
  end: number,
  results: Map<string, Points>,
  signal?: AbortSignal,
): Promise<void> {
  let NextToken: string | undefined;
  do {
    const reply = await client.send(
      new GetMetricDataCommand({ MetricDataQueries: queries, StartTime: new Date(start * 1000), EndTime: new Date(end * 1000), ScanBy: 'TimestampAscending', NextToken }),
      { abortSignal: signal },
    );
    for (const r of reply.MetricDataResults ?? []) {
      if (!r.Id) continue;
      const points = results.get(r.Id) ?? { timestamps: [], values: [] };
      points.timestamps.push(...(r.Timestamps ?? []).map((t) => t.getTime() / 1000));
      points.values.push(...(r.Values ?? []));
      results.set(r.Id, points);
    }
    NextToken = reply.NextToken;
  } while (NextToken);
}

/** Places datapoints on the chart's regular grid, null where CloudWatch has none. */
export function onGrid(points: Points | undefined, start: number, period: number, length: number, divisor = 1): Array<number | null> {
  const values = new Array<number | null>(length).fill(null);
  if (!points) return values;
  points.timestamps.forEach((t, i) => {
    const slot = Math.round((t - start) / period);
    if (slot >= 0 && slot < length) values[slot] = points.values[i] / divisor;
  });
  return values;
}

async function findAlarms(client: Pick<CloudWatchClient, 'send'>, selection: Selection, signal?: AbortSignal): Promise<AlarmInfo[]> {
  switch (selection.kind) {
    case 'node':
      return alarmsOnDimensions(client, new Set([selection.instanceId]), signal);
    case 'cluster':
      return alarmsOnDimensions(client, new Set(selection.nodes.map((n) => n.instanceId)), signal);
    case 'bucket':
      return alarmsOnDimensions(client, new Set([selection.bucket]), signal);
    case 'bill':
      return alarmsForMetrics(client, [{ namespace: 'AWS/Billing', metricName: 'EstimatedCharges', dimensions: [{ name: 'Currency', value: 'USD' }] }], signal);
    case 'custom':
      return alarmsForMetrics(client, selection.metrics, signal);
  }
}

/**
 * The alarms on any metric of a resource: DescribeAlarmsForMetric needs the exact metric, and a
 * node has a dozen, so read the account's alarms and keep those that name the resource in a
 * dimension (of the alarm's metric, or of any metric of a Metric Math alarm).
 */
async function alarmsOnDimensions(client: Pick<CloudWatchClient, 'send'>, values: ReadonlySet<string>, signal?: AbortSignal): Promise<AlarmInfo[]> {
  const found: AlarmInfo[] = [];
  let NextToken: string | undefined;
  for (let page = 0; page < ALARM_PAGES; page++) {
    const reply = await client.send(new DescribeAlarmsCommand({ AlarmTypes: ['MetricAlarm'], MaxRecords: 100, NextToken }), { abortSignal: signal });
    for (const alarm of reply.MetricAlarms ?? []) {
      const dimensions = [...(alarm.Dimensions ?? []), ...(alarm.Metrics ?? []).flatMap((m) => m.MetricStat?.Metric?.Dimensions ?? [])];
      if (dimensions.some((d) => d.Value !== undefined && values.has(d.Value))) found.push(describeAlarm(alarm));
    }
    NextToken = reply.NextToken;
    if (!NextToken) break;
  }
  return found;
}

async function alarmsForMetrics(client: Pick<CloudWatchClient, 'send'>, metrics: readonly MetricRef[], signal?: AbortSignal): Promise<AlarmInfo[]> {
  const replies = await Promise.all(
    metrics.map((m) =>
      client.send(
        new DescribeAlarmsForMetricCommand({ Namespace: m.namespace, MetricName: m.metricName, Dimensions: m.dimensions.map((d) => ({ Name: d.name, Value: d.value })) }),
        { abortSignal: signal },
      ),
    ),
  );
  return replies.flatMap((r) => (r.MetricAlarms ?? []).map(describeAlarm));
}

const OPERATORS: Record<string, string> = {
  GreaterThanOrEqualToThreshold: '≥',
  GreaterThanThreshold: '>',
  LessThanThreshold: '<',
  LessThanOrEqualToThreshold: '≤',
};

export function describeAlarm(alarm: MetricAlarm): AlarmInfo {
  const metric = alarm.MetricName ?? 'Metric Math';
  const operator = OPERATORS[alarm.ComparisonOperator ?? ''] ?? alarm.ComparisonOperator ?? '?';
  const periods = alarm.EvaluationPeriods && alarm.Period ? ` for ${alarm.EvaluationPeriods} × ${alarm.Period} s` : '';
  return {
    name: alarm.AlarmName ?? '(unnamed)',
    state: alarm.StateValue === 'ALARM' || alarm.StateValue === 'OK' ? alarm.StateValue : 'INSUFFICIENT_DATA',
    condition: `${metric} ${operator} ${alarm.Threshold ?? '?'}${periods}`,
    ...(alarm.StateReason && { reason: alarm.StateReason }),
  };
}

function notesFor(selection: Selection, discovered: Discovered, charts: readonly ChartData[]): string[] {
  const empty = (chart: ChartData | undefined) => !chart || chart.series.every((s) => s.values.every((v) => v === null));
  if (selection.kind === 'bill' && empty(charts[0])) {
    return [
      'No billing metrics found. They are off until someone turns on "Receive CloudWatch billing alerts" in the Billing console\'s preferences, with the management account of the organization; data starts some hours later and lives in us-east-1 only.',
    ];
  }
  if (selection.kind === 'node' && !discovered.agentMetrics?.length) {
    return ['Memory and disk use are not published by EC2 itself: they appear when the CloudWatch agent runs on the node (namespace CWAgent).'];
  }
  if (selection.kind === 'bucket') {
    return ['S3 publishes storage metrics once a day, so the range covers at least two weeks.'];
  }
  return [];
}

/** The charts each selection shows, as GetMetricData queries; and how queries are batched. */
import type { Metric, MetricDataQuery } from '@aws-sdk/client-cloudwatch';
import type { MetricUnit } from './format';
import { isBurstable, type MetricRef, type NodeRef, type Selection } from './selection';

/** GetMetricData takes at most 500 queries per call (metrics and expressions together). */
export const MAX_QUERIES_PER_CALL = 500;

export interface SeriesPlan {
  readonly label: string;
  readonly query: MetricDataQuery;
  /** The sum or mean over the other lines, drawn wider. */
  readonly aggregate?: boolean;
}

export interface ChartPlan {
  readonly title: string;
  readonly unit: MetricUnit;
  /** Byte counters come as Sum per period; dividing by the period makes them rates. */
  readonly perSecond?: boolean;
  readonly series: readonly SeriesPlan[];
}

/** What ListMetrics found for the selection, which decides the charts that depend on it. */
export interface Discovered {
  /** CWAgent metrics of the node (any dimension set that includes its InstanceId). */
  readonly agentMetrics?: readonly Metric[];
  /** BucketSizeBytes metrics of the bucket, one per storage class that holds data. */
  readonly bucketSizeMetrics?: readonly Metric[];
}

/** GetMetricData ids must start with a lowercase letter and hold only letters, digits and `_`. */
export function isValidQueryId(id: string): boolean {
  return /^[a-z][a-zA-Z0-9_]*$/.test(id);
}

type Stat = 'Average' | 'Sum' | 'Maximum';
interface SeriesSpec {
  readonly label: string;
  readonly metric: MetricRef;
  readonly stat: Stat;
}
interface ChartSpec {
  readonly title: string;
  readonly unit: MetricUnit;
  readonly perSecond?: boolean;
  readonly series: readonly SeriesSpec[];
  /** Adds a Metric Math line over all the chart's series. */
  readonly aggregate?: 'SUM' | 'AVG';
}

/** The charts of a selection, with query ids `c<chart>_s<series>` and `c<chart>_agg`. */
export function planCharts(selection: Selection, discovered: Discovered, period: number): ChartPlan[] {
  return chartSpecs(selection, discovered).map((spec, c) => {
    const series: SeriesPlan[] = spec.series.map((s, i) => ({
      label: s.label,
      query: {
        Id: `c${c}_s${i}`,
        Label: s.label,
        MetricStat: {
          Metric: {
            Namespace: s.metric.namespace,
            MetricName: s.metric.metricName,
            Dimensions: s.metric.dimensions.map((d) => ({ Name: d.name, Value: d.value })),
          },
          Period: period,
          Stat: s.stat,
        },
        ReturnData: true,
      },
    }));
    if (spec.aggregate) {
      const label = spec.aggregate === 'SUM' ? 'Sum' : 'Mean';
      series.push({ label, aggregate: true, query: { Id: `c${c}_agg`, Label: label, Expression: aggregateExpression(spec.aggregate, c), Period: period, ReturnData: true } });
    }
    return { title: spec.title, unit: spec.unit, perSecond: spec.perSecond, series };
  });
}

/**
 * Metric Math over every series of chart `chart`. METRICS("c3_s") selects the queries whose id
 * contains that text: the chart's own series and no other (c13_s0 does not contain it), and
 * unlike a list of ids it stays short for any number of nodes.
 */
export function aggregateExpression(op: 'SUM' | 'AVG', chart: number): string {
  return `${op}(METRICS("c${chart}_s"))`;
}

/**
 * Packs each chart's queries into calls of at most `max` queries. A chart's queries stay in one
 * call, because a Metric Math expression can only use metrics of the same call.
 */
export function batchQueries(groups: ReadonlyArray<readonly MetricDataQuery[]>, max = MAX_QUERIES_PER_CALL): MetricDataQuery[][] {
  const batches: MetricDataQuery[][] = [];
  let current: MetricDataQuery[] = [];
  for (const group of groups) {
    if (group.length > max) throw new RangeError(`A chart of ${group.length} lines is more than one GetMetricData call can hold (${max}).`);
    if (current.length + group.length > max) {
      batches.push(current);
      current = [];
    }
    current.push(...group);
  }
  if (current.length) batches.push(current);
  return batches;
}

const ec2 = (instanceId: string, metricName: string): MetricRef => ({
  namespace: 'AWS/EC2',
  metricName,
  dimensions: [{ name: 'InstanceId', value: instanceId }],
});

const fromMetric = (m: Metric): MetricRef => ({
  namespace: m.Namespace ?? '',
  metricName: m.MetricName ?? '',
  dimensions: (m.Dimensions ?? []).map((d) => ({ name: d.Name ?? '', value: d.Value ?? '' })),
});

/** A dimension's value, for labelling agent disk metrics by mount point. */
const dimension = (m: Metric, name: string) => m.Dimensions?.find((d) => d.Name === name)?.Value;

function chartSpecs(selection: Selection, discovered: Discovered): ChartSpec[] {
  switch (selection.kind) {
    case 'node':
      return nodeCharts(selection, discovered.agentMetrics ?? []);
    case 'cluster':
      return clusterCharts(selection.nodes);
    case 'bucket':
      return bucketCharts(selection.bucket, discovered.bucketSizeMetrics ?? []);
    case 'bill':
      return [{
        title: 'Estimated charges this month',
        unit: 'dollars',
        series: [{ label: 'Total (USD)', stat: 'Maximum', metric: { namespace: 'AWS/Billing', metricName: 'EstimatedCharges', dimensions: [{ name: 'Currency', value: 'USD' }] } }],
      }];
    case 'custom':
      return selection.metrics.map((metric) => ({
        title: `${metric.namespace} · ${metric.metricName}`,
        unit: 'none',
        series: [{ label: metric.dimensions.map((d) => `${d.name}=${d.value}`).join(', ') || metric.metricName, stat: 'Average', metric }],
      }));
  }
}

function nodeCharts(node: NodeRef, agentMetrics: readonly Metric[]): ChartSpec[] {
  const id = node.instanceId;
  const rate = (label: string, metricName: string): SeriesSpec => ({ label, stat: 'Sum', metric: ec2(id, metricName) });
  const charts: ChartSpec[] = [
    { title: 'CPU utilization', unit: 'percent', series: [{ label: 'CPU', stat: 'Average', metric: ec2(id, 'CPUUtilization') }] },
    { title: 'Network', unit: 'bytesPerSecond', perSecond: true, series: [rate('In', 'NetworkIn'), rate('Out', 'NetworkOut')] },
    { title: 'EBS volumes', unit: 'bytesPerSecond', perSecond: true, series: [rate('Read', 'EBSReadBytes'), rate('Write', 'EBSWriteBytes')] },
    { title: 'Instance store', unit: 'bytesPerSecond', perSecond: true, series: [rate('Read', 'DiskReadBytes'), rate('Write', 'DiskWriteBytes')] },
  ];
  if (isBurstable(node.instanceType)) {
    charts.push({ title: 'CPU credit balance', unit: 'count', series: [{ label: 'Credits', stat: 'Average', metric: ec2(id, 'CPUCreditBalance') }] });
  }
  const memory = agentMetrics.filter((m) => m.MetricName === 'mem_used_percent');
  if (memory.length) {
    charts.push({ title: 'Memory used', unit: 'percent', series: memory.map((m) => ({ label: 'Memory', stat: 'Average', metric: fromMetric(m) })) });
  }
  const disks = agentMetrics.filter((m) => m.MetricName === 'disk_used_percent');
  if (disks.length) {
    charts.push({ title: 'Disk used', unit: 'percent', series: disks.map((m) => ({ label: dimension(m, 'path') ?? dimension(m, 'device') ?? 'disk', stat: 'Average', metric: fromMetric(m) })) });
  }
  return charts;
}

function clusterCharts(nodes: readonly NodeRef[]): ChartSpec[] {
  const each = (metricName: string, stat: Stat) => nodes.map((n) => ({ label: n.name ?? n.instanceId, stat, metric: ec2(n.instanceId, metricName) }));
  return [
    { title: 'CPU utilization', unit: 'percent', aggregate: 'AVG', series: each('CPUUtilization', 'Average') },
    { title: 'Network in', unit: 'bytesPerSecond', perSecond: true, aggregate: 'SUM', series: each('NetworkIn', 'Sum') },
    { title: 'Network out', unit: 'bytesPerSecond', perSecond: true, aggregate: 'SUM', series: each('NetworkOut', 'Sum') },
    { title: 'EBS read', unit: 'bytesPerSecond', perSecond: true, aggregate: 'SUM', series: each('EBSReadBytes', 'Sum') },
    { title: 'EBS write', unit: 'bytesPerSecond', perSecond: true, aggregate: 'SUM', series: each('EBSWriteBytes', 'Sum') },
  ];
}

function bucketCharts(bucket: string, sizeMetrics: readonly Metric[]): ChartSpec[] {
  const s3 = (metricName: string, storageType: string): MetricRef => ({
    namespace: 'AWS/S3',
    metricName,
    dimensions: [{ name: 'BucketName', value: bucket }, { name: 'StorageType', value: storageType }],
  });
  // Only storage classes that hold data publish a metric; STANDARD is the usual one to show
  // when ListMetrics found none yet (new buckets publish after about a day).
  const storageTypes = sizeMetrics.map((m) => dimension(m, 'StorageType')).filter((t): t is string => !!t);
  return [
    {
      title: 'Bucket size by storage class',
      unit: 'bytes',
      series: (storageTypes.length ? storageTypes : ['StandardStorage']).map((t) => ({ label: t.replace(/Storage$/, ''), stat: 'Average', metric: s3('BucketSizeBytes', t) })),
    },
    { title: 'Number of objects', unit: 'count', series: [{ label: 'Objects', stat: 'Average', metric: s3('NumberOfObjects', 'AllStorageTypes') }] },
  ];
}

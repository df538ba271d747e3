import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { MetricDataQuery } from '@aws-sdk/client-cloudwatch';
import { aggregateExpression, batchQueries, isValidQueryId, MAX_QUERIES_PER_CALL, planCharts } from '../../src/metrics/queries';
import type { Selection } from '../../src/metrics/selection';

const cluster = (n: number): Selection => ({
  kind: 'cluster',
  name: 'genomics',
  nodes: Array.from({ length: n }, (_, i) => ({ instanceId: `i-${String(i).padStart(17, '0')}` })),
});
const queries = (n: number, prefix: string): MetricDataQuery[] => Array.from({ length: n }, (_, i) => ({ Id: `${prefix}${i}` }));

describe('planCharts', () => {
  test('a node gets CPU, network, EBS and instance-store charts, all ids valid', () => {
    const charts = planCharts({ kind: 'node', instanceId: 'i-0123456789abcdef0', instanceType: 'm6i.large' }, {}, 60);
    assert.deepEqual(charts.map((c) => c.title), ['CPU utilization', 'Network', 'EBS volumes', 'Instance store']);
    const ids = charts.flatMap((c) => c.series.map((s) => s.query.Id!));
    assert.ok(ids.every(isValidQueryId), ids.join(' '));
    assert.equal(new Set(ids).size, ids.length, 'ids are unique in a call');
    const cpu = charts[0].series[0].query.MetricStat!;
    assert.deepEqual(cpu.Metric, { Namespace: 'AWS/EC2', MetricName: 'CPUUtilization', Dimensions: [{ Name: 'InstanceId', Value: 'i-0123456789abcdef0' }] });
    assert.equal(cpu.Period, 60);
    assert.equal(charts[1].perSecond, true, 'network byte sums become rates');
  });

  test('burstable nodes add CPU credits; CloudWatch agent metrics add memory and disk', () => {
    const agent = [
      { Namespace: 'CWAgent', MetricName: 'mem_used_percent', Dimensions: [{ Name: 'InstanceId', Value: 'i-1' }] },
      { Namespace: 'CWAgent', MetricName: 'disk_used_percent', Dimensions: [{ Name: 'InstanceId', Value: 'i-1' }, { Name: 'path', Value: '/' }, { Name: 'fstype', Value: 'xfs' }] },
    ];
    const charts = planCharts({ kind: 'node', instanceId: 'i-1', instanceType: 't3.medium' }, { agentMetrics: agent }, 60);
    assert.deepEqual(charts.slice(4).map((c) => c.title), ['CPU credit balance', 'Memory used', 'Disk used']);
    const disk = charts[6].series[0];
    assert.equal(disk.label, '/');
    assert.equal(disk.query.MetricStat!.Metric!.Dimensions!.length, 3, 'the agent metric is queried with its whole dimension set');
  });

  test('a cluster has one line per node and a Metric Math line over them', () => {
    const charts = planCharts(cluster(3), {}, 300);
    const cpu = charts[0];
    assert.equal(cpu.series.length, 4);
    const agg = cpu.series[3];
    assert.equal(agg.aggregate, true);
    assert.equal(agg.query.Expression, 'AVG(METRICS("c0_s"))');
    assert.equal(charts[1].series[3].query.Expression, 'SUM(METRICS("c1_s"))');
    assert.ok(charts.flatMap((c) => c.series.map((s) => s.query.Id!)).every(isValidQueryId));
  });

  test('a bucket charts size per storage class found, and object count, daily', () => {
    const found = ['StandardStorage', 'GlacierStorage'].map((t) => ({ Namespace: 'AWS/S3', MetricName: 'BucketSizeBytes', Dimensions: [{ Name: 'BucketName', Value: 'lab' }, { Name: 'StorageType', Value: t }] }));
    const [size, count] = planCharts({ kind: 'bucket', bucket: 'lab' }, { bucketSizeMetrics: found }, 86400);
    assert.deepEqual(size.series.map((s) => s.label), ['Standard', 'Glacier']);
    assert.equal(count.series[0].query.MetricStat!.Metric!.Dimensions![1].Value, 'AllStorageTypes');
  });
});

describe('aggregateExpression', () => {
  test('the METRICS() filter of one chart matches none of another chart\'s ids', () => {
    const fragment = /METRICS\("([^"]+)"\)/.exec(aggregateExpression('SUM', 3))![1];
    assert.ok('c3_s0'.includes(fragment) && 'c3_s49'.includes(fragment));
    for (const other of ['c13_s0', 'c30_s1', 'c3_agg', 'c0_s3']) assert.ok(!other.includes(fragment), other);
  });
});

describe('isValidQueryId', () => {
  test('starts with a lowercase letter, then letters, digits and underscores', () => {
    for (const id of ['m0', 'c12_s3', 'cpu_Total']) assert.ok(isValidQueryId(id), id);
    for (const id of ['0m', 'Cpu', '_x', 'a-b', '']) assert.ok(!isValidQueryId(id), id);
  });
});

describe('batchQueries', () => {
  test('no call holds more than 500 queries, and every query is sent once', () => {
    const groups = Array.from({ length: 12 }, (_, g) => queries(51, `g${g}_`));
    const batches = batchQueries(groups);
    assert.ok(batches.every((b) => b.length <= MAX_QUERIES_PER_CALL));
    assert.equal(batches.flat().length, 12 * 51);
    assert.deepEqual(batches.map((b) => b.length), [459, 153]);
  });

  test('a chart\'s queries stay in one call, so its expression finds its metrics', () => {
    const batches = batchQueries([queries(300, 'a'), queries(300, 'b'), queries(10, 'c')]);
    assert.deepEqual(batches.map((b) => b.length), [300, 310]);
    for (const batch of batches) {
      const prefixes = new Set(batch.map((q) => q.Id![0]));
      for (const p of prefixes) assert.equal(batches.filter((b) => b.some((q) => q.Id![0] === p)).length, 1);
    }
  });

  test('a 50-node cluster over 24 h fits one call', () => {
    const charts = planCharts(cluster(50), {}, 60);
    assert.equal(batchQueries(charts.map((c) => c.series.map((s) => s.query))).length, 1);
  });

  test('a chart too big for one call is refused with a reason', () => {
    assert.throws(() => batchQueries([queries(501, 'x')]), /501 lines/);
  });
});

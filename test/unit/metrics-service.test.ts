// loadMetrics against the local CloudWatch endpoint: the real SDK client and wire protocol.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { loadMetrics } from '../../src/metrics/service';
import { startCloudWatchServer } from '../harness/cloudwatch-server.mjs';
import { metricAlarm } from '../fixtures/cloudwatch';
import { FAKE_CREDENTIALS } from '../fixtures/s3';

const NOW = Date.UTC(2026, 10, 26, 14, 7, 30);
const NODE = 'i-0123456789abcdef0';

describe('loadMetrics', () => {
  let server: Awaited<ReturnType<typeof startCloudWatchServer>>;
  const regions: Array<string | undefined> = [];
  const cloudWatchFor = async (region: string | undefined) => {
    regions.push(region);
    return new CloudWatchClient({ region: region ?? 'eu-west-1', endpoint: server.endpoint, credentials: FAKE_CREDENTIALS, maxAttempts: 1 });
  };

  before(async () => {
    server = await startCloudWatchServer({
      metrics: [{ Namespace: 'CWAgent', MetricName: 'mem_used_percent', Dimensions: [{ Name: 'InstanceId', Value: NODE }] }],
      alarms: [metricAlarm(NODE, { StateValue: 'ALARM' }), metricAlarm('i-someoneelse0000')],
    });
  });
  after(() => server.stop());

  test('a node: served values on a regular grid, byte sums as rates, its alarms, agent memory', async () => {
    const data = await loadMetrics(cloudWatchFor, { kind: 'node', instanceId: NODE }, { kind: 'preset', preset: '1h' }, { nowMs: NOW, defaultRegion: 'eu-west-1' });
    assert.equal(data.period, 60);
    const cpu = data.charts[0];
    assert.equal(cpu.timestamps.length, 61);
    cpu.timestamps.forEach((t, i) => assert.equal(cpu.series[0].values[i], (Math.floor(t / 60) % 60) + 0.5));
    const network = data.charts[1];
    assert.ok(network.series[0].values.every((v) => v === 100_000), 'NetworkIn: 6,000,000 bytes per minute is 100,000 bytes/s');
    assert.ok(data.charts[2].series[0].values.every((v) => v === null), 'no EBS data served: nulls, not zeros');
    assert.ok(data.charts.some((c) => c.title === 'Memory used'));
    assert.deepEqual(data.alarms.map((a) => [a.name, a.state]), [[`research-cloud-idle-${NODE}`, 'ALARM']]);
    assert.match(data.alarms[0].condition, /CPUUtilization < 5 for 6 × 300 s/);
  });

  test('a cluster: one GetMetricData call, and the Metric Math mean equals the mean of the lines', async () => {
    server.requests.length = 0;
    const nodes = Array.from({ length: 50 }, (_, i) => ({ instanceId: `i-${String(i).padStart(17, '0')}` }));
    const data = await loadMetrics(cloudWatchFor, { kind: 'cluster', name: 'c', nodes }, { kind: 'preset', preset: '1d' }, { nowMs: NOW, defaultRegion: 'eu-west-1' });
    assert.equal(server.requests.filter((r) => r.operation === 'GetMetricData').length, 1);
    const [cpu, netIn] = data.charts;
    assert.equal(cpu.series.length, 51);
    assert.equal(cpu.series[50].values[10], cpu.series[0].values[10], 'equal lines have that mean');
    assert.equal(netIn.series[50].values[10], 50 * 100_000, 'the sum of 50 nodes at 100,000 bytes/s');
  });

  test('the bill is read from us-east-1, with a note when billing metrics are off', async () => {
    regions.length = 0;
    const data = await loadMetrics(cloudWatchFor, { kind: 'bill' }, { kind: 'preset', preset: '1d' }, { nowMs: NOW, defaultRegion: 'eu-west-1' });
    assert.deepEqual(regions, ['us-east-1']);
    assert.equal(data.period, 6 * 3600);
    assert.match(data.notes[0], /Receive CloudWatch billing alerts/);
  });

  test('errors of the service become sentences that name what failed', async () => {
    const failing = async () => new CloudWatchClient({ region: 'us-east-1', endpoint: 'http://127.0.0.1:9', credentials: FAKE_CREDENTIALS, maxAttempts: 1 });
    await assert.rejects(loadMetrics(failing, { kind: 'node', instanceId: NODE }, { kind: 'preset', preset: '1h' }, { nowMs: NOW, defaultRegion: 'us-east-1' }), /Read CloudWatch metrics of i-0123456789abcdef0 failed/);
  });
});

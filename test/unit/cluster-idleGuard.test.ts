import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DeleteAlarmsCommand, DescribeAlarmsCommand, PutMetricAlarmCommand } from '@aws-sdk/client-cloudwatch';
import { guardFromAlarm, idleAlarmInput, listIdleGuards, putIdleGuards, removeIdleGuards } from '../../src/cluster/idleGuard';
import { clusterNode } from '../fixtures/ec2';
import { cloudWatchError, metricAlarm, mockedCloudWatch } from '../fixtures/cloudwatch';

const node = clusterNode({ instanceId: 'i-0abc', name: 'analysis', region: 'eu-west-1' });

describe('idleAlarmInput', () => {
  test('stops the node when the 5-minute CPU average stays below the threshold for N minutes', () => {
    assert.deepEqual(idleAlarmInput(node, { cpuBelowPercent: 5, minutes: 60 }), {
      AlarmName: 'research-cloud-idle-i-0abc',
      AlarmDescription: 'Research Cloud idle guard: stops analysis (i-0abc) when its average CPU stays below 5% for 60 minutes.',
      Namespace: 'AWS/EC2',
      MetricName: 'CPUUtilization',
      Dimensions: [{ Name: 'InstanceId', Value: 'i-0abc' }],
      Statistic: 'Average',
      Period: 300,
      EvaluationPeriods: 12,
      DatapointsToAlarm: 12,
      Threshold: 5,
      ComparisonOperator: 'LessThanThreshold',
      TreatMissingData: 'notBreaching',
      ActionsEnabled: true,
      AlarmActions: ['arn:aws:automate:eu-west-1:ec2:stop'],
    });
  });

  test('terminates a one-time spot node, which AWS cannot stop', () => {
    const spot = clusterNode({ instanceId: 'i-0spot', spot: { requestId: 'sir-1', requestType: 'one-time' } });
    const input = idleAlarmInput(spot, { cpuBelowPercent: 10, minutes: 30 });
    assert.deepEqual(input.AlarmActions, ['arn:aws:automate:us-east-1:ec2:terminate']);
    assert.match(input.AlarmDescription!, /^Research Cloud idle guard: terminates i-0spot/);
  });

  test('rounds the minutes up to whole periods and refuses settings CloudWatch would', () => {
    const input = idleAlarmInput(node, { cpuBelowPercent: 5, minutes: 12 });
    assert.equal(input.EvaluationPeriods, 3);
    assert.match(input.AlarmDescription!, /for 15 minutes/);
    assert.throws(() => idleAlarmInput(node, { cpuBelowPercent: 5, minutes: 0 }), /between 5 minutes and a day/);
    assert.throws(() => idleAlarmInput(node, { cpuBelowPercent: 5, minutes: 1445 }), /between 5 minutes and a day/);
    assert.throws(() => idleAlarmInput(node, { cpuBelowPercent: 0, minutes: 30 }), /more than 0 and at most 100 percent/);
  });
});

describe('idle guards in CloudWatch', () => {
  test('puts one alarm per node, skipping ParallelCluster compute nodes, and explains failures', async (t) => {
    const { mock, cwFor } = mockedCloudWatch(t);
    mock.on(PutMetricAlarmCommand, { AlarmName: 'research-cloud-idle-i-denied' }).rejects(cloudWatchError('AccessDenied', 'not authorized', 403));
    mock.on(PutMetricAlarmCommand, { AlarmName: 'research-cloud-idle-i-ok' }).resolves({});
    const nodes = [
      clusterNode({ instanceId: 'i-ok' }),
      clusterNode({ instanceId: 'i-pc', cluster: { name: 'genomics', kind: 'parallelcluster' }, role: 'compute' }),
      clusterNode({ instanceId: 'i-denied' }),
    ];
    const outcomes = await putIdleGuards(cwFor, nodes, { cpuBelowPercent: 5, minutes: 30 }, { profile: 'lab' });
    assert.deepEqual(outcomes.map((o) => [o.node.instanceId, o.status, o.action]), [['i-ok', 'done', 'stop'], ['i-pc', 'skipped', undefined], ['i-denied', 'failed', undefined]]);
    assert.match(outcomes[1].message!, /ScaledownIdletime/);
    assert.match(outcomes[2].message!, /^Create the idle guard of i-denied failed: access denied: profile "lab" is not allowed to cloudwatch:PutMetricAlarm/);
    assert.equal(mock.commandCalls(PutMetricAlarmCommand).length, 2);
  });

  test('refuses bad settings before calling CloudWatch', async (t) => {
    const { mock, cwFor } = mockedCloudWatch(t);
    await assert.rejects(putIdleGuards(cwFor, [node], { cpuBelowPercent: 150, minutes: 30 }), /at most 100 percent/);
    assert.equal(mock.commandCalls(PutMetricAlarmCommand).length, 0);
  });

  test('lists guards by the name prefix, across pages, reading each back', async (t) => {
    const { cw, mock } = mockedCloudWatch(t);
    mock
      .on(DescribeAlarmsCommand, { NextToken: undefined })
      .resolves({ MetricAlarms: [metricAlarm('i-01')], NextToken: 'p2' })
      .on(DescribeAlarmsCommand, { NextToken: 'p2' })
      .resolves({ MetricAlarms: [metricAlarm('i-02', { action: 'terminate', EvaluationPeriods: 12, Threshold: 2, StateValue: 'ALARM' })] });
    const guards = await listIdleGuards(cw, 'us-east-1');
    assert.deepEqual(guards, [
      { alarmName: 'research-cloud-idle-i-01', instanceId: 'i-01', region: 'us-east-1', action: 'stop', cpuBelowPercent: 5, minutes: 30, state: 'OK' },
      { alarmName: 'research-cloud-idle-i-02', instanceId: 'i-02', region: 'us-east-1', action: 'terminate', cpuBelowPercent: 2, minutes: 60, state: 'ALARM' },
    ]);
    assert.equal(mock.commandCalls(DescribeAlarmsCommand)[0].args[0].input.AlarmNamePrefix, 'research-cloud-idle-');
  });

  test('ignores an alarm that only shares the prefix', () => {
    assert.equal(guardFromAlarm(metricAlarm('i-01', { AlarmActions: ['arn:aws:sns:us-east-1:123456789012:ops'] }), 'us-east-1'), undefined);
  });

  test('removes guards 100 names per call', async (t) => {
    const { cw, mock } = mockedCloudWatch(t);
    mock.on(DeleteAlarmsCommand).resolves({});
    const names = Array.from({ length: 150 }, (_, i) => `research-cloud-idle-i-${i}`);
    await removeIdleGuards(cw, names);
    assert.deepEqual(mock.commandCalls(DeleteAlarmsCommand).map((c) => c.args[0].input.AlarmNames?.length), [100, 50]);
  });
});

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DescribeInstanceStatusCommand } from '@aws-sdk/client-ec2';
import { interruptionNotices, withScheduledEvents } from '../../src/cluster/interruptions';
import type { ClusterNode } from '../../src/cluster/model';
import { clusterNode, ec2Error, mockedEc2 } from '../fixtures/ec2';

const cluster = { name: 'genomics', kind: 'parallelcluster' as const };
const spotNode = (fields: Partial<ClusterNode> = {}) =>
  clusterNode({ instanceId: 'i-0c2', name: 'compute-2', cluster, role: 'compute', spot: { requestId: 'sir-2', requestType: 'one-time' }, ...fields });
const REBOOT = { id: 'instance-event-0a1', code: 'system-reboot', description: 'scheduled reboot', notBefore: new Date('2026-03-04T03:00:00Z') };

describe('interruptionNotices', () => {
  test('names the node and cluster AWS terminated to reclaim capacity', () => {
    const after = spotNode({ state: 'terminated', stateReason: { code: 'Server.SpotInstanceTermination', message: 'Server.SpotInstanceTermination: Spot instance termination' } });
    const notices = interruptionNotices([spotNode()], [after]);
    assert.deepEqual(notices, [
      { node: after, kind: 'spot-interruption', message: 'AWS terminated the spot node compute-2 (i-0c2) of genomics to reclaim capacity (a spot interruption).' },
    ]);
  });

  test('says a persistent spot node AWS stopped will be started again by its request', () => {
    const after = spotNode({ state: 'stopped', spot: { requestId: 'sir-2', requestType: 'persistent' }, stateReason: { code: 'Server.SpotInstanceShutdown' } });
    const [notice] = interruptionNotices([spotNode()], [after]);
    assert.match(notice.message, /^AWS stopped the spot node compute-2 \(i-0c2\) of genomics to reclaim capacity; its persistent spot request starts it again/);
  });

  test('tells of an interruption once: not again when the next refresh still shows it', () => {
    const interrupted = spotNode({ state: 'terminated', stateReason: { code: 'Server.SpotInstanceTermination' } });
    assert.equal(interruptionNotices([], [interrupted]).length, 1, 'first seen already interrupted');
    assert.equal(interruptionNotices([interrupted], [interrupted]).length, 0);
  });

  test('ignores stops and terminations by the user', () => {
    const byUser = spotNode({ state: 'stopped', stateReason: { code: 'Client.UserInitiatedShutdown', message: 'User initiated shutdown' } });
    assert.deepEqual(interruptionNotices([spotNode()], [byUser]), []);
  });

  test('reports scheduled events not seen before, with their time, and skips completed ones', () => {
    const before = clusterNode({ name: 'head' });
    const after = clusterNode({ name: 'head', events: [REBOOT, { code: 'instance-stop', description: '[Completed] The instance is running on degraded hardware' }] });
    assert.deepEqual(interruptionNotices([before], [after]).map((n) => [n.kind, n.message]), [
      ['scheduled-event', 'head (i-0123456789abcdef0) has a scheduled system-reboot from 2026-03-04 03:00 UTC: scheduled reboot.'],
    ]);
    assert.deepEqual(interruptionNotices([after], [after]), []);
  });
});

describe('withScheduledEvents', () => {
  test('attaches the events of running nodes from DescribeInstanceStatus', async (t) => {
    const { mock, ec2For } = mockedEc2(t);
    mock.on(DescribeInstanceStatusCommand).resolves({
      InstanceStatuses: [{ InstanceId: 'i-01', Events: [{ InstanceEventId: REBOOT.id, Code: 'system-reboot', Description: 'scheduled reboot', NotBefore: REBOOT.notBefore }] }, { InstanceId: 'i-02' }],
    });
    const nodes = [clusterNode({ instanceId: 'i-01' }), clusterNode({ instanceId: 'i-02' }), clusterNode({ instanceId: 'i-03', state: 'stopped' })];
    const { nodes: withEvents, problems } = await withScheduledEvents(ec2For, nodes);
    assert.deepEqual(withEvents.map((n) => n.events), [[REBOOT], undefined, undefined]);
    assert.deepEqual(problems, []);
    assert.deepEqual(mock.commandCalls(DescribeInstanceStatusCommand)[0].args[0].input.InstanceIds, ['i-01', 'i-02']);
  });

  test('keeps the nodes and reports the region when events cannot be read', async (t) => {
    const { mock, ec2For } = mockedEc2(t);
    mock.on(DescribeInstanceStatusCommand).rejects(ec2Error('UnauthorizedOperation', 'You are not authorized to perform this operation.', 403));
    const nodes = [clusterNode({ instanceId: 'i-01' })];
    const result = await withScheduledEvents(ec2For, nodes);
    assert.deepEqual(result.nodes, nodes);
    assert.match(result.problems[0].error.message, /^Read scheduled events in us-east-1 failed: access denied.*ec2:DescribeInstanceStatus/);
  });
});

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  CancelSpotInstanceRequestsCommand,
  RebootInstancesCommand,
  StartInstancesCommand,
  StopInstancesCommand,
  TerminateInstancesCommand,
  type EC2Client,
} from '@aws-sdk/client-ec2';
import { actionRule, allowedActions, runNodeAction } from '../../src/cluster/lifecycle';
import type { ClusterNode } from '../../src/cluster/model';
import { clusterNode, ec2Error, mockedEc2, stateChange } from '../fixtures/ec2';

const ids = (n: number, prefix = 'i-0') => Array.from({ length: n }, (_, i) => `${prefix}${String(i).padStart(4, '0')}`);
const oneTime = (fields: Partial<ClusterNode> = {}) => clusterNode({ spot: { requestId: 'sir-1', requestType: 'one-time', interruptionBehavior: 'terminate' }, ...fields });
const persistent = (fields: Partial<ClusterNode> = {}) => clusterNode({ spot: { requestId: 'sir-2', requestType: 'persistent', interruptionBehavior: 'stop' }, ...fields });
const pcCompute = clusterNode({ cluster: { name: 'genomics', kind: 'parallelcluster' }, role: 'compute', queue: 'spot' });

describe('allowedActions', () => {
  test('a running on-demand node can be stopped, rebooted and terminated, not started', () => {
    assert.deepEqual(
      allowedActions(clusterNode()).map((r) => [r.action, r.allowed]),
      [['start', false], ['stop', true], ['reboot', true], ['terminate', true]],
    );
    assert.equal(actionRule(clusterNode(), 'start').reason, 'It is running; only a stopped node can be started.');
    assert.match(actionRule(clusterNode(), 'terminate').warning!, /cannot be undone/);
  });

  test('a one-time spot node cannot be stopped: terminate is offered instead, with the reason', () => {
    const rule = actionRule(oneTime(), 'stop');
    assert.equal(rule.allowed, false);
    assert.equal(rule.instead, 'terminate');
    assert.match(rule.reason!, /one-time spot instance: AWS can only stop spot instances launched from a persistent spot request/);
    assert.equal(actionRule(oneTime(), 'terminate').allowed, true);
  });

  test('a persistent spot node with stop behaviour can be stopped, and started again', () => {
    assert.deepEqual(actionRule(persistent(), 'stop'), { action: 'stop', allowed: true });
    assert.equal(actionRule(persistent({ state: 'stopped' }), 'start').allowed, true);
  });

  test('a spot node AWS stopped to reclaim capacity is restarted by its request, not by the user', () => {
    const rule = actionRule(persistent({ state: 'stopped', stateReason: { code: 'Server.SpotInstanceShutdown' } }), 'start');
    assert.equal(rule.allowed, false);
    assert.match(rule.reason!, /persistent spot request starts it again/);
  });

  test('a spot node whose request could not be read may be stopped, with a warning', () => {
    const rule = actionRule(clusterNode({ spot: { requestId: 'sir-3' } }), 'stop');
    assert.equal(rule.allowed, true);
    assert.match(rule.warning!, /if it is one-time, AWS will refuse to stop it/);
  });

  test('an instance-store node cannot be stopped', () => {
    const rule = actionRule(clusterNode({ rootDeviceType: 'instance-store' }), 'stop');
    assert.deepEqual([rule.allowed, rule.instead], [false, 'terminate']);
  });

  test('terminating a persistent spot node says its request is cancelled too', () => {
    assert.match(actionRule(persistent(), 'terminate').warning!, /persistent spot request sir-2 is cancelled too/);
  });

  test('stopping or terminating a ParallelCluster compute node warns that the scheduler replaces it', () => {
    assert.match(actionRule(pcCompute, 'stop').warning!, /ParallelCluster genomics, whose scheduler manages it: stopping it directly makes the cluster replace it/);
    assert.match(actionRule(pcCompute, 'terminate').warning!, /terminating it directly makes the cluster replace it/);
    const head = clusterNode({ cluster: { name: 'genomics', kind: 'parallelcluster' }, role: 'head' });
    assert.match(actionRule(head, 'stop').warning!, /Stop the compute fleet of genomics first/);
    assert.match(actionRule(head, 'terminate').warning!, /pcluster delete-cluster/);
  });

  test('states decide first: stopped, pending and terminated nodes', () => {
    const allowed = (node: ClusterNode) => allowedActions(node).filter((r) => r.allowed).map((r) => r.action);
    assert.deepEqual(allowed(clusterNode({ state: 'stopped' })), ['start', 'terminate']);
    assert.deepEqual(allowed(clusterNode({ state: 'pending' })), ['terminate']);
    assert.deepEqual(allowed(clusterNode({ state: 'terminated' })), []);
    assert.equal(actionRule(oneTime({ state: 'stopped' }), 'stop').reason, 'It is stopped; only a running node can be stopped.');
  });
});

describe('runNodeAction', () => {
  test('stops 120 nodes in batches of 50, and reports each state', async (t) => {
    const { mock, ec2For } = mockedEc2(t);
    mock.on(StopInstancesCommand).callsFake(async (input: { InstanceIds: string[] }) => ({
      StoppingInstances: input.InstanceIds.map((id) => stateChange(id, 'running', 'stopping')),
    }));
    const nodes = ids(120).map((instanceId) => clusterNode({ instanceId }));
    const progress: number[] = [];
    const outcomes = await runNodeAction(ec2For, 'stop', nodes, { progress: (p) => progress.push(p.itemsDone) });
    assert.deepEqual(mock.commandCalls(StopInstancesCommand).map((c) => c.args[0].input.InstanceIds?.length), [50, 50, 20]);
    assert.deepEqual(progress, [50, 100, 120]);
    assert.ok(outcomes.every((o, i) => o.node === nodes[i] && o.status === 'done' && o.state === 'stopping'));
  });

  test('skips nodes the rules refuse, without sending them, and sends the rest region by region', async (t) => {
    const east = mockedEc2(t, 'us-east-1');
    const west = mockedEc2(t, 'eu-west-1');
    for (const m of [east, west]) {
      m.mock.on(StopInstancesCommand).callsFake(async (input: { InstanceIds: string[] }) => ({ StoppingInstances: input.InstanceIds.map((id) => stateChange(id, 'running', 'stopping')) }));
    }
    const clients: Record<string, EC2Client> = { 'us-east-1': east.ec2, 'eu-west-1': west.ec2 };
    const nodes = [oneTime({ instanceId: 'i-spot' }), clusterNode({ instanceId: 'i-east' }), clusterNode({ instanceId: 'i-west', region: 'eu-west-1' })];
    const outcomes = await runNodeAction(async (r) => clients[r], 'stop', nodes);
    assert.deepEqual(outcomes.map((o) => o.status), ['skipped', 'done', 'done']);
    assert.match(outcomes[0].message!, /^Stop i-spot: not done\. It is a one-time spot instance/);
    assert.deepEqual(east.mock.commandCalls(StopInstancesCommand)[0].args[0].input.InstanceIds, ['i-east']);
    assert.deepEqual(west.mock.commandCalls(StopInstancesCommand)[0].args[0].input.InstanceIds, ['i-west']);
  });

  test('retries node by node when EC2 fails a batch for one instance, and explains that one', async (t) => {
    const { mock, ec2For } = mockedEc2(t);
    mock.on(StopInstancesCommand).callsFake(async (input: { InstanceIds: string[] }) => {
      if (input.InstanceIds.includes('i-bad')) throw ec2Error('IncorrectInstanceState', "The instance 'i-bad' is not in a state from which it can be stopped.");
      return { StoppingInstances: input.InstanceIds.map((id) => stateChange(id, 'running', 'stopping')) };
    });
    const nodes = ['i-ok1', 'i-bad', 'i-ok2'].map((instanceId) => clusterNode({ instanceId, name: instanceId.slice(2) }));
    const outcomes = await runNodeAction(ec2For, 'stop', nodes);
    assert.deepEqual(outcomes.map((o) => [o.status, o.code]), [['done', undefined], ['failed', 'IncorrectInstanceState'], ['done', undefined]]);
    assert.match(outcomes[1].message!, /^Stop bad \(i-bad\) failed: the instance is not in a state that allows this/);
    assert.equal(mock.commandCalls(StopInstancesCommand).length, 4);
  });

  test('explains UnsupportedOperation for a spot node whose request type was unknown', async (t) => {
    const { mock, ec2For } = mockedEc2(t);
    mock.on(StopInstancesCommand).rejects(ec2Error('UnsupportedOperation', "You can't stop the Spot Instance 'i-01' because it is associated with a one-time Spot Instance request."));
    const [outcome] = await runNodeAction(ec2For, 'stop', [clusterNode({ instanceId: 'i-01', spot: { requestId: 'sir-9' } })]);
    assert.equal(outcome.status, 'failed');
    assert.match(outcome.message!, /a one-time spot instance can only be terminated\. \(UnsupportedOperation\)$/);
  });

  test('names ec2:StopInstances when access is denied, for every node of the batch', async (t) => {
    const { mock, ec2For } = mockedEc2(t);
    mock.on(StopInstancesCommand).rejects(ec2Error('UnauthorizedOperation', 'You are not authorized to perform this operation. Encoded authorization failure message: abc', 403));
    const outcomes = await runNodeAction(ec2For, 'stop', [clusterNode({ instanceId: 'i-01' }), clusterNode({ instanceId: 'i-02' })], { profile: 'lab' });
    assert.equal(mock.commandCalls(StopInstancesCommand).length, 1, 'a denial is not retried node by node');
    for (const o of outcomes) {
      assert.equal(o.status, 'failed');
      assert.match(o.message!, /^Stop 2 nodes failed: access denied: profile "lab" is not allowed to ec2:StopInstances\. Ask your administrator/);
    }
  });

  test('starts and reboots: a reboot leaves the node running', async (t) => {
    const { mock, ec2For } = mockedEc2(t);
    mock.on(StartInstancesCommand).resolves({ StartingInstances: [stateChange('i-01', 'stopped', 'pending')] });
    mock.on(RebootInstancesCommand).resolves({});
    const [started] = await runNodeAction(ec2For, 'start', [clusterNode({ instanceId: 'i-01', state: 'stopped' })]);
    assert.deepEqual([started.status, started.state], ['done', 'pending']);
    const [rebooted] = await runNodeAction(ec2For, 'reboot', [clusterNode({ instanceId: 'i-02' })]);
    assert.deepEqual([rebooted.status, rebooted.state], ['done', 'running']);
  });

  test('terminating cancels persistent spot requests first, so they launch no replacement', async (t) => {
    const { mock, ec2For } = mockedEc2(t);
    const order: string[] = [];
    mock.on(CancelSpotInstanceRequestsCommand).callsFake(async () => {
      order.push('cancel');
      return { CancelledSpotInstanceRequests: [{ SpotInstanceRequestId: 'sir-2', State: 'cancelled' }] };
    });
    mock.on(TerminateInstancesCommand).callsFake(async (input: { InstanceIds: string[] }) => {
      order.push('terminate');
      return { TerminatingInstances: input.InstanceIds.map((id) => stateChange(id, 'running', 'shutting-down')) };
    });
    const outcomes = await runNodeAction(ec2For, 'terminate', [persistent({ instanceId: 'i-p' }), oneTime({ instanceId: 'i-o' })]);
    assert.deepEqual(order, ['cancel', 'terminate']);
    assert.deepEqual(mock.commandCalls(CancelSpotInstanceRequestsCommand)[0].args[0].input.SpotInstanceRequestIds, ['sir-2']);
    assert.deepEqual(outcomes.map((o) => [o.status, o.state, o.message]), [['done', 'shutting-down', undefined], ['done', 'shutting-down', undefined]]);
  });

  test('still terminates when the request cannot be cancelled, and says a replacement may come', async (t) => {
    const { mock, ec2For } = mockedEc2(t);
    mock.on(CancelSpotInstanceRequestsCommand).rejects(ec2Error('UnauthorizedOperation', 'You are not authorized to perform this operation.', 403));
    mock.on(TerminateInstancesCommand).resolves({ TerminatingInstances: [stateChange('i-p', 'running', 'shutting-down')] });
    const [outcome] = await runNodeAction(ec2For, 'terminate', [persistent({ instanceId: 'i-p' })]);
    assert.equal(outcome.status, 'done');
    assert.match(outcome.message!, /not allowed to ec2:CancelSpotInstanceRequests.*It may launch a replacement\.$/);
  });

  test('reports a node EC2 left out of its reply', async (t) => {
    const { mock, ec2For } = mockedEc2(t);
    mock.on(StopInstancesCommand).resolves({ StoppingInstances: [] });
    const [outcome] = await runNodeAction(ec2For, 'stop', [clusterNode({ instanceId: 'i-01' })]);
    assert.equal(outcome.status, 'failed');
    assert.match(outcome.message!, /did not report it/);
  });
});

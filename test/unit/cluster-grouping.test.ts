import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DescribeInstancesCommand, DescribeSpotInstanceRequestsCommand, type EC2Client } from '@aws-sdk/client-ec2';
import { discoverNodes, nodeFromInstance } from '../../src/cluster/discovery';
import { isCancellation } from '../../src/core/progress';
import { groupNodes, OTHER_INSTANCES } from '../../src/cluster/grouping';
import { membership } from '../../src/cluster/tags';
import {
  clusterNode,
  describeInstancesReply,
  describeSpotRequestsReply,
  ec2Error,
  ec2Instance,
  LAUNCHED,
  mockedEc2,
  parallelClusterTags,
  spotRequest,
} from '../fixtures/ec2';
import { sendOptions } from '../fixtures/s3';

describe('membership', () => {
  test('reads cluster, role and queue from the ParallelCluster tags', () => {
    assert.deepEqual(membership(parallelClusterTags('genomics', 'HeadNode')), { cluster: { name: 'genomics', kind: 'parallelcluster' }, role: 'head' });
    assert.deepEqual(membership(parallelClusterTags('genomics', 'Compute', 'spot-q')), {
      cluster: { name: 'genomics', kind: 'parallelcluster' },
      role: 'compute',
      queue: 'spot-q',
    });
    assert.equal(membership(parallelClusterTags('genomics', 'LoginNode')).role, 'login');
  });

  test('reads the configurable cluster tag and the role tag, in any case', () => {
    assert.deepEqual(membership({ 'research-cloud:cluster': 'imaging', 'research-cloud:role': 'Head' }), { cluster: { name: 'imaging', kind: 'tagged' }, role: 'head' });
    assert.equal(membership({ 'research-cloud:cluster': 'imaging', 'research-cloud:role': 'gpu-worker' }).role, 'node');
    assert.equal(membership({ 'research-cloud:cluster': 'imaging' }).role, 'node');
    const keys = { cluster: 'lab:cluster', role: 'lab:role' };
    assert.deepEqual(membership({ 'lab:cluster': 'mri', 'lab:role': 'compute' }, keys), { cluster: { name: 'mri', kind: 'tagged' }, role: 'compute' });
    assert.equal(membership({ 'research-cloud:cluster': 'imaging' }, keys).cluster, undefined, 'the default key is not read when another is configured');
  });

  test('prefers the ParallelCluster tags when both are present, and finds no cluster without tags', () => {
    assert.equal(membership({ ...parallelClusterTags('genomics', 'Compute', 'q'), 'research-cloud:cluster': 'other' }).cluster?.name, 'genomics');
    assert.deepEqual(membership({ Name: 'workstation' }), { role: 'node' });
  });
});

describe('nodeFromInstance', () => {
  test('keeps name, type, state, zone, address, launch time, spot request and state reason', () => {
    const node = nodeFromInstance(
      ec2Instance({
        id: 'i-0aaa',
        name: 'compute-1',
        type: 'c6i.4xlarge',
        state: 'terminated',
        az: 'eu-west-1b',
        ip: '10.0.2.7',
        spotRequestId: 'sir-1',
        stateReason: { code: 'Server.SpotInstanceTermination', message: 'Server.SpotInstanceTermination: Spot instance termination' },
        tags: parallelClusterTags('genomics', 'Compute', 'spot'),
      }),
      'eu-west-1',
    );
    assert.deepEqual(
      { ...node, tags: undefined },
      {
        region: 'eu-west-1',
        instanceId: 'i-0aaa',
        name: 'compute-1',
        instanceType: 'c6i.4xlarge',
        state: 'terminated',
        market: 'spot',
        spot: { requestId: 'sir-1' },
        availabilityZone: 'eu-west-1b',
        privateIp: '10.0.2.7',
        launchTime: LAUNCHED,
        rootDeviceType: 'ebs',
        stateReason: { code: 'Server.SpotInstanceTermination', message: 'Server.SpotInstanceTermination: Spot instance termination' },
        tags: undefined,
        cluster: { name: 'genomics', kind: 'parallelcluster' },
        role: 'compute',
        queue: 'spot',
      },
    );
  });

  test('marks an instance without InstanceLifecycle on-demand, and skips one without id or state', () => {
    const node = nodeFromInstance(ec2Instance(), 'us-east-1');
    assert.equal(node?.market, 'on-demand');
    assert.equal(node?.spot, undefined);
    assert.equal(nodeFromInstance({ InstanceId: 'i-0abc' }, 'us-east-1'), undefined);
  });
});

describe('groupNodes', () => {
  const pc = (id: string, nodeType: 'HeadNode' | 'Compute' | 'LoginNode', name: string, queue?: string, region = 'us-east-1') =>
    nodeFromInstance(ec2Instance({ id, name, tags: parallelClusterTags('genomics', nodeType, queue) }), region)!;

  test('shows a ParallelCluster cluster as head node, login node, then compute per queue', () => {
    const nodes = [pc('i-c2', 'Compute', 'compute-10', 'spot'), pc('i-c1', 'Compute', 'compute-2', 'spot'), pc('i-g1', 'Compute', 'gpu-1', 'gpu'), pc('i-l', 'LoginNode', 'login'), pc('i-h', 'HeadNode', 'head')];
    const [cluster] = groupNodes(nodes);
    assert.equal(cluster.label, 'genomics');
    assert.equal(cluster.kind, 'parallelcluster');
    assert.deepEqual(
      cluster.roles.map((r) => [r.label, r.nodes.map((n) => n.name)]),
      [
        ['Head node', ['head']],
        ['Login node', ['login']],
        ['Compute (queue gpu)', ['gpu-1']],
        ['Compute (queue spot)', ['compute-2', 'compute-10']],
      ],
    );
    assert.equal(cluster.nodes.length, 5);
  });

  test('groups tagged clusters by name and region, and puts the rest under Other instances, last', () => {
    const tagged = (id: string, cluster: string, role: string | undefined, region = 'us-east-1') =>
      nodeFromInstance(ec2Instance({ id, tags: { 'research-cloud:cluster': cluster, ...(role && { 'research-cloud:role': role }) } }), region)!;
    const groups = groupNodes([
      nodeFromInstance(ec2Instance({ id: 'i-ws', name: 'workstation' }), 'us-east-1')!,
      tagged('i-z1', 'zebrafish', 'compute'),
      tagged('i-a1', 'atlas', 'head'),
      tagged('i-a2', 'atlas', 'compute'),
      tagged('i-a3', 'atlas', undefined),
      tagged('i-a4', 'atlas', 'compute', 'eu-west-1'),
    ]);
    assert.deepEqual(
      groups.map((g) => [g.label, g.region, g.kind, g.nodes.length]),
      [
        ['atlas', 'eu-west-1', 'tagged', 1],
        ['atlas', 'us-east-1', 'tagged', 3],
        ['zebrafish', 'us-east-1', 'tagged', 1],
        [OTHER_INSTANCES, undefined, 'other', 1],
      ],
    );
    assert.deepEqual(groups[1].roles.map((r) => r.label), ['Head node', 'Compute', 'Nodes']);
    assert.notEqual(groups[0].id, groups[1].id);
  });

  test('makes no groups of no nodes', () => {
    assert.deepEqual(groupNodes([]), []);
    assert.deepEqual(groupNodes([clusterNode()]).map((g) => g.label), [OTHER_INSTANCES]);
  });
});

describe('discoverNodes', () => {
  test('follows DescribeInstances pages in every region', async (t) => {
    const east = mockedEc2(t, 'us-east-1');
    const west = mockedEc2(t, 'eu-west-1');
    east.mock
      .on(DescribeInstancesCommand, { NextToken: undefined })
      .resolves(describeInstancesReply([ec2Instance({ id: 'i-01' })], 'page2'))
      .on(DescribeInstancesCommand, { NextToken: 'page2' })
      .resolves(describeInstancesReply([ec2Instance({ id: 'i-02' })]));
    west.mock.on(DescribeInstancesCommand).resolves(describeInstancesReply([ec2Instance({ id: 'i-03', az: 'eu-west-1a' })]));
    const clients: Record<string, EC2Client> = { 'us-east-1': east.ec2, 'eu-west-1': west.ec2 };
    const found = await discoverNodes(async (r) => clients[r], { regions: ['us-east-1', 'eu-west-1'] });
    assert.deepEqual(found.nodes.map((n) => [n.instanceId, n.region]), [['i-01', 'us-east-1'], ['i-02', 'us-east-1'], ['i-03', 'eu-west-1']]);
    assert.deepEqual(found.problems, []);
    assert.equal(east.mock.commandCalls(DescribeInstancesCommand).length, 2);
    assert.equal(east.mock.commandCalls(DescribeSpotInstanceRequestsCommand).length, 0, 'no spot nodes, no spot request call');
  });

  test('reads the spot request type and interruption behaviour of spot nodes', async (t) => {
    const { mock, ec2For } = mockedEc2(t);
    mock.on(DescribeInstancesCommand).resolves(
      describeInstancesReply([ec2Instance({ id: 'i-01', spotRequestId: 'sir-1' }), ec2Instance({ id: 'i-02', spotRequestId: 'sir-2' }), ec2Instance({ id: 'i-03' })]),
    );
    mock.on(DescribeSpotInstanceRequestsCommand).resolves(describeSpotRequestsReply([spotRequest('sir-1', 'one-time'), spotRequest('sir-2', 'persistent', 'stop')]));
    const { nodes } = await discoverNodes(ec2For, { regions: ['us-east-1'] });
    assert.deepEqual(nodes.map((n) => n.spot), [
      { requestId: 'sir-1', requestType: 'one-time', interruptionBehavior: 'terminate' },
      { requestId: 'sir-2', requestType: 'persistent', interruptionBehavior: 'stop' },
      undefined,
    ]);
    const input = mock.commandCalls(DescribeSpotInstanceRequestsCommand)[0].args[0].input;
    assert.deepEqual(input.Filters, [{ Name: 'spot-instance-request-id', Values: ['sir-1', 'sir-2'] }]);
  });

  test('keeps the nodes when the spot requests cannot be read, and says why', async (t) => {
    const { mock, ec2For } = mockedEc2(t);
    mock.on(DescribeInstancesCommand).resolves(describeInstancesReply([ec2Instance({ id: 'i-01', spotRequestId: 'sir-1' })]));
    mock.on(DescribeSpotInstanceRequestsCommand).rejects(ec2Error('UnauthorizedOperation', 'You are not authorized to perform this operation.', 403));
    const found = await discoverNodes(ec2For, { regions: ['us-east-1'], profile: 'lab' });
    assert.deepEqual(found.nodes.map((n) => n.spot), [{ requestId: 'sir-1' }]);
    assert.equal(found.problems.length, 1);
    assert.match(found.problems[0].error.message, /Read the spot requests in us-east-1 failed: access denied: profile "lab" is not allowed to ec2:DescribeSpotInstanceRequests/);
  });

  test('reports a region that fails and still returns the others', async (t) => {
    const east = mockedEc2(t, 'us-east-1');
    const south = mockedEc2(t, 'ap-south-2');
    east.mock.on(DescribeInstancesCommand).resolves(describeInstancesReply([ec2Instance({ id: 'i-01' })]));
    south.mock.on(DescribeInstancesCommand).rejects(ec2Error('AuthFailure', 'AWS was not able to validate the provided access credentials', 401));
    const clients: Record<string, EC2Client> = { 'us-east-1': east.ec2, 'ap-south-2': south.ec2 };
    const found = await discoverNodes(async (r) => clients[r], { regions: ['us-east-1', 'ap-south-2'] });
    assert.deepEqual(found.nodes.map((n) => n.instanceId), ['i-01']);
    assert.deepEqual(found.problems.map((p) => p.region), ['ap-south-2']);
    assert.match(found.problems[0].error.message, /^List EC2 instances in ap-south-2 failed: the credentials of profile "default" were not accepted \(AuthFailure\)/);
  });

  test('passes the abort signal to every call and rejects when aborted', async (t) => {
    const { mock, ec2For } = mockedEc2(t);
    const controller = new AbortController();
    mock.on(DescribeInstancesCommand).callsFake(async () => {
      controller.abort();
      return describeInstancesReply([]);
    });
    await assert.rejects(discoverNodes(ec2For, { regions: ['us-east-1'], signal: controller.signal }), (err) => isCancellation(err));
    assert.equal(sendOptions(mock.commandCalls(DescribeInstancesCommand)[0])?.abortSignal, controller.signal);
  });
});

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  CreatePlacementGroupCommand,
  DescribeImagesCommand,
  DescribePlacementGroupsCommand,
  RunInstancesCommand,
  TerminateInstancesCommand,
  type RunInstancesCommandInput,
} from '@aws-sdk/client-ec2';
import { GetParameterCommand, SSMServiceException } from '@aws-sdk/client-ssm';
import type { ClusterSpec } from '../../src/cluster/clusterFile';
import { groupNodes } from '../../src/cluster/grouping';
import { launchNodes, launchSummary, resolveAmi, runInstancesInput } from '../../src/cluster/launch';
import { planScale, scaleCluster } from '../../src/cluster/scale';
import type { ProgressReport } from '../../src/core/progress';
import { clusterNode, ec2Error, mockedEc2, mockedSsm, stateChange } from '../fixtures/ec2';

const spec = (fields: Partial<ClusterSpec> = {}): ClusterSpec => ({
  name: 'genomics',
  ami: 'ami-0123456789abcdef0',
  instanceTypes: ['c6i.4xlarge', 'c5.4xlarge'],
  count: 2,
  ...fields,
});

function launchMocks(t: { after: (fn: () => void) => void }) {
  const { ec2, mock } = mockedEc2(t);
  const { ssm, mock: ssmMock } = mockedSsm(t);
  let next = 0;
  const launched = (input: RunInstancesCommandInput, n = input.MaxCount!) => ({
    Instances: Array.from({ length: n }, () => ({ InstanceId: `i-${String(next++).padStart(4, '0')}`, InstanceType: input.InstanceType })),
  });
  return { clients: { ec2, ssm }, mock, ssmMock, launched };
}

describe('launchNodes', () => {
  test('falls back to the second type when AWS has no capacity for the first, and reports both attempts', async (t) => {
    const { clients, mock, launched } = launchMocks(t);
    mock
      .on(RunInstancesCommand, { InstanceType: 'c6i.4xlarge' })
      .rejects(ec2Error('InsufficientInstanceCapacity', 'We currently do not have sufficient c6i.4xlarge capacity in the Availability Zone you requested (us-east-1a).'))
      .on(RunInstancesCommand, { InstanceType: 'c5.4xlarge' })
      .callsFake(async (input: RunInstancesCommandInput) => launched(input));
    const progress: ProgressReport[] = [];
    const report = await launchNodes(clients, spec(), { progress: (p) => progress.push(p) });
    assert.deepEqual(report.instanceIds, ['i-0000', 'i-0001']);
    assert.deepEqual(progress.map((p) => [p.itemsDone, p.itemsTotal]), [[0, 2], [2, 2]]);
    assert.equal(progress[1].message, report.attempts[1].message);
    assert.deepEqual(report.attempts.map((a) => [a.instanceType, a.code, a.instanceIds.length]), [['c6i.4xlarge', 'InsufficientInstanceCapacity', 0], ['c5.4xlarge', undefined, 2]]);
    assert.match(report.attempts[0].message, /^Launch c6i\.4xlarge failed: AWS has no spare capacity of this instance type in this Availability Zone right now\. \(InsufficientInstanceCapacity\) Trying the next subnet or instance type\.$/);
    assert.equal(report.attempts[1].message, 'Launched 2 of 2 as c5.4xlarge: i-0000, i-0001.');
    assert.equal(report.error, undefined);
    assert.equal(launchSummary(report), 'Launched 2 of 2 nodes: 2 × c5.4xlarge.');
  });

  test('launches what a partial capacity allows, then the rest in the next subnet', async (t) => {
    const { clients, mock, launched } = launchMocks(t);
    mock
      .on(RunInstancesCommand, { SubnetId: 'subnet-aaaaaaaa' })
      .callsFake(async (input: RunInstancesCommandInput) => launched(input, 1))
      .on(RunInstancesCommand, { SubnetId: 'subnet-bbbbbbbb' })
      .callsFake(async (input: RunInstancesCommandInput) => launched(input));
    const report = await launchNodes(clients, spec({ count: 3, subnets: ['subnet-aaaaaaaa', 'subnet-bbbbbbbb'] }));
    assert.deepEqual(mock.commandCalls(RunInstancesCommand).map((c) => [c.args[0].input.SubnetId, c.args[0].input.MinCount, c.args[0].input.MaxCount]), [
      ['subnet-aaaaaaaa', 1, 3],
      ['subnet-bbbbbbbb', 1, 2],
    ]);
    assert.equal(report.instanceIds.length, 3);
  });

  test('tries every type in every subnet on spot errors, and says so when none had capacity', async (t) => {
    const { clients, mock } = launchMocks(t);
    mock.on(RunInstancesCommand).rejects(ec2Error('SpotMaxPriceTooLow', 'Your Spot request price of 0.05 is lower than the minimum required Spot request fulfillment price of 0.3.'));
    const report = await launchNodes(clients, spec({ subnets: ['subnet-aaaaaaaa', 'subnet-bbbbbbbb'], spot: { maxPrice: 0.05, interruptionBehavior: 'terminate' } }));
    assert.equal(report.attempts.length, 4);
    assert.deepEqual(report.instanceIds, []);
    assert.match(launchSummary(report), /^Launched 0 of 2 nodes\. Every instance type was tried in every subnet/);
  });

  test('stops at an error that another type would meet too, and keeps it in the report', async (t) => {
    const { clients, mock } = launchMocks(t);
    mock.on(RunInstancesCommand).rejects(ec2Error('InvalidAMIID.NotFound', "The image id '[ami-0123456789abcdef0]' does not exist"));
    const report = await launchNodes(clients, spec());
    assert.equal(report.attempts.length, 1);
    assert.equal(report.error?.message, 'Launch c6i.4xlarge failed: the AMI does not exist in this region, or is not shared with the account. (InvalidAMIID.NotFound)');
  });

  test('resolves an SSM parameter path to the latest AMI, and notes it', async (t) => {
    const { clients, mock, ssmMock, launched } = launchMocks(t);
    ssmMock.on(GetParameterCommand).resolves({ Parameter: { Name: '/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64', Value: 'ami-0fedcba9876543210' } });
    mock.on(RunInstancesCommand).callsFake(async (input: RunInstancesCommandInput) => launched(input));
    const report = await launchNodes(clients, spec({ ami: '/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64' }));
    assert.equal(mock.commandCalls(RunInstancesCommand)[0].args[0].input.ImageId, 'ami-0fedcba9876543210');
    assert.deepEqual(report.notes, ['The AMI /aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64 is ami-0fedcba9876543210 today.']);
  });

  test('explains an SSM path that does not exist', async (t) => {
    const { ssm, mock } = mockedSsm(t);
    mock.on(GetParameterCommand).rejects(new SSMServiceException({ name: 'ParameterNotFound', $fault: 'client', $metadata: {}, message: '' }));
    await assert.rejects(resolveAmi(ssm, '/aws/service/nope'), /Find the AMI \/aws\/service\/nope failed: no such SSM parameter in this region/);
    assert.equal(await resolveAmi(ssm, 'ami-0123456789abcdef0'), 'ami-0123456789abcdef0');
  });

  test('creates a missing placement group with the cluster strategy, and sizes the root volume from the AMI', async (t) => {
    const { clients, mock, launched } = launchMocks(t);
    mock.on(DescribePlacementGroupsCommand).rejects(ec2Error('InvalidPlacementGroup.Unknown', "The Placement Group 'tight' is unknown."));
    mock.on(CreatePlacementGroupCommand).resolves({});
    mock.on(DescribeImagesCommand).resolves({ Images: [{ ImageId: 'ami-0123456789abcdef0', RootDeviceName: '/dev/xvda' }] });
    mock.on(RunInstancesCommand).callsFake(async (input: RunInstancesCommandInput) => launched(input));
    const report = await launchNodes(clients, spec({ placementGroup: 'tight', rootVolumeGiB: 200 }));
    assert.deepEqual(mock.commandCalls(CreatePlacementGroupCommand)[0].args[0].input, { GroupName: 'tight', Strategy: 'cluster' });
    assert.deepEqual(report.notes, ['Created the placement group tight (cluster strategy).']);
    const input = mock.commandCalls(RunInstancesCommand)[0].args[0].input;
    assert.deepEqual(input.Placement, { GroupName: 'tight' });
    assert.deepEqual(input.BlockDeviceMappings, [{ DeviceName: '/dev/xvda', Ebs: { VolumeSize: 200, VolumeType: 'gp3', DeleteOnTermination: true } }]);
  });

  test('uses an existing placement group as it is', async (t) => {
    const { clients, mock, launched } = launchMocks(t);
    mock.on(DescribePlacementGroupsCommand).resolves({ PlacementGroups: [{ GroupName: 'tight', Strategy: 'cluster' }] });
    mock.on(RunInstancesCommand).callsFake(async (input: RunInstancesCommandInput) => launched(input));
    const report = await launchNodes(clients, spec({ placementGroup: 'tight' }));
    assert.equal(mock.commandCalls(CreatePlacementGroupCommand).length, 0);
    assert.deepEqual(report.notes, []);
  });
});

describe('runInstancesInput', () => {
  const target = { imageId: 'ami-0123456789abcdef0', instanceType: 'c6i.4xlarge', subnet: 'subnet-aaaaaaaa', count: 4, role: 'compute' as const };

  test('asks for a one-time spot request for terminate, persistent for stop and hibernate', () => {
    const one = runInstancesInput(spec({ spot: { interruptionBehavior: 'terminate' } }), target);
    assert.deepEqual(one.InstanceMarketOptions, { MarketType: 'spot', SpotOptions: { SpotInstanceType: 'one-time', InstanceInterruptionBehavior: 'terminate' } });
    const stop = runInstancesInput(spec({ spot: { interruptionBehavior: 'stop', maxPrice: 0.25 } }), target);
    assert.deepEqual(stop.InstanceMarketOptions, { MarketType: 'spot', SpotOptions: { SpotInstanceType: 'persistent', InstanceInterruptionBehavior: 'stop', MaxPrice: '0.25' } });
    assert.equal(runInstancesInput(spec(), target).InstanceMarketOptions, undefined, 'no spot key: on-demand');
  });

  test('tags nodes and volumes with the cluster and role, over the user tags, and sets what the file gives', () => {
    const input = runInstancesInput(
      spec({
        securityGroups: ['sg-aaaaaaaa'],
        instanceProfile: 'research-node',
        userData: '#!/bin/sh\necho hi\n',
        tags: { Project: 'zebrafish', 'research-cloud:cluster': 'wrong' },
      }),
      target,
    );
    const tags = Object.fromEntries(input.TagSpecifications![0].Tags!.map((t) => [t.Key, t.Value]));
    assert.deepEqual(tags, { Name: 'genomics-compute', Project: 'zebrafish', 'research-cloud:cluster': 'genomics', 'research-cloud:role': 'compute' });
    assert.deepEqual(input.TagSpecifications!.map((s) => s.ResourceType), ['instance', 'volume']);
    assert.deepEqual(input.IamInstanceProfile, { Name: 'research-node' });
    assert.deepEqual(input.SecurityGroupIds, ['sg-aaaaaaaa']);
    assert.equal(Buffer.from(input.UserData!, 'base64').toString(), '#!/bin/sh\necho hi\n');
    assert.deepEqual([input.MinCount, input.MaxCount, input.SubnetId, input.InstanceType], [1, 4, 'subnet-aaaaaaaa', 'c6i.4xlarge']);
    assert.deepEqual(input.MetadataOptions, { HttpTokens: 'required', HttpEndpoint: 'enabled' });
    assert.ok(input.ClientToken);
    assert.deepEqual(runInstancesInput(spec({ instanceProfile: 'arn:aws:iam::123456789012:instance-profile/x' }), target).IamInstanceProfile, { Arn: 'arn:aws:iam::123456789012:instance-profile/x' });
  });

  test('launches from a launch template, keeping its metadata settings', () => {
    const input = runInstancesInput(spec({ ami: undefined, instanceTypes: undefined, launchTemplate: { name: 'hpc-node', version: '$Latest' } }), { count: 2, role: 'compute' });
    assert.deepEqual(input.LaunchTemplate, { LaunchTemplateName: 'hpc-node', Version: '$Latest' });
    assert.equal(input.ImageId, undefined);
    assert.equal(input.InstanceType, undefined);
    assert.equal(input.MetadataOptions, undefined);
  });
});

describe('scale to N', () => {
  const compute = (instanceId: string, hoursAgo: number, state: 'running' | 'stopped' | 'terminated' = 'running') =>
    clusterNode({ instanceId, state, launchTime: new Date(Date.UTC(2026, 2, 2, 12 - hoursAgo)), cluster: { name: 'genomics', kind: 'tagged' }, role: 'compute' });
  const head = clusterNode({ instanceId: 'i-head', launchTime: new Date(Date.UTC(2026, 2, 2, 11)), cluster: { name: 'genomics', kind: 'tagged' }, role: 'head' });
  const [group] = groupNodes([head, compute('i-old', 5), compute('i-mid', 3, 'stopped'), compute('i-new', 1), compute('i-gone', 0, 'terminated')]);

  test('removes the newest compute nodes, never the head node, and counts no terminated node', () => {
    const plan = planScale(group, 1);
    assert.deepEqual([plan.current, plan.add], [3, 0]);
    assert.deepEqual(plan.remove.map((n) => n.instanceId), ['i-new', 'i-mid']);
    assert.deepEqual(planScale(group, 0).remove.map((n) => n.instanceId), ['i-new', 'i-mid', 'i-old']);
    assert.deepEqual([planScale(group, 5).add, planScale(group, 5).remove.length], [2, 0]);
  });

  test('refuses ParallelCluster clusters, other instances and bad counts', () => {
    const [pc] = groupNodes([clusterNode({ cluster: { name: 'pc', kind: 'parallelcluster' }, role: 'compute' })]);
    assert.throws(() => planScale(pc, 3), /whose scheduler sizes its queues.*pcluster update-cluster/);
    const [other] = groupNodes([clusterNode()]);
    assert.throws(() => planScale(other, 3), /Only a cluster can be scaled/);
    assert.throws(() => planScale(group, -1), /whole number of 0 or more/);
  });

  test('adds nodes from the cluster file, tagged as compute', async (t) => {
    const { clients, mock, launched } = launchMocks(t);
    mock.on(RunInstancesCommand).callsFake(async (input: RunInstancesCommandInput) => launched(input));
    const result = await scaleCluster(clients, group, spec({ count: 10 }), 5);
    assert.equal(result.launched?.requested, 2);
    const tags = mock.commandCalls(RunInstancesCommand)[0].args[0].input.TagSpecifications![0].Tags!;
    assert.ok(tags.some((tag) => tag.Key === 'research-cloud:role' && tag.Value === 'compute'));
  });

  test('terminates the newest compute nodes to scale down', async (t) => {
    const { clients, mock } = launchMocks(t);
    mock.on(TerminateInstancesCommand).callsFake(async (input: { InstanceIds: string[] }) => ({ TerminatingInstances: input.InstanceIds.map((id) => stateChange(id, 'running', 'shutting-down')) }));
    const result = await scaleCluster(clients, group, spec(), 2);
    assert.deepEqual(mock.commandCalls(TerminateInstancesCommand)[0].args[0].input.InstanceIds, ['i-new']);
    assert.deepEqual(result.terminated?.map((o) => o.status), ['done']);
  });

  test('refuses the file of another cluster', async (t) => {
    const { clients } = launchMocks(t);
    await assert.rejects(scaleCluster(clients, group, spec({ name: 'atlas' }), 2), /describes the cluster atlas, not genomics/);
  });
});

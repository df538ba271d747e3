// Whether an instance can take a session, and the sentences that say what is missing: the pure
// verdict for every branch, then the EC2 and SSM calls that gather the facts, shaped with
// aws-sdk-client-mock.
import assert from 'node:assert/strict';
import { after, afterEach, describe, test } from 'node:test';
import { DescribeInstancesCommand, EC2Client, EC2ServiceException, type Instance } from '@aws-sdk/client-ec2';
import { DescribeInstanceInformationCommand, SSMClient, SSMServiceException } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import { Connection } from '../../src/aws/connection';
import {
  assessReadiness,
  checkReadiness,
  compareVersions,
  listRunningNodes,
  type AgentStatus,
  type NodeSummary,
  type ReadinessFacts,
} from '../../src/ssm/readiness';
import { tempAwsDir } from '../fixtures/aws-env';
import { FAKE_CREDENTIALS, sendOptions } from '../fixtures/s3';

const ID = 'i-0123456789abcdef0';
const NOW = new Date('2026-11-26T12:00:00Z');
const HOUR_AGO = new Date(NOW.getTime() - 3_600_000);

function node(fields: Partial<NodeSummary> = {}): NodeSummary {
  return {
    id: ID,
    name: 'analysis-node',
    type: 't3.large',
    availabilityZone: 'eu-west-1a',
    state: 'running',
    spot: false,
    launchTime: HOUR_AGO,
    instanceProfileArn: 'arn:aws:iam::123456789012:instance-profile/research-node',
    privateIp: '10.0.1.23',
    ...fields,
  };
}

function agent(fields: Partial<AgentStatus> = {}): AgentStatus {
  return { pingStatus: 'Online', lastPing: NOW, agentVersion: '3.3.987.0', ...fields };
}

function assess(facts: Partial<ReadinessFacts>) {
  return assessReadiness({ target: ID, region: 'eu-west-1', purpose: 'shell', node: node(), agent: agent(), now: NOW, ...facts });
}

describe('assessReadiness', () => {
  test('a running instance with its agent online is ready, with nothing to say', () => {
    assert.deepEqual(assess({}), { ready: true, causes: [], mayTryAnyway: false, notes: [] });
  });

  test('an instance EC2 does not know: another region, or terminated long ago; no point trying', () => {
    const r = assess({ node: 'not-found', agent: 'not-registered' });
    assert.equal(r.ready, false);
    assert.equal(r.mayTryAnyway, false);
    assert.match(r.problem ?? '', /no instance i-0123456789abcdef0 in eu-west-1/);
    assert.match(r.causes.join(' '), /another region: switch region from the Research Cloud status bar/);
  });

  for (const [state, advice] of [
    ['stopped', /Start it first/],
    ['stopping', /Start it first/],
    ['pending', /try again in a minute/],
    ['terminated', /cannot be started again/],
  ] as const) {
    test(`a ${state} instance is named and the way forward given, without "connect anyway"`, () => {
      const r = assess({ node: node({ state }), agent: 'not-registered' });
      assert.equal(r.ready, false);
      assert.equal(r.mayTryAnyway, false);
      assert.equal(r.problem, `analysis-node (${ID}) is ${state}, not running.`);
      assert.match(r.causes[0], advice);
    });
  }

  test('an agent that never registered on a node without instance profile: the profile first, then agent and network', () => {
    const r = assess({ node: node({ instanceProfileArn: undefined }), agent: 'not-registered' });
    assert.equal(r.ready, false);
    assert.equal(r.mayTryAnyway, true, 'the agent may register any moment');
    assert.match(r.problem ?? '', /SSM Agent on analysis-node \(i-0123456789abcdef0\) has not registered with Systems Manager/);
    assert.equal(r.causes.length, 3);
    assert.match(r.causes[0], /no instance profile.*AmazonSSMManagedInstanceCore.*Ask your administrator.*does not change IAM/);
    assert.match(r.causes[1], /not be installed or not running.*Rocky, Debian.*systemctl enable --now amazon-ssm-agent/);
    assert.match(r.causes[2], /ssm\.eu-west-1\.amazonaws\.com, ssmmessages\.eu-west-1\.amazonaws\.com and ec2messages\.eu-west-1\.amazonaws\.com/);
    assert.match(r.causes[2], /no public IP address, so its subnet needs a NAT gateway or interface VPC endpoints/);
  });

  test('with an instance profile, its name is given as the thing to check; a public address changes the network advice', () => {
    const r = assess({ node: node({ publicIp: '3.3.3.3' }), agent: 'not-registered' });
    assert.match(r.causes[0], /Its instance profile \(research-node\) may lack the AmazonSSMManagedInstanceCore policy/);
    assert.match(r.causes[2], /a route to an internet gateway/);
    assert.doesNotMatch(r.causes[2], /no public IP/);
  });

  test('a node launched two minutes ago is told to wait: agents register within minutes of boot', () => {
    const r = assess({ node: node({ launchTime: new Date(NOW.getTime() - 120_000) }), agent: 'not-registered' });
    assert.match(r.problem ?? '', /started 2 min ago and its SSM Agent has not registered with Systems Manager yet/);
    assert.equal(r.mayTryAnyway, true);
  });

  test('an agent that lost its connection: when it was last heard from, and what stops agents', () => {
    const r = assess({ agent: agent({ pingStatus: 'ConnectionLost', lastPing: new Date(NOW.getTime() - 600_000) }) });
    assert.equal(r.ready, false);
    assert.equal(r.mayTryAnyway, true);
    assert.match(r.problem ?? '', /lost its connection to Systems Manager \(last heard from 10 min ago\)/);
    assert.match(r.causes.join(' '), /Rebooting the instance restarts the agent/);
    assert.match(r.causes.join(' '), /NAT gateway or interface VPC endpoints/);
  });

  test('an inactive registration', () => {
    const r = assess({ agent: agent({ pingStatus: 'Inactive' }) });
    assert.equal(r.ready, false);
    assert.match(r.problem ?? '', /registered with Systems Manager but inactive/);
  });

  test('checks the profile may not make are skipped with a note, and the session is tried', () => {
    const r = assess({ node: { unchecked: 'profile "lab" may not call ec2:DescribeInstances' }, agent: { unchecked: 'profile "lab" may not call ssm:DescribeInstanceInformation' } });
    assert.equal(r.ready, true);
    assert.deepEqual(r.notes, [
      `Did not check that ${ID} is running: profile "lab" may not call ec2:DescribeInstances.`,
      'Did not check its SSM Agent: profile "lab" may not call ssm:DescribeInstanceInformation.',
    ]);
  });

  test('a managed node outside EC2 is judged by its agent alone', () => {
    const r = assess({ target: 'mi-0123456789abcdef0', node: { unchecked: 'it is not an EC2 instance' }, agent: 'not-registered' });
    assert.equal(r.ready, false);
    assert.match(r.problem ?? '', /SSM Agent on mi-0123456789abcdef0 has not registered/);
    assert.match(r.causes[0], /Its instance profile may lack/);
  });

  test('an agent too old for port forwarding is ready with a note naming the version needed', () => {
    const r = assess({ purpose: 'port-forward', agent: agent({ agentVersion: '2.3.1319.0' }) });
    assert.equal(r.ready, true);
    assert.match(r.notes[0], /Port forwarding needs SSM Agent 3\.0\.222\.0 or later; analysis-node \(i-0123456789abcdef0\) has 2\.3\.1319\.0/);
    assert.deepEqual(assess({ purpose: 'shell', agent: agent({ agentVersion: '2.3.1319.0' }) }).notes, []);
  });
});

test('compareVersions compares dotted numbers, not strings', () => {
  assert.equal(compareVersions('3.0.222.0', '3.0.222.0'), 0);
  assert.equal(compareVersions('2.3.1319.0', '3.0.222.0'), -1);
  assert.equal(compareVersions('3.10.1.0', '3.9.9.9'), 1);
  assert.equal(compareVersions('3.1', '3.1.0.0'), 0);
});

describe('the calls behind the checks', () => {
  const ec2 = mockClient(EC2Client);
  const ssm = mockClient(SSMClient);
  const aws = tempAwsDir({ config: '' });
  const connection = new Connection({ region: 'eu-west-1' }, { ...aws.env, AWS_ACCESS_KEY_ID: FAKE_CREDENTIALS.accessKeyId, AWS_SECRET_ACCESS_KEY: FAKE_CREDENTIALS.secretAccessKey });

  afterEach(() => {
    ec2.reset();
    ssm.reset();
  });
  after(() => {
    ec2.restore();
    ssm.restore();
    connection.dispose();
    aws.remove();
  });

  const instance = (id: string, fields: Partial<Instance> = {}): Instance => ({
    InstanceId: id,
    InstanceType: 'c6i.xlarge',
    State: { Code: 16, Name: 'running' },
    Placement: { AvailabilityZone: 'eu-west-1b' },
    LaunchTime: HOUR_AGO,
    ...fields,
  });
  const ec2Error = (name: string) => new EC2ServiceException({ name, $fault: 'client', $metadata: { httpStatusCode: 400 }, message: `${name} happened` });
  const ssmError = (name: string) => new SSMServiceException({ name, $fault: 'client', $metadata: { httpStatusCode: 400 }, message: `${name} happened` });

  test('asks EC2 for the one instance and SSM with a filter on InstanceIds, passing the abort signal', async () => {
    ec2.on(DescribeInstancesCommand).resolves({ Reservations: [{ Instances: [instance(ID, { IamInstanceProfile: { Arn: 'arn:aws:iam::1:instance-profile/p' } })] }] });
    ssm.on(DescribeInstanceInformationCommand).resolves({ InstanceInformationList: [{ InstanceId: ID, PingStatus: 'Online', AgentVersion: '3.3.987.0' }] });
    const controller = new AbortController();
    const r = await checkReadiness(connection, ID, 'shell', controller.signal);
    assert.equal(r.ready, true);
    const [describe] = ec2.commandCalls(DescribeInstancesCommand);
    assert.deepEqual(describe.args[0].input, { InstanceIds: [ID] });
    const [info] = ssm.commandCalls(DescribeInstanceInformationCommand);
    assert.deepEqual(info.args[0].input, { Filters: [{ Key: 'InstanceIds', Values: [ID] }], NextToken: undefined });
    assert.equal(sendOptions(info)?.abortSignal, controller.signal);
    assert.equal(sendOptions(describe)?.abortSignal, controller.signal);
  });

  test('InvalidInstanceID.NotFound means the instance is not there', async () => {
    ec2.on(DescribeInstancesCommand).rejects(ec2Error('InvalidInstanceID.NotFound'));
    ssm.on(DescribeInstanceInformationCommand).resolves({ InstanceInformationList: [] });
    const r = await checkReadiness(connection, ID, 'shell');
    assert.equal(r.ready, false);
    assert.match(r.problem ?? '', /no instance i-0123456789abcdef0 in eu-west-1/);
  });

  test('an agent missing from the list has not registered; the instance\'s facts shape the causes', async () => {
    ec2.on(DescribeInstancesCommand).resolves({ Reservations: [{ Instances: [instance(ID)] }] });
    ssm.on(DescribeInstanceInformationCommand).resolves({ InstanceInformationList: [] });
    const r = await checkReadiness(connection, ID, 'shell');
    assert.equal(r.ready, false);
    assert.match(r.causes[0], /no instance profile/);
  });

  test('access denied on either call skips that check with a note instead of blocking', async () => {
    ec2.on(DescribeInstancesCommand).rejects(ec2Error('UnauthorizedOperation'));
    ssm.on(DescribeInstanceInformationCommand).rejects(ssmError('AccessDeniedException'));
    const r = await checkReadiness(connection, ID, 'shell');
    assert.equal(r.ready, true);
    assert.match(r.notes.join(' '), /may not call ec2:DescribeInstances.*may not call ssm:DescribeInstanceInformation/);
  });

  test('other failures (expired credentials) are errors with the operation and the fix', async () => {
    ec2.on(DescribeInstancesCommand).resolves({ Reservations: [{ Instances: [instance(ID)] }] });
    ssm.on(DescribeInstanceInformationCommand).rejects(ssmError('ExpiredTokenException'));
    await assert.rejects(checkReadiness(connection, ID, 'shell'), /Check the SSM Agent of i-0123456789abcdef0 failed: the credentials of profile "default" have expired/);
  });

  test('a managed node (mi-) is not looked up in EC2', async () => {
    ssm.on(DescribeInstanceInformationCommand).resolves({ InstanceInformationList: [{ InstanceId: 'mi-0123456789abcdef0', PingStatus: 'Online' }] });
    const r = await checkReadiness(connection, 'mi-0123456789abcdef0', 'shell');
    assert.equal(r.ready, true);
    assert.equal(ec2.commandCalls(DescribeInstancesCommand).length, 0);
  });

  test('listRunningNodes filters on running, follows NextToken, and lists named nodes first', async () => {
    ec2.on(DescribeInstancesCommand, { NextToken: undefined }).resolves({
      Reservations: [{ Instances: [instance('i-00000000000000003'), instance('i-00000000000000002', { Tags: [{ Key: 'Name', Value: 'zeta' }] })] }],
      NextToken: 'page-2',
    });
    ec2.on(DescribeInstancesCommand, { NextToken: 'page-2' }).resolves({
      Reservations: [{ Instances: [instance('i-00000000000000001', { Tags: [{ Key: 'Name', Value: 'alpha' }], InstanceLifecycle: 'spot', PublicIpAddress: '3.3.3.3' })] }],
    });
    const nodes = await listRunningNodes(connection);
    assert.deepEqual(nodes.map((n) => n.name ?? n.id), ['alpha', 'zeta', 'i-00000000000000003']);
    assert.deepEqual(nodes[0], {
      id: 'i-00000000000000001',
      name: 'alpha',
      type: 'c6i.xlarge',
      availabilityZone: 'eu-west-1b',
      state: 'running',
      spot: true,
      launchTime: HOUR_AGO,
      instanceProfileArn: undefined,
      publicIp: '3.3.3.3',
      privateIp: undefined,
    });
    const calls = ec2.commandCalls(DescribeInstancesCommand);
    assert.equal(calls.length, 2);
    assert.deepEqual(calls[0].args[0].input.Filters, [{ Name: 'instance-state-name', Values: ['running'] }]);
  });
});

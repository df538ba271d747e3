// The cluster code against the local EC2 endpoint (test/harness/ec2-server.mjs), reached only
// through the Connection and AWS_ENDPOINT_URL_EC2, as the extension reaches AWS: the EC2
// client's own serializers and XML deserializers meet the server's replies.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { DescribeInstancesCommand, EC2Client, StartInstancesCommand, StopInstancesCommand } from '@aws-sdk/client-ec2';
import { Connection } from '../../src/aws/connection';
import type { ClusterNode } from '../../src/cluster/model';
import { ClusterService, type ClusterSnapshot } from '../../src/cluster/service';
import { tempAwsDir, type TempAwsDir } from '../fixtures/aws-env';
import { closedPort } from '../fixtures/s3';
import { SAMPLE_INSTANCE_ID, startEc2Server } from '../harness/ec2-server.mjs';

type Ec2Server = Awaited<ReturnType<typeof startEc2Server>>;

const TRANSITION_MS = 150;

describe('cluster code against the local EC2 endpoint', () => {
  let aws: TempAwsDir;
  let cacheDir: string;
  let ec2: Ec2Server;
  let connection: Connection;
  let service: ClusterService;

  before(async () => {
    aws = tempAwsDir({ config: '' });
    cacheDir = mkdtempSync(join(tmpdir(), 'research-cloud-cache-'));
    ec2 = await startEc2Server({ cluster: { name: 'genomics' }, transitionMs: TRANSITION_MS });
    connection = new Connection({}, {
      ...aws.env,
      AWS_ENDPOINT_URL_EC2: ec2.endpoint,
      // No local Pricing API: prices of on-demand nodes are reported as unavailable, at once.
      AWS_ENDPOINT_URL_PRICING: `http://127.0.0.1:${await closedPort()}`,
      AWS_REGION: ec2.region,
      AWS_ACCESS_KEY_ID: ec2.accessKeyId,
      AWS_SECRET_ACCESS_KEY: ec2.secretAccessKey,
    });
    service = new ClusterService(connection, { cacheDir });
  });

  after(async () => {
    connection?.dispose();
    await ec2?.stop();
    aws?.remove();
    rmSync(cacheDir, { recursive: true, force: true });
  });

  const byId = (snapshot: ClusterSnapshot, id: string): ClusterNode => snapshot.nodes.find((n) => n.instanceId === id)!;
  const settle = () => new Promise((resolve) => setTimeout(resolve, TRANSITION_MS * 3));

  test('the EC2 client reads the cluster from DescribeInstances and StopInstances changes its state', async () => {
    const client = await connection.client(EC2Client, 'ec2');
    const reply = await client.send(new DescribeInstancesCommand({}));
    const instances = reply.Reservations!.flatMap((r) => r.Instances!);
    assert.equal(instances.length, 5);
    const persistent = ec2.cluster!.compute.find((c) => c.requestType === 'persistent')!.id;
    const node = instances.find((i) => i.InstanceId === persistent)!;
    assert.deepEqual([node.InstanceLifecycle, node.InstanceType, node.State?.Name, node.Placement?.AvailabilityZone], ['spot', 'c5.2xlarge', 'running', 'us-east-1a']);
    assert.ok(node.Tags!.some((t) => t.Key === 'parallelcluster:node-type' && t.Value === 'Compute'));

    const stopped = await client.send(new StopInstancesCommand({ InstanceIds: [persistent] }));
    assert.deepEqual(stopped.StoppingInstances?.map((c) => [c.PreviousState?.Name, c.CurrentState?.Name]), [['running', 'stopping']]);
    await settle();
    const after = await client.send(new DescribeInstancesCommand({ InstanceIds: [persistent] }));
    assert.equal(after.Reservations![0].Instances![0].State?.Name, 'stopped');

    const started = await client.send(new StartInstancesCommand({ InstanceIds: [persistent] }));
    assert.deepEqual(started.StartingInstances?.map((c) => [c.PreviousState?.Name, c.CurrentState?.Name]), [['stopped', 'pending']]);
    await settle();
    const again = await client.send(new DescribeInstancesCommand({ InstanceIds: [persistent] }));
    assert.equal(again.Reservations![0].Instances![0].State?.Name, 'running');
  });

  test('a snapshot groups the ParallelCluster nodes, reads their spot requests and spot prices', async () => {
    const snapshot = await service.snapshot();
    assert.deepEqual(
      snapshot.groups.map((g) => [g.label, g.roles.map((r) => `${r.label}: ${r.nodes.length}`)]),
      [
        ['genomics', ['Head node: 1', 'Compute (queue spot): 3']],
        ['Other instances', ['Instances: 1']],
      ],
    );
    const compute = snapshot.groups[0].roles[1].nodes;
    assert.deepEqual(compute.map((n) => [n.spot?.requestType, n.spot?.interruptionBehavior, n.state]), [
      ['one-time', 'terminate', 'running'],
      ['one-time', 'terminate', 'running'],
      ['persistent', 'stop', 'running'],
    ]);
    for (const node of compute) {
      assert.equal(node.price?.market, 'spot');
      assert.ok(node.price!.perHour > 0.12 && node.price!.perHour < 0.14, `the latest spot price of ${node.availabilityZone}, not the older one`);
    }
    assert.equal(byId(snapshot, SAMPLE_INSTANCE_ID).price, undefined, 'no Pricing API here');
    assert.equal(snapshot.problems.length, 1);
    assert.match(snapshot.problems[0].message, /^Read on-demand prices of us-east-1 failed: cannot reach/);
  });

  test('stopping the compute nodes stops the persistent one and skips the one-time ones, saying why', async () => {
    const compute = (await service.snapshot()).groups[0].roles[1].nodes;
    const outcomes = await service.act('stop', compute);
    assert.deepEqual(outcomes.map((o) => [o.status, o.state]), [['skipped', undefined], ['skipped', undefined], ['done', 'stopping']]);
    assert.match(outcomes[0].message!, /one-time spot instance/);
    await settle();
    assert.equal(byId(await service.snapshot(), compute[2].instanceId).state, 'stopped');
    const [started] = await service.act('start', [byId(await service.snapshot(), compute[2].instanceId)]);
    assert.deepEqual([started.status, started.state], ['done', 'pending']);
    await settle();
  });

  test("EC2's UnsupportedOperation reaches the user as a sentence", async () => {
    const oneTime = ec2.cluster!.compute.find((c) => c.requestType === 'one-time')!.id;
    const node = byId(await service.snapshot(), oneTime);
    // As if its spot request could not be read: the rules let it through and EC2 refuses.
    const [outcome] = await service.act('stop', [{ ...node, spot: { requestId: node.spot?.requestId } }]);
    assert.deepEqual([outcome.status, outcome.code], ['failed', 'UnsupportedOperation']);
    assert.match(outcome.message!, /a one-time spot instance can only be terminated\. \(UnsupportedOperation\)$/);
  });

  test('a spot interruption is noticed between two snapshots, once', async () => {
    const oneTime = ec2.cluster!.compute.find((c) => c.requestType === 'one-time')!.id;
    await service.snapshot();
    ec2.interrupt(oneTime);
    await settle();
    const snapshot = await service.snapshot();
    assert.deepEqual(snapshot.notices.map((n) => [n.kind, n.node.instanceId]), [['spot-interruption', oneTime]]);
    assert.match(snapshot.notices[0].message, /^AWS terminated the spot node spot-dy-c5-\d \(i-[0-9a-f]+\) of genomics to reclaim capacity/);
    assert.equal(byId(snapshot, oneTime).state, 'terminated');
    assert.deepEqual((await service.snapshot()).notices, []);
  });

  test('terminating the persistent node cancels its spot request first', async () => {
    const persistent = ec2.cluster!.compute.find((c) => c.requestType === 'persistent')!.id;
    const [outcome] = await service.act('terminate', [byId(await service.snapshot(), persistent)]);
    assert.deepEqual([outcome.status, outcome.state], ['done', 'shutting-down']);
    const actions = ec2.calls.map((c: { action: string }) => c.action);
    assert.ok(actions.lastIndexOf('CancelSpotInstanceRequests') < actions.lastIndexOf('TerminateInstances'));
    assert.equal([...ec2.spotRequests.values()].find((r) => r.instanceId === persistent)?.state, 'cancelled');
    await settle();
    assert.equal(byId(await service.snapshot(), persistent).state, 'terminated');
  });
});

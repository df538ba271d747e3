// Finds the user's instances in several regions and turns them into ClusterNodes: cluster and
// role from tags, spot details from the spot requests. A region that fails (not enabled, no
// permission) is reported and the others are still shown.

import {
  DescribeInstancesCommand,
  DescribeSpotInstanceRequestsCommand,
  type EC2Client,
  type Instance,
  type SpotInstanceRequest,
} from '@aws-sdk/client-ec2';
import { isCancellation, throwIfAborted } from '../core/progress';
import { explainEc2Error } from './ec2Errors';
import type { ClusterNode, InterruptionBehavior, SpotInfo, SpotRequestType } from './model';
import { DEFAULT_TAG_KEYS, membership, type TagKeys } from './tags';

/** The EC2 client of a region; in the extension `(r) => connection.client(EC2Client, 'ec2', r)`. */
export type Ec2ClientFor = (region: string) => Promise<EC2Client>;

export interface DiscoverOptions {
  readonly regions: readonly string[];
  readonly tagKeys?: TagKeys;
  /** Named in error messages (credentials, access denied). */
  readonly profile?: string;
  readonly signal?: AbortSignal;
}

/** Something that went wrong in one region; `error` is a sentence for the user. */
export interface DiscoveryProblem {
  readonly region: string;
  readonly error: Error;
}

export interface Discovery {
  readonly nodes: ClusterNode[];
  readonly problems: DiscoveryProblem[];
}

/**
 * All instances of the regions, in every state: terminated ones stay listed by EC2 for about an
 * hour, which is how an interruption (state reason Server.SpotInstanceTermination) is seen.
 */
export async function discoverNodes(ec2For: Ec2ClientFor, options: DiscoverOptions): Promise<Discovery> {
  const perRegion = await Promise.all(options.regions.map((region) => discoverRegion(ec2For, region, options)));
  throwIfAborted(options.signal);
  return { nodes: perRegion.flatMap((r) => r.nodes), problems: perRegion.flatMap((r) => r.problems) };
}

async function discoverRegion(ec2For: Ec2ClientFor, region: string, options: DiscoverOptions): Promise<Discovery> {
  const { signal, profile } = options;
  let ec2: EC2Client;
  let nodes: ClusterNode[];
  try {
    ec2 = await ec2For(region);
    const instances = await describeAllInstances(ec2, signal);
    nodes = instances.flatMap((i) => nodeFromInstance(i, region, options.tagKeys) ?? []);
  } catch (err) {
    if (isCancellation(err)) throw err;
    const error = explainEc2Error(err, { operation: `List EC2 instances in ${region}`, action: 'ec2:DescribeInstances', profile });
    return { nodes: [], problems: [{ region, error }] };
  }
  const requestIds = nodes.flatMap((n) => n.spot?.requestId ?? []);
  if (!requestIds.length) return { nodes, problems: [] };
  try {
    const requests = await describeSpotRequests(ec2, requestIds, signal);
    return { nodes: nodes.map((n) => withSpotRequest(n, requests)), problems: [] };
  } catch (err) {
    if (isCancellation(err)) throw err;
    // The nodes are still worth showing; the lifecycle rules treat unknown spot details cautiously.
    const error = explainEc2Error(err, { operation: `Read the spot requests in ${region}`, action: 'ec2:DescribeSpotInstanceRequests', profile });
    return { nodes, problems: [{ region, error }] };
  }
}

async function describeAllInstances(ec2: EC2Client, signal: AbortSignal | undefined): Promise<Instance[]> {
  const instances: Instance[] = [];
  let NextToken: string | undefined;
  do {
    const page = await ec2.send(new DescribeInstancesCommand({ MaxResults: 1000, NextToken }), { abortSignal: signal });
    for (const reservation of page.Reservations ?? []) instances.push(...(reservation.Instances ?? []));
    NextToken = page.NextToken;
  } while (NextToken);
  return instances;
}

/** Spot requests by id. A filter rather than SpotInstanceRequestIds, which fails whole on one expired id. */
async function describeSpotRequests(
  ec2: EC2Client,
  requestIds: readonly string[],
  signal?: AbortSignal,
): Promise<Map<string, SpotInstanceRequest>> {
  const requests = new Map<string, SpotInstanceRequest>();
  const ids = [...new Set(requestIds)];
  for (let i = 0; i < ids.length; i += 100) {
    const Filters = [{ Name: 'spot-instance-request-id', Values: ids.slice(i, i + 100) }];
    let NextToken: string | undefined;
    do {
      const page = await ec2.send(new DescribeSpotInstanceRequestsCommand({ Filters, MaxResults: 1000, NextToken }), { abortSignal: signal });
      for (const request of page.SpotInstanceRequests ?? []) {
        if (request.SpotInstanceRequestId) requests.set(request.SpotInstanceRequestId, request);
      }
      NextToken = page.NextToken;
    } while (NextToken);
  }
  return requests;
}

/** A node from an instance of a DescribeInstances reply; undefined if the reply lacks its id or state. */
export function nodeFromInstance(instance: Instance, region: string, tagKeys: TagKeys = DEFAULT_TAG_KEYS): ClusterNode | undefined {
  const { InstanceId: instanceId, State } = instance;
  if (!instanceId || !State?.Name) return undefined;
  const tags = Object.fromEntries((instance.Tags ?? []).flatMap((t) => (t.Key ? [[t.Key, t.Value ?? '']] : [])));
  const spot = instance.InstanceLifecycle === 'spot';
  const reason = instance.StateReason;
  return {
    region,
    instanceId,
    ...(tags.Name && { name: tags.Name }),
    instanceType: instance.InstanceType ?? 'unknown',
    state: State.Name,
    market: spot ? 'spot' : 'on-demand',
    ...(spot && { spot: instance.SpotInstanceRequestId ? { requestId: instance.SpotInstanceRequestId } : {} }),
    ...(instance.Placement?.AvailabilityZone && { availabilityZone: instance.Placement.AvailabilityZone }),
    ...(instance.PrivateIpAddress && { privateIp: instance.PrivateIpAddress }),
    ...(instance.LaunchTime && { launchTime: instance.LaunchTime }),
    ...(instance.RootDeviceType && { rootDeviceType: instance.RootDeviceType }),
    ...(reason?.Code && { stateReason: { code: reason.Code, ...(reason.Message && { message: reason.Message }) } }),
    tags,
    ...membership(tags, tagKeys),
  };
}

function withSpotRequest(node: ClusterNode, requests: ReadonlyMap<string, SpotInstanceRequest>): ClusterNode {
  const request = node.spot?.requestId ? requests.get(node.spot.requestId) : undefined;
  if (!request) return node;
  const spot: SpotInfo = {
    ...node.spot,
    ...(request.Type && { requestType: request.Type as SpotRequestType }),
    ...(request.InstanceInterruptionBehavior && { interruptionBehavior: request.InstanceInterruptionBehavior as InterruptionBehavior }),
  };
  return { ...node, spot };
}

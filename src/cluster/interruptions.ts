// Spot interruptions and scheduled events, noticed by comparing two refreshes of the nodes.
// AWS's two-minute warning is only visible from inside the instance (or through EventBridge);
// from outside, an interruption shows as the state reason of the stopped or terminated node.

import { DescribeInstanceStatusCommand, type EC2Client } from '@aws-sdk/client-ec2';
import { isCancellation } from '../core/progress';
import type { Discovery, DiscoveryProblem, Ec2ClientFor } from './discovery';
import { explainEc2Error } from './ec2Errors';
import { nodeLabel, type ClusterNode, type ScheduledEvent } from './model';

/** State reasons EC2 gives a spot node it reclaimed: terminated, or stopped (persistent requests). */
export const SPOT_INTERRUPTION_REASONS: ReadonlySet<string> = new Set(['Server.SpotInstanceTermination', 'Server.SpotInstanceShutdown']);

export interface InterruptionNotice {
  readonly node: ClusterNode;
  readonly kind: 'spot-interruption' | 'scheduled-event';
  readonly event?: ScheduledEvent;
  /** A sentence naming the node (and its cluster). */
  readonly message: string;
}

/**
 * What is new in `after` compared with `before`: nodes that AWS interrupted since, and scheduled
 * events not seen before. A node seen for the first time with an interruption is reported too
 * (so the first refresh tells of an interruption of the last hour); events AWS marks completed
 * or canceled are not.
 */
export function interruptionNotices(before: readonly ClusterNode[], after: readonly ClusterNode[]): InterruptionNotice[] {
  const previous = new Map(before.map((n) => [n.instanceId, n]));
  const notices: InterruptionNotice[] = [];
  for (const node of after) {
    const was = previous.get(node.instanceId);
    const reason = node.stateReason?.code;
    if (reason && SPOT_INTERRUPTION_REASONS.has(reason) && was?.stateReason?.code !== reason) {
      notices.push({ node, kind: 'spot-interruption', message: interruptionMessage(node, reason) });
    }
    const seen = new Set((was?.events ?? []).map(eventKey));
    for (const event of node.events ?? []) {
      if (!seen.has(eventKey(event)) && !/^\[(Completed|Canceled)\]/i.test(event.description ?? '')) {
        notices.push({ node, kind: 'scheduled-event', event, message: eventMessage(node, event) });
      }
    }
  }
  return notices;
}

function interruptionMessage(node: ClusterNode, reason: string): string {
  const what = `${nodeLabel(node)}${node.cluster ? ` of ${node.cluster.name}` : ''}`;
  return reason === 'Server.SpotInstanceShutdown'
    ? `AWS stopped the spot node ${what} to reclaim capacity; its persistent spot request starts it again when capacity returns.`
    : `AWS terminated the spot node ${what} to reclaim capacity (a spot interruption).`;
}

function eventMessage(node: ClusterNode, event: ScheduledEvent): string {
  const when = event.notBefore ? ` from ${event.notBefore.toISOString().slice(0, 16).replace('T', ' ')} UTC` : '';
  const about = event.description ? `: ${event.description}` : '';
  return `${nodeLabel(node)}${node.cluster ? ` of ${node.cluster.name}` : ''} has a scheduled ${event.code}${when}${about}.`;
}

function eventKey(event: ScheduledEvent): string {
  return event.id ?? `${event.code}@${event.notBefore?.toISOString() ?? ''}`;
}

/**
 * The nodes with their scheduled events (DescribeInstanceStatus), region by region. A region
 * whose call fails keeps its nodes without events, and is reported.
 */
export async function withScheduledEvents(
  ec2For: Ec2ClientFor,
  nodes: readonly ClusterNode[],
  options: { profile?: string; signal?: AbortSignal } = {},
): Promise<Discovery> {
  const events = new Map<string, ScheduledEvent[]>();
  const problems: DiscoveryProblem[] = [];
  const running = nodes.filter((n) => n.state === 'running');
  await Promise.all(
    [...new Set(running.map((n) => n.region))].map(async (region) => {
      try {
        const ids = running.filter((n) => n.region === region).map((n) => n.instanceId);
        for (const [id, list] of await describeEvents(await ec2For(region), ids, options.signal)) events.set(id, list);
      } catch (err) {
        if (isCancellation(err)) throw err;
        const error = explainEc2Error(err, { operation: `Read scheduled events in ${region}`, action: 'ec2:DescribeInstanceStatus', profile: options.profile });
        problems.push({ region, error });
      }
    }),
  );
  return { nodes: nodes.map((node) => (events.has(node.instanceId) ? { ...node, events: events.get(node.instanceId)! } : node)), problems };
}

async function describeEvents(ec2: EC2Client, instanceIds: readonly string[], signal?: AbortSignal): Promise<Map<string, ScheduledEvent[]>> {
  const events = new Map<string, ScheduledEvent[]>();
  // The API takes at most 100 ids per call, and then no MaxResults or paging.
  for (let i = 0; i < instanceIds.length; i += 100) {
    const reply = await ec2.send(new DescribeInstanceStatusCommand({ InstanceIds: instanceIds.slice(i, i + 100) }), { abortSignal: signal });
    for (const status of reply.InstanceStatuses ?? []) {
      const list = (status.Events ?? []).flatMap((e) =>
        e.Code ? [{ code: e.Code, ...(e.InstanceEventId && { id: e.InstanceEventId }), ...(e.Description && { description: e.Description }), ...(e.NotBefore && { notBefore: e.NotBefore }) }] : [],
      );
      if (status.InstanceId && list.length) events.set(status.InstanceId, list);
    }
  }
  return events;
}

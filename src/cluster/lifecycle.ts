// Start, stop, reboot and terminate, on one node or many. `allowedActions` says beforehand what
// AWS will accept and what the user should know (spot rules, ParallelCluster's scheduler);
// `runNodeAction` sends the calls in batches and reports each node's outcome.

import {
  CancelSpotInstanceRequestsCommand,
  RebootInstancesCommand,
  StartInstancesCommand,
  StopInstancesCommand,
  TerminateInstancesCommand,
  type EC2Client,
  type InstanceStateChange,
} from '@aws-sdk/client-ec2';
import { errorCode } from '../aws/errors';
import { isCancellation, throwIfAborted, type ProgressSink } from '../core/progress';
import type { Ec2ClientFor } from './discovery';
import { explainEc2Error } from './ec2Errors';
import { nodeLabel, type ClusterNode } from './model';

export type NodeAction = 'start' | 'stop' | 'reboot' | 'terminate';

export const NODE_ACTIONS: readonly NodeAction[] = ['start', 'stop', 'reboot', 'terminate'];

export interface ActionRule {
  readonly action: NodeAction;
  readonly allowed: boolean;
  /** Why not, when it is not allowed. */
  readonly reason?: string;
  /** What to know before doing it, when it is allowed. */
  readonly warning?: string;
  /** What to offer instead, when it is not allowed and something else is. */
  readonly instead?: NodeAction;
}

/** Each action with whether AWS will accept it for this node now, and why (not). */
export function allowedActions(node: ClusterNode): ActionRule[] {
  return NODE_ACTIONS.map((action) => actionRule(node, action));
}

export function actionRule(node: ClusterNode, action: NodeAction): ActionRule {
  switch (action) {
    case 'start':
      return startRule(node);
    case 'stop':
      return stopRule(node);
    case 'reboot':
      return node.state === 'running' ? allow('reboot') : deny('reboot', `It is ${node.state}; only a running node can be rebooted.`);
    case 'terminate':
      return terminateRule(node);
  }
}

function startRule(node: ClusterNode): ActionRule {
  if (node.state !== 'stopped') return deny('start', `It is ${node.state}; only a stopped node can be started.`);
  if (node.spot && node.stateReason?.code === 'Server.SpotInstanceShutdown') {
    return deny('start', 'AWS stopped this spot node to reclaim capacity; its persistent spot request starts it again when capacity is back.');
  }
  return allow('start');
}

/** Why AWS can never stop this node, whatever its state; undefined if it can. */
export function neverStoppable(node: ClusterNode): string | undefined {
  if (node.rootDeviceType === 'instance-store') return 'Its root volume is an instance store, which cannot be stopped; it can only be terminated.';
  if (node.spot?.requestType === 'one-time') {
    return 'It is a one-time spot instance: AWS can only stop spot instances launched from a persistent spot request. Terminate it instead (its root volume is deleted unless it was set to be kept).';
  }
  return undefined;
}

/** How to stop paying for a node: stop it, or terminate it when AWS cannot stop it. */
export function stopOrTerminate(node: ClusterNode): 'stop' | 'terminate' {
  return neverStoppable(node) ? 'terminate' : 'stop';
}

function stopRule(node: ClusterNode): ActionRule {
  if (node.state !== 'running') return deny('stop', `It is ${node.state}; only a running node can be stopped.`);
  const never = neverStoppable(node);
  if (never) return deny('stop', never, 'terminate');
  const warnings: string[] = [];
  if (node.spot && !node.spot.requestType) {
    warnings.push('Its spot request could not be read; if it is one-time, AWS will refuse to stop it.');
  }
  if (node.cluster?.kind === 'parallelcluster' && node.role === 'compute') warnings.push(schedulerWarning(node, 'stopping'));
  if (node.cluster?.kind === 'parallelcluster' && node.role === 'head') {
    warnings.push(`Stop the compute fleet of ${node.cluster.name} first (pcluster update-compute-fleet --status STOP_REQUESTED), or its jobs fail.`);
  }
  return allow('stop', warnings);
}

function terminateRule(node: ClusterNode): ActionRule {
  if (node.state === 'terminated' || node.state === 'shutting-down') return deny('terminate', `It is ${node.state} already.`);
  const warnings = ['Terminating cannot be undone: the node and (unless set otherwise) its root volume are deleted.'];
  if (node.spot?.requestType === 'persistent') {
    // requestType comes from reading the request, so its id is known.
    warnings.push(`Its persistent spot request ${node.spot.requestId} is cancelled too, so that it does not launch a replacement.`);
  }
  if (node.cluster?.kind === 'parallelcluster' && node.role === 'compute') warnings.push(schedulerWarning(node, 'terminating'));
  if (node.cluster?.kind === 'parallelcluster' && node.role === 'head') {
    warnings.push(`It is the head node of ${node.cluster.name}: without it the cluster is broken. To remove the cluster, use pcluster delete-cluster.`);
  }
  return allow('terminate', warnings);
}

function schedulerWarning(node: ClusterNode, doing: string): string {
  return `It is a compute node of ParallelCluster ${node.cluster!.name}, whose scheduler manages it: ${doing} it directly makes the cluster replace it, and kills its jobs. Drain it through Slurm (scontrol) or change the queue's size instead.`;
}

function allow(action: NodeAction, warnings: readonly string[] = []): ActionRule {
  return { action, allowed: true, ...(warnings.length && { warning: warnings.join(' ') }) };
}

function deny(action: NodeAction, reason: string, instead?: NodeAction): ActionRule {
  return { action, allowed: false, reason, ...(instead && { instead }) };
}

export interface ActionOutcome {
  readonly node: ClusterNode;
  readonly status: 'done' | 'skipped' | 'failed';
  /** The state EC2 reported after the call, e.g. `stopping`. */
  readonly state?: string;
  /** Why it was skipped or failed, or what else happened, as a sentence. */
  readonly message?: string;
  /** The AWS error code of a failure. */
  readonly code?: string;
}

export interface ActionOptions {
  readonly profile?: string;
  readonly signal?: AbortSignal;
  /** After each batch: nodes sent of those allowed. */
  readonly progress?: ProgressSink;
}

const VERB: Readonly<Record<NodeAction, string>> = { start: 'Start', stop: 'Stop', reboot: 'Reboot', terminate: 'Terminate' };
const IAM_ACTION: Readonly<Record<NodeAction, string>> = {
  start: 'ec2:StartInstances',
  stop: 'ec2:StopInstances',
  reboot: 'ec2:RebootInstances',
  terminate: 'ec2:TerminateInstances',
};

/** EC2 fails a whole batch for one instance with these; the batch is then retried node by node. */
const ONE_INSTANCE_CODES = new Set(['IncorrectInstanceState', 'UnsupportedOperation', 'InvalidInstanceID.NotFound', 'OperationNotPermitted']);

const BATCH_SIZE = 50;

/**
 * Applies the action to the nodes, one call per region and batch of 50. Nodes the rules refuse
 * are skipped with the reason and never sent. Outcomes come back in the order of `nodes`.
 * Terminating a node of a persistent spot request cancels the request first.
 */
export async function runNodeAction(
  ec2For: Ec2ClientFor,
  action: NodeAction,
  nodes: readonly ClusterNode[],
  options: ActionOptions = {},
): Promise<ActionOutcome[]> {
  const outcomes = new Map<ClusterNode, ActionOutcome>();
  const byRegion = new Map<string, ClusterNode[]>();
  for (const node of nodes) {
    const rule = actionRule(node, action);
    if (rule.allowed) byRegion.set(node.region, [...(byRegion.get(node.region) ?? []), node]);
    else outcomes.set(node, { node, status: 'skipped', message: `${VERB[action]} ${nodeLabel(node)}: not done. ${rule.reason}` });
  }
  const total = [...byRegion.values()].reduce((n, list) => n + list.length, 0);
  let sent = 0;
  for (const [region, regionNodes] of byRegion) {
    throwIfAborted(options.signal);
    const ec2 = await ec2For(region);
    const notes = action === 'terminate' ? await cancelPersistentRequests(ec2, regionNodes, options) : new Map<ClusterNode, string>();
    for (let i = 0; i < regionNodes.length; i += BATCH_SIZE) {
      const batch = regionNodes.slice(i, i + BATCH_SIZE);
      for (const outcome of await sendBatch(ec2, action, batch, options)) {
        const note = notes.get(outcome.node);
        outcomes.set(outcome.node, note ? { ...outcome, message: [outcome.message, note].filter(Boolean).join(' ') } : outcome);
      }
      sent += batch.length;
      options.progress?.({ bytesDone: 0, itemsDone: sent, itemsTotal: total, message: `${VERB[action]} ${region}` });
    }
  }
  return nodes.map((node) => outcomes.get(node)!);
}

async function sendBatch(ec2: EC2Client, action: NodeAction, batch: readonly ClusterNode[], options: ActionOptions): Promise<ActionOutcome[]> {
  try {
    const changes = await send(ec2, action, batch.map((n) => n.instanceId), options.signal);
    return batch.map((node) => {
      // RebootInstances answers with no states: the node stays running while it reboots.
      const state = changes ? changes.find((c) => c.InstanceId === node.instanceId)?.CurrentState?.Name : node.state;
      return state ? { node, status: 'done', state } : { node, status: 'failed', message: `${VERB[action]} ${nodeLabel(node)}: EC2 did not report it in its reply; refresh to see its state.` };
    });
  } catch (err) {
    if (isCancellation(err)) throw err;
    const code = errorCode(err);
    if (batch.length > 1 && code && ONE_INSTANCE_CODES.has(code)) {
      const outcomes: ActionOutcome[] = [];
      for (const node of batch) outcomes.push(...(await sendBatch(ec2, action, [node], options)));
      return outcomes;
    }
    const operation = batch.length === 1 ? `${VERB[action]} ${nodeLabel(batch[0])}` : `${VERB[action]} ${batch.length} nodes`;
    const error = explainEc2Error(err, { operation, action: IAM_ACTION[action], profile: options.profile });
    return batch.map((node) => ({ node, status: 'failed', message: error.message, ...(code && { code }) }));
  }
}

async function send(ec2: EC2Client, action: NodeAction, InstanceIds: string[], abortSignal?: AbortSignal): Promise<InstanceStateChange[] | undefined> {
  switch (action) {
    case 'start':
      return (await ec2.send(new StartInstancesCommand({ InstanceIds }), { abortSignal })).StartingInstances ?? [];
    case 'stop':
      return (await ec2.send(new StopInstancesCommand({ InstanceIds }), { abortSignal })).StoppingInstances ?? [];
    case 'terminate':
      return (await ec2.send(new TerminateInstancesCommand({ InstanceIds }), { abortSignal })).TerminatingInstances ?? [];
    case 'reboot':
      await ec2.send(new RebootInstancesCommand({ InstanceIds }), { abortSignal });
      return undefined;
  }
}

/**
 * A persistent spot request whose instance is terminated launches a new one, so termination
 * cancels it first. A failure to cancel does not stop the termination; it becomes a note on the
 * node's outcome, because the user should know a replacement may appear.
 */
async function cancelPersistentRequests(ec2: EC2Client, nodes: readonly ClusterNode[], options: ActionOptions): Promise<Map<ClusterNode, string>> {
  const notes = new Map<ClusterNode, string>();
  const persistent = nodes.filter((n) => n.spot?.requestType === 'persistent' && n.spot.requestId);
  if (!persistent.length) return notes;
  try {
    const reply = await ec2.send(
      new CancelSpotInstanceRequestsCommand({ SpotInstanceRequestIds: persistent.map((n) => n.spot!.requestId!) }),
      { abortSignal: options.signal },
    );
    const cancelled = new Set((reply.CancelledSpotInstanceRequests ?? []).map((r) => r.SpotInstanceRequestId));
    for (const node of persistent) {
      if (!cancelled.has(node.spot!.requestId)) notes.set(node, `Its spot request ${node.spot!.requestId} was not cancelled and may launch a replacement.`);
    }
  } catch (err) {
    if (isCancellation(err)) throw err;
    const error = explainEc2Error(err, { operation: 'Cancel the persistent spot requests', action: 'ec2:CancelSpotInstanceRequests', profile: options.profile });
    for (const node of persistent) notes.set(node, `${error.message} It may launch a replacement.`);
  }
  return notes;
}

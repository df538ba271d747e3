// "Scale to N": adds compute nodes from the cluster's file, or terminates the newest compute
// nodes. Head and login nodes are never counted or removed. ParallelCluster clusters are left
// to their own scheduler, which would replace or strand nodes changed behind its back.

import { UserError } from '../aws/errors';
import type { ClusterSpec } from './clusterFile';
import type { NodeGroup } from './grouping';
import { launchNodes, type LaunchClients, type LaunchOptions, type LaunchReport } from './launch';
import { runNodeAction, type ActionOutcome } from './lifecycle';
import type { ClusterNode } from './model';

export interface ScalePlan {
  /** Compute nodes now, in any state but terminated or shutting down. */
  readonly current: number;
  readonly target: number;
  readonly add: number;
  /** The newest compute nodes, to terminate. */
  readonly remove: readonly ClusterNode[];
}

export interface ScaleResult {
  readonly plan: ScalePlan;
  readonly launched?: LaunchReport;
  readonly terminated?: readonly ActionOutcome[];
}

/** What scaling to `target` compute nodes would do; throws a UserError for clusters it cannot scale. */
export function planScale(group: NodeGroup, target: number): ScalePlan {
  if (group.kind === 'parallelcluster') {
    throw new UserError(
      `${group.label} is an AWS ParallelCluster cluster, whose scheduler sizes its queues. Change the queue's MinCount and MaxCount in its configuration and run pcluster update-cluster.`,
      'ParallelClusterScaling',
    );
  }
  if (group.kind === 'other') throw new UserError('Only a cluster can be scaled; these instances belong to none.', 'NotACluster');
  if (!Number.isInteger(target) || target < 0) throw new UserError(`Scale ${group.label}: the number of compute nodes must be a whole number of 0 or more, not ${target}.`, 'InvalidCount');
  const compute = group.nodes.filter((n) => n.role === 'compute' && n.state !== 'terminated' && n.state !== 'shutting-down');
  const newestFirst = [...compute].sort((a, b) => (b.launchTime?.getTime() ?? 0) - (a.launchTime?.getTime() ?? 0));
  return {
    current: compute.length,
    target,
    add: Math.max(0, target - compute.length),
    remove: newestFirst.slice(0, Math.max(0, compute.length - target)),
  };
}

/** Scales the cluster to `target` compute nodes, launching from `spec` (the cluster's file). */
export async function scaleCluster(
  clients: LaunchClients,
  group: NodeGroup,
  spec: ClusterSpec,
  target: number,
  options: Omit<LaunchOptions, 'count' | 'role'> = {},
): Promise<ScaleResult> {
  if (spec.name !== group.label) {
    throw new UserError(`The cluster file describes the cluster ${spec.name}, not ${group.label}; open the file of ${group.label} to scale it.`, 'WrongClusterFile');
  }
  if (spec.region && group.region && spec.region !== group.region) {
    throw new UserError(`The cluster file launches in ${spec.region}, but ${group.label} runs in ${group.region}.`, 'WrongRegion');
  }
  const plan = planScale(group, target);
  if (plan.add) return { plan, launched: await launchNodes(clients, spec, { ...options, count: plan.add, role: 'compute' }) };
  if (plan.remove.length) return { plan, terminated: await runNodeAction(async () => clients.ec2, 'terminate', plan.remove, options) };
  return { plan };
}

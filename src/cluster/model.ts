// The cluster code's picture of an EC2 instance: what the Cluster view shows and what the
// lifecycle rules, prices and guards reason about. Built from DescribeInstances by discovery.ts.

import type { InstanceStateName } from '@aws-sdk/client-ec2';

/** A node's part in its cluster; `node` when no tag says. */
export type NodeRole = 'head' | 'login' | 'compute' | 'node';

/** How a node's cluster was recognised: AWS ParallelCluster's own tags, or the configurable tag. */
export type ClusterKind = 'parallelcluster' | 'tagged';

export type SpotRequestType = 'one-time' | 'persistent';
export type InterruptionBehavior = 'terminate' | 'stop' | 'hibernate';

/** What AWS decides for a spot node; read from its spot request, so unknown if that failed. */
export interface SpotInfo {
  readonly requestId?: string;
  readonly requestType?: SpotRequestType;
  readonly interruptionBehavior?: InterruptionBehavior;
}

/** A scheduled event from DescribeInstanceStatus: maintenance reboots, retirements… */
export interface ScheduledEvent {
  readonly id?: string;
  readonly code: string;
  readonly description?: string;
  readonly notBefore?: Date;
}

/** What a node costs while running, in USD per hour. */
export interface NodePrice {
  readonly perHour: number;
  readonly market: 'spot' | 'on-demand';
  /** The on-demand price of the same type, when known, to show what spot saves. */
  readonly onDemandPerHour?: number;
  /** (on-demand − spot) / on-demand, in whole percent; only for spot nodes. */
  readonly savingsPercent?: number;
}

export interface ClusterNode {
  readonly region: string;
  readonly instanceId: string;
  /** The Name tag. */
  readonly name?: string;
  readonly instanceType: string;
  readonly state: InstanceStateName;
  readonly market: 'spot' | 'on-demand';
  /** Present for spot nodes only. */
  readonly spot?: SpotInfo;
  readonly availabilityZone?: string;
  readonly privateIp?: string;
  /** When the node last started: EC2 resets it on every start after a stop. */
  readonly launchTime?: Date;
  /** Instance-store root volumes cannot be stopped, only terminated. */
  readonly rootDeviceType?: 'ebs' | 'instance-store';
  /** Why the node is in its state, e.g. Server.SpotInstanceTermination after an interruption. */
  readonly stateReason?: { readonly code?: string; readonly message?: string };
  readonly tags: Readonly<Record<string, string>>;
  readonly cluster?: { readonly name: string; readonly kind: ClusterKind };
  readonly role: NodeRole;
  /** The ParallelCluster (Slurm) queue of a compute node. */
  readonly queue?: string;
  /** Attached by cost.ts once prices are known. */
  readonly price?: NodePrice;
  /** Attached by interruptions.ts from DescribeInstanceStatus. */
  readonly events?: readonly ScheduledEvent[];
}

/** States in which EC2 bills the instance itself (stopped nodes cost only their volumes). */
export function isBilled(node: ClusterNode): boolean {
  return node.state === 'running' || node.state === 'pending';
}

/** Seconds since the node last started, while it runs; undefined otherwise. */
export function uptimeSeconds(node: ClusterNode, now: Date = new Date()): number | undefined {
  if (!isBilled(node) || !node.launchTime) return undefined;
  return Math.max(0, (now.getTime() - node.launchTime.getTime()) / 1000);
}

/** `compute-1 (i-0abc…)` or the id alone: how messages name a node. */
export function nodeLabel(node: Pick<ClusterNode, 'name' | 'instanceId'>): string {
  return node.name ? `${node.name} (${node.instanceId})` : node.instanceId;
}

// Nodes grouped the way the Cluster view shows them: each cluster with its head node, login
// nodes and compute nodes (per queue for ParallelCluster), then "Other instances".

import type { ClusterKind, ClusterNode, NodeRole } from './model';

export interface RoleGroup {
  readonly role: NodeRole;
  readonly queue?: string;
  /** "Head node", "Compute (queue gpu)", … */
  readonly label: string;
  readonly nodes: readonly ClusterNode[];
}

export interface NodeGroup {
  /** Stable across refreshes: kind, region and name. */
  readonly id: string;
  readonly kind: ClusterKind | 'other';
  /** The cluster's name, or "Other instances". */
  readonly label: string;
  /** A cluster lives in one region; the same name in two regions makes two clusters. */
  readonly region?: string;
  readonly roles: readonly RoleGroup[];
  readonly nodes: readonly ClusterNode[];
}

export const OTHER_INSTANCES = 'Other instances';

const ROLE_ORDER: readonly NodeRole[] = ['head', 'login', 'compute', 'node'];

/** Clusters by name (then region), "Other instances" last; nodes by name, then id. */
export function groupNodes(nodes: readonly ClusterNode[]): NodeGroup[] {
  const clusters = new Map<string, ClusterNode[]>();
  const others: ClusterNode[] = [];
  for (const node of nodes) {
    if (!node.cluster) {
      others.push(node);
      continue;
    }
    const id = `${node.cluster.kind}:${node.region}:${node.cluster.name}`;
    clusters.set(id, [...(clusters.get(id) ?? []), node]);
  }
  const groups: NodeGroup[] = [...clusters].map(([id, members]) => {
    const { cluster, region } = members[0];
    return { id, kind: cluster!.kind, label: cluster!.name, region, roles: roleGroups(members), nodes: sortNodes(members) };
  });
  groups.sort((a, b) => a.label.localeCompare(b.label) || (a.region ?? '').localeCompare(b.region ?? ''));
  if (others.length) {
    groups.push({ id: 'other', kind: 'other', label: OTHER_INSTANCES, roles: [{ role: 'node', label: 'Instances', nodes: sortNodes(others) }], nodes: sortNodes(others) });
  }
  return groups;
}

function roleGroups(members: readonly ClusterNode[]): RoleGroup[] {
  const byKey = new Map<string, ClusterNode[]>();
  for (const node of members) {
    const key = `${ROLE_ORDER.indexOf(node.role)}:${node.queue ?? ''}`;
    byKey.set(key, [...(byKey.get(key) ?? []), node]);
  }
  return [...byKey]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([, group]) => {
      const { role, queue } = group[0];
      return { role, ...(queue && { queue }), label: roleLabel(role, queue, group.length), nodes: sortNodes(group) };
    });
}

function roleLabel(role: NodeRole, queue: string | undefined, count: number): string {
  switch (role) {
    case 'head':
      return count === 1 ? 'Head node' : 'Head nodes';
    case 'login':
      return count === 1 ? 'Login node' : 'Login nodes';
    case 'compute':
      return queue ? `Compute (queue ${queue})` : 'Compute';
    case 'node':
      return 'Nodes';
  }
}

function sortNodes(nodes: readonly ClusterNode[]): ClusterNode[] {
  return [...nodes].sort((a, b) => (a.name ?? '').localeCompare(b.name ?? '', undefined, { numeric: true }) || a.instanceId.localeCompare(b.instanceId));
}

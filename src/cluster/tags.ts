// Which cluster a node belongs to and what it does there, read from its tags. AWS
// ParallelCluster tags every instance it launches; other clusters (including those launched
// from a research-cluster.yaml) carry a tag whose key the user can choose.

import type { ClusterKind, NodeRole } from './model';

/** The tags AWS ParallelCluster (v3) puts on its instances. */
export const PARALLELCLUSTER_TAGS = {
  cluster: 'parallelcluster:cluster-name',
  nodeType: 'parallelcluster:node-type',
  queue: 'parallelcluster:queue-name',
} as const;

/** Tag keys for clusters that are not ParallelCluster's. */
export interface TagKeys {
  /** Its value is the cluster's name. */
  readonly cluster: string;
  /** Its value is `head`, `login` or `compute`; any other value, or none, means `node`. */
  readonly role: string;
}

export const DEFAULT_TAG_KEYS: TagKeys = { cluster: 'research-cloud:cluster', role: 'research-cloud:role' };

export interface Membership {
  readonly cluster?: { readonly name: string; readonly kind: ClusterKind };
  readonly role: NodeRole;
  readonly queue?: string;
}

const PARALLELCLUSTER_ROLES: Readonly<Record<string, NodeRole>> = { HeadNode: 'head', Compute: 'compute', LoginNode: 'login' };

/** The cluster, role and queue the tags give; ParallelCluster's tags win when both are present. */
export function membership(tags: Readonly<Record<string, string>>, keys: TagKeys = DEFAULT_TAG_KEYS): Membership {
  const pcName = tags[PARALLELCLUSTER_TAGS.cluster];
  if (pcName) {
    const queue = tags[PARALLELCLUSTER_TAGS.queue];
    return {
      cluster: { name: pcName, kind: 'parallelcluster' },
      role: PARALLELCLUSTER_ROLES[tags[PARALLELCLUSTER_TAGS.nodeType] ?? ''] ?? 'node',
      ...(queue && { queue }),
    };
  }
  const name = tags[keys.cluster];
  if (!name) return { role: 'node' };
  return { cluster: { name, kind: 'tagged' }, role: roleFromTag(tags[keys.role]) };
}

function roleFromTag(value: string | undefined): NodeRole {
  const role = value?.trim().toLowerCase();
  return role === 'head' || role === 'login' || role === 'compute' ? role : 'node';
}

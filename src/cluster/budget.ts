// A daily budget check: if the running nodes kept running for a day, would they cost more than
// the budget? If so, which nodes to offer to stop, costliest first, until it fits.

import { stopOrTerminate } from './lifecycle';
import { isBilled, type ClusterNode } from './model';

export interface BudgetOffer {
  readonly node: ClusterNode;
  /** Stop when AWS allows it, else terminate (one-time spot, instance-store root). */
  readonly action: 'stop' | 'terminate';
  readonly savesPerDay: number;
}

export interface BudgetCheck {
  readonly dailyBudget: number;
  /** USD per day if the running nodes with a known price keep running. */
  readonly projectedDaily: number;
  readonly over: boolean;
  /** Enough nodes to get under the budget, if there are: worker nodes before head and login nodes. */
  readonly offer: readonly BudgetOffer[];
  readonly notes: readonly string[];
}

const DAY_HOURS = 24;

/** Nodes need their prices attached (cost.ts withPrices). */
export function checkBudget(nodes: readonly ClusterNode[], dailyBudget: number): BudgetCheck {
  const running = nodes.filter((n) => isBilled(n) && n.price);
  const projectedDaily = running.reduce((total, n) => total + n.price!.perHour * DAY_HOURS, 0);
  const notes: string[] = [];
  const unpriced = nodes.filter((n) => isBilled(n) && !n.price).length;
  if (unpriced) notes.push(`${unpriced} running node${unpriced === 1 ? ' has' : 's have'} no known price and ${unpriced === 1 ? 'is' : 'are'} not counted.`);
  if (projectedDaily <= dailyBudget) return { dailyBudget, projectedDaily, over: false, offer: [], notes };

  // ParallelCluster's scheduler replaces compute nodes stopped behind its back, so they are not offered.
  const managed = running.filter((n) => n.cluster?.kind === 'parallelcluster' && n.role === 'compute');
  if (managed.length) notes.push('ParallelCluster compute nodes are not offered: its scheduler would replace them. Lower the queue sizes instead.');
  const candidates = running
    .filter((n) => n.state === 'running' && !managed.includes(n))
    .map((node) => ({ node, action: stopOrTerminate(node), savesPerDay: node.price!.perHour * DAY_HOURS }))
    .sort((a, b) => leadsLast(a.node) - leadsLast(b.node) || b.savesPerDay - a.savesPerDay);
  const offer: BudgetOffer[] = [];
  let projected = projectedDaily;
  for (const candidate of candidates) {
    if (projected <= dailyBudget) break;
    offer.push(candidate);
    projected -= candidate.savesPerDay;
  }
  return { dailyBudget, projectedDaily, over: true, offer, notes };
}

/** Head and login nodes hold the cluster together: offered only after every worker. */
function leadsLast(node: ClusterNode): number {
  return node.role === 'head' || node.role === 'login' ? 1 : 0;
}

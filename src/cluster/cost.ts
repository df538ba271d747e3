// Prices attached to nodes, what spot saves, and what a cluster costs per hour and has cost
// since its nodes started. Compute only: EBS volumes, data transfer and the like are not counted.

import { plural } from '../core/format';
import { isBilled, uptimeSeconds, type ClusterNode, type NodePrice } from './model';
import { onDemandKey, spotKey, type PriceBook } from './prices';

/** What spot saves over on-demand, in whole percent. */
export function savingsPercent(spotPerHour: number, onDemandPerHour: number): number {
  if (!(onDemandPerHour > 0)) return 0;
  return Math.round(((onDemandPerHour - spotPerHour) / onDemandPerHour) * 100);
}

/** The node's hourly price: the current spot price in its zone, or the on-demand price. */
export function priceOf(node: ClusterNode, book: PriceBook): NodePrice | undefined {
  const onDemand = book.onDemand.get(onDemandKey(node.region, node.instanceType));
  if (node.market === 'on-demand') return onDemand === undefined ? undefined : { perHour: onDemand, market: 'on-demand' };
  const quote = node.availabilityZone ? book.spot.get(spotKey(node.availabilityZone, node.instanceType)) : undefined;
  if (!quote) return undefined;
  return {
    perHour: quote.perHour,
    market: 'spot',
    ...(onDemand !== undefined && { onDemandPerHour: onDemand, savingsPercent: savingsPercent(quote.perHour, onDemand) }),
  };
}

export function withPrices(nodes: readonly ClusterNode[], book: PriceBook): ClusterNode[] {
  return nodes.map((node) => {
    const price = priceOf(node, book);
    return price ? { ...node, price } : node;
  });
}

export interface RunningCost {
  /** USD per hour of the running nodes with a known price. */
  readonly perHour: number;
  /** USD since each running node last started. */
  readonly sinceLaunch: number;
  /** True when spot prices went into it (or prices are missing): then it is an estimate. */
  readonly estimated: boolean;
  /** Running nodes with no known price, left out of the sums. */
  readonly unpriced: readonly ClusterNode[];
  /** Sentences to show with the numbers: what they include and how sure they are. */
  readonly notes: readonly string[];
}

/** The cost of the running nodes (of a cluster, or any list), per hour and since each started. */
export function runningCost(nodes: readonly ClusterNode[], now: Date = new Date()): RunningCost {
  const running = nodes.filter(isBilled);
  const priced = running.filter((n) => n.price);
  const unpriced = running.filter((n) => !n.price);
  const perHour = sum(priced.map((n) => n.price!.perHour));
  const sinceLaunch = sum(priced.map((n) => (n.price!.perHour * (uptimeSeconds(n, now) ?? 0)) / 3600));
  const spot = priced.some((n) => n.price!.market === 'spot');
  const notes = ['Since launch means since each node last started; stopped nodes and volumes are not counted.'];
  if (spot) notes.push('Spot costs are an estimate: the spot price changes over time, and this uses the current price for the whole time.');
  if (unpriced.length) notes.push(`${plural(unpriced.length, 'running node has', 'running nodes have')} no known price and ${unpriced.length === 1 ? 'is' : 'are'} not counted.`);
  return { perHour, sinceLaunch, estimated: spot || unpriced.length > 0, unpriced, notes };
}

function sum(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0);
}

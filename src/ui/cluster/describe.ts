// The words and numbers the Cluster view shows for nodes and clusters. Plain functions with no
// vscode import, so the tree, the status bar and the unit tests share one wording.

import type { RunningCost } from '../../cluster/cost';
import type { IdleGuard } from '../../cluster/idleGuard';
import type { InterruptionNotice } from '../../cluster/interruptions';
import { actionRule, type NodeAction } from '../../cluster/lifecycle';
import { nodeLabel, uptimeSeconds, type ClusterNode } from '../../cluster/model';
import { formatDuration, plural } from '../../core/format';

/** States EC2 leaves on its own within minutes: the view polls while any node is in one. */
const TRANSITIONAL = new Set(['pending', 'stopping', 'shutting-down']);

export function isTransitional(node: ClusterNode): boolean {
  return TRANSITIONAL.has(node.state);
}

/** `$0.192`, `$12.40`: three decimals below a dollar, where spot prices live. */
export function formatUsd(amount: number): string {
  return `$${amount.toFixed(amount < 1 ? 3 : 2)}`;
}

export function priceText(node: ClusterNode): string {
  return node.price ? `${formatUsd(node.price.perHour)}/h` : 'price unknown';
}

/** The short line beside a node's name. */
export function nodeDescription(node: ClusterNode, now: Date = new Date()): string {
  const uptime = uptimeSeconds(node, now);
  return [
    node.instanceType,
    node.state,
    node.market === 'spot' ? 'spot' : 'on-demand',
    node.availabilityZone,
    node.privateIp,
    uptime === undefined ? undefined : `up ${formatDuration(uptime)}`,
    priceText(node),
  ]
    .filter(Boolean)
    .join(' · ');
}

export interface NodeContext {
  readonly guard?: IdleGuard;
  /** Interruptions and events noticed for this node since the view opened. */
  readonly notices: readonly InterruptionNotice[];
  /** Why prices could not be read, for nodes that have none. */
  readonly priceProblems: readonly string[];
}

/** The node's tooltip as Markdown paragraphs: every detail, the price and why it may be missing. */
export function nodeTooltip(node: ClusterNode, context: NodeContext, now: Date = new Date()): string[] {
  const uptime = uptimeSeconds(node, now);
  const lines = [
    `**${nodeLabel(node)}**`,
    `${node.instanceType} · ${node.state}${node.stateReason?.message ? ` (${node.stateReason.message})` : ''}`,
    marketLine(node),
    `Zone: ${node.availabilityZone ?? 'unknown'} · Private IP: ${node.privateIp ?? 'none'}`,
  ];
  if (uptime !== undefined) lines.push(`Up ${formatDuration(uptime)}, since ${node.launchTime!.toISOString().slice(0, 16).replace('T', ' ')} UTC`);
  lines.push(priceLine(node, context.priceProblems));
  for (const notice of context.notices) lines.push(`⚠ ${notice.message}`);
  if (context.guard) lines.push(`Idle guard: ${guardText(context.guard)}`);
  return lines;
}

function marketLine(node: ClusterNode): string {
  if (node.market === 'on-demand') return 'On-demand';
  const request = node.spot?.requestType ? `${node.spot.requestType} request` : 'spot request not readable';
  const behavior = node.spot?.interruptionBehavior ? `, ${node.spot.interruptionBehavior}s on interruption` : '';
  return `Spot (${request}${behavior})`;
}

function priceLine(node: ClusterNode, problems: readonly string[]): string {
  const price = node.price;
  if (!price) return `Price: unknown${problems.length ? `. ${problems.join(' ')}` : ''}`;
  const onDemand =
    price.market === 'spot'
      ? price.onDemandPerHour === undefined
        ? '; on-demand price unknown'
        : `; on-demand ${formatUsd(price.onDemandPerHour)}/h, spot saves ${price.savingsPercent}%`
      : '';
  return `Price: ${formatUsd(price.perHour)}/h ${price.market}${onDemand}`;
}

export function guardText(guard: IdleGuard): string {
  return `${guard.action}s it after ${guard.minutes} min below ${guard.cpuBelowPercent}% CPU${guard.state ? ` (alarm ${guard.state})` : ''}`;
}

/** `$1.23/h · $45.60 since launch`, with `~` when spot prices or missing prices make it an estimate. */
export function costText(cost: RunningCost): string {
  const about = cost.estimated ? '~' : '';
  return `${about}${formatUsd(cost.perHour)}/h · ${about}${formatUsd(cost.sinceLaunch)} since launch`;
}

/**
 * Price problems go into the tooltips of the nodes without a price, not into an error row: the
 * nodes are all there, only a number is missing. The service hands every problem over as a
 * sentence that starts with the operation ("Read on-demand prices of …", "Read spot prices in …").
 */
export function isPriceProblem(problem: Error): boolean {
  return /^Read (on-demand|spot) prices\b/.test(problem.message);
}

export interface ActionPlan {
  readonly action: NodeAction;
  /** Nodes the action applies to. */
  readonly nodes: readonly ClusterNode[];
  /** Nodes it cannot apply to, with why; offered `instead` when the rules say so. */
  readonly refused: readonly { readonly node: ClusterNode; readonly reason: string; readonly instead?: NodeAction }[];
  /** What the user should know before confirming, one sentence per distinct warning. */
  readonly warnings: readonly string[];
}

/** Sorts the selected nodes by what `allowedActions` says of the action. */
export function planAction(action: NodeAction, nodes: readonly ClusterNode[]): ActionPlan {
  const allowed: ClusterNode[] = [];
  const refused: { node: ClusterNode; reason: string; instead?: NodeAction }[] = [];
  const warnings = new Set<string>();
  for (const node of nodes) {
    const rule = actionRule(node, action);
    if (rule.allowed) {
      allowed.push(node);
      if (rule.warning) warnings.add(rule.warning);
    } else {
      refused.push({ node, reason: rule.reason ?? '', ...(rule.instead && { instead: rule.instead }) });
    }
  }
  return { action, nodes: allowed, refused, warnings: [...warnings] };
}

/** "Stop 3 nodes?" / "Stop spot-dy-c5-3 (i-…)?" */
export function confirmQuestion(action: NodeAction, nodes: readonly ClusterNode[]): string {
  const verb = action.charAt(0).toUpperCase() + action.slice(1);
  return `${verb} ${nodes.length === 1 ? nodeLabel(nodes[0]) : plural(nodes.length, 'node')}?`;
}

import * as vscode from 'vscode';
import { runningCost } from '../../cluster/cost';
import type { NodeGroup, RoleGroup } from '../../cluster/grouping';
import type { ClusterNode } from '../../cluster/model';
import type { ClusterExplorer } from './explorer';
import { costText, isPriceProblem, nodeDescription, nodeTooltip } from './describe';

/** A cluster, or "Other instances". */
export class GroupItem {
  constructor(readonly group: NodeGroup) {}

  get nodes(): readonly ClusterNode[] {
    return this.group.nodes;
  }

  /** "Show Metrics" on a cluster takes its name, region and nodes from the row. */
  get name(): string {
    return this.group.label;
  }

  get region(): string | undefined {
    return this.group.region;
  }

  toTreeItem(): vscode.TreeItem {
    const { group } = this;
    const item = new vscode.TreeItem(group.label, vscode.TreeItemCollapsibleState.Expanded);
    item.id = `group:${group.id}`;
    const cost = runningCost(group.nodes);
    const kind = group.kind === 'parallelcluster' ? 'AWS ParallelCluster' : group.kind === 'tagged' ? 'Tagged cluster' : 'Instances in no cluster';
    item.description = costText(cost);
    item.iconPath = new vscode.ThemeIcon(group.kind === 'other' ? 'server' : 'server-environment');
    item.tooltip = new vscode.MarkdownString(
      [`**${group.label}**`, `${kind}${group.region ? ` in ${group.region}` : ''} · ${group.nodes.length} nodes`, costText(cost), ...cost.notes].join('\n\n'),
    );
    // Only tagged clusters can be scaled from a file: ParallelCluster sizes its own queues.
    item.contextValue = group.kind === 'other' ? 'clusterOther' : group.kind === 'tagged' ? 'clusterGroup.scalable' : 'clusterGroup';
    return item;
  }
}

/** Head, login, or the compute nodes of one queue. */
export class RoleItem {
  constructor(
    readonly parent: GroupItem,
    readonly role: RoleGroup,
  ) {}

  get nodes(): readonly ClusterNode[] {
    return this.role.nodes;
  }

  toTreeItem(): vscode.TreeItem {
    const item = new vscode.TreeItem(this.role.label, vscode.TreeItemCollapsibleState.Expanded);
    item.id = `role:${this.parent.group.id}:${this.role.role}:${this.role.queue ?? ''}`;
    item.description = `${this.role.nodes.length}`;
    item.iconPath = new vscode.ThemeIcon(this.role.role === 'head' ? 'home' : this.role.role === 'login' ? 'account' : 'layers');
    item.contextValue = 'clusterRole';
    return item;
  }
}

const STATE_ICONS: Readonly<Record<string, [string, string?]>> = {
  running: ['vm-running', 'charts.green'],
  pending: ['loading~spin'],
  stopping: ['loading~spin'],
  'shutting-down': ['loading~spin'],
  stopped: ['vm-outline', 'disabledForeground'],
  terminated: ['trash', 'disabledForeground'],
};

export class NodeItem {
  constructor(
    readonly parent: RoleItem,
    readonly node: ClusterNode,
    private readonly explorer: ClusterExplorer,
  ) {}

  /** The SSM commands take any argument with an instance id and a name. */
  get instanceId(): string {
    return this.node.instanceId;
  }

  get name(): string | undefined {
    return this.node.name;
  }

  /** Metrics read the node's CloudWatch data in its own region and know its type (CPU credits). */
  get region(): string {
    return this.node.region;
  }

  get instanceType(): string | undefined {
    return this.node.instanceType;
  }

  get nodes(): readonly ClusterNode[] {
    return [this.node];
  }

  toTreeItem(): vscode.TreeItem {
    const { node, explorer } = this;
    const item = new vscode.TreeItem(node.name ?? node.instanceId, vscode.TreeItemCollapsibleState.None);
    item.id = `node:${node.region}:${node.instanceId}`;
    const guard = explorer.guards.find((g) => g.instanceId === node.instanceId);
    const notices = explorer.noticesOf(node.instanceId);
    item.description = [nodeDescription(node), guard && 'idle guard', notices.some((n) => n.kind === 'spot-interruption') ? '⚠ interrupted' : notices.length ? '⚠ scheduled event' : undefined].filter(Boolean).join(' · ');
    const priceProblems = node.price ? [] : (explorer.snapshot?.problems ?? []).filter(isPriceProblem).map((p) => p.message);
    const tooltip = nodeTooltip(node, { guard, notices, priceProblems });
    item.tooltip = new vscode.MarkdownString(tooltip.join('\n\n'));
    const [icon, color] = STATE_ICONS[node.state] ?? ['vm'];
    item.iconPath = new vscode.ThemeIcon(icon, color ? new vscode.ThemeColor(color) : undefined);
    item.contextValue = `clusterNode.${node.state}${guard ? '.guarded' : ''}`;
    return item;
  }
}

/** A row that says why nothing (or not everything) is shown. */
export class MessageItem {
  constructor(
    readonly text: string,
    readonly detail: string,
    readonly icon: string,
  ) {}

  toTreeItem(): vscode.TreeItem {
    const item = new vscode.TreeItem(this.text, vscode.TreeItemCollapsibleState.None);
    item.tooltip = this.detail;
    item.iconPath = new vscode.ThemeIcon(this.icon, new vscode.ThemeColor('problemsWarningIcon.foreground'));
    return item;
  }
}

export type ClusterTreeItem = GroupItem | RoleItem | NodeItem | MessageItem;

/**
 * The Cluster view: clusters, then "Other instances"; roles; nodes. It draws the explorer's
 * latest snapshot and never fetches by itself, so expanding rows costs no AWS call.
 */
export class ClusterTreeProvider implements vscode.TreeDataProvider<ClusterTreeItem>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChangeTreeData = this.changed.event;
  private readonly subscription: vscode.Disposable;

  constructor(private readonly explorer: ClusterExplorer) {
    this.subscription = explorer.onDidChange(() => this.changed.fire());
  }

  getTreeItem(item: ClusterTreeItem): vscode.TreeItem {
    return item.toTreeItem();
  }

  getParent(item: ClusterTreeItem): ClusterTreeItem | undefined {
    return item instanceof RoleItem || item instanceof NodeItem ? item.parent : undefined;
  }

  async getChildren(item?: ClusterTreeItem): Promise<ClusterTreeItem[]> {
    if (item instanceof GroupItem) {
      // "Other instances" has one role only: its nodes go straight under it.
      const roles = item.group.roles.map((role) => new RoleItem(item, role));
      return item.group.kind === 'other' ? this.nodeItems(roles[0]) : roles;
    }
    if (item instanceof RoleItem) return this.nodeItems(item);
    if (item) return [];
    if (!this.explorer.snapshot && !this.explorer.error) await this.explorer.refreshNow();
    const { snapshot, error } = this.explorer;
    if (error) return [new MessageItem('Could not list the nodes', error.message, 'error')];
    if (!snapshot) return [];
    const problems = snapshot.problems.filter((p) => !isPriceProblem(p));
    const rows: ClusterTreeItem[] = snapshot.groups.map((group) => new GroupItem(group));
    // With no nodes the welcome text shows, unless something could not be read: then say what.
    if (problems.length) rows.push(new MessageItem(problems.length === 1 ? problems[0].message : `${problems.length} problems reading the nodes`, problems.map((p) => p.message).join('\n\n'), 'warning'));
    return rows;
  }

  dispose(): void {
    this.subscription.dispose();
    this.changed.dispose();
  }

  private nodeItems(role: RoleItem): NodeItem[] {
    return role.nodes.map((node) => new NodeItem(role, node, this.explorer));
  }
}

/** The nodes behind the rows a command was run on: a row and the rest of the selection. */
export function selectedNodes(clicked: unknown, selection: unknown): ClusterNode[] {
  const items = (Array.isArray(selection) && selection.length ? selection : [clicked]).filter(
    (i): i is GroupItem | RoleItem | NodeItem => i instanceof GroupItem || i instanceof RoleItem || i instanceof NodeItem,
  );
  const byId = new Map<string, ClusterNode>();
  for (const node of items.flatMap((i) => i.nodes)) byId.set(node.instanceId, node);
  return [...byId.values()];
}

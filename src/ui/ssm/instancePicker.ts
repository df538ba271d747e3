import * as vscode from 'vscode';
import type { Connection } from '../../aws/connection';
import { describeAgents, listRunningNodes, type AgentStatus, type NodeSummary } from '../../ssm/readiness';
import { log } from '../log';

/** The instance a command works on: its id and what to call it. */
export interface Target {
  readonly id: string;
  readonly label: string;
}

const TARGET_ID = /^(i|mi)-[0-9a-f]{8,17}$/;
const RECENT_KEY = 'researchCloud.ssm.recentTargets';
const RECENT_COUNT = 5;

/** Instances picked lately, listed first next time; kept in the workspace's own state. */
export class RecentTargets {
  constructor(private readonly state: vscode.Memento) {}

  list(): string[] {
    return this.state.get<string[]>(RECENT_KEY) ?? [];
  }

  async add(id: string): Promise<void> {
    await this.state.update(RECENT_KEY, [id, ...this.list().filter((r) => r !== id)].slice(0, RECENT_COUNT));
  }
}

/**
 * The target of an SSM command: the instance id it was given (a string, or a node of the Cluster
 * view, which has `instanceId` and `name`), else one the user picks from the running instances.
 */
export async function chooseTarget(connection: Connection, argument: unknown, title: string, recent: RecentTargets): Promise<Target | undefined> {
  const node = (typeof argument === 'string' ? { instanceId: argument } : argument) as { instanceId?: unknown; name?: unknown } | undefined;
  if (typeof node?.instanceId === 'string' && TARGET_ID.test(node.instanceId)) {
    return { id: node.instanceId, label: typeof node.name === 'string' && node.name ? node.name : node.instanceId };
  }
  const target = await pickRunningInstance(connection, title, recent.list());
  if (target) await recent.add(target.id);
  return target;
}

async function pickRunningInstance(connection: Connection, title: string, recent: string[]): Promise<Target | undefined> {
  const region = await connection.region();
  const { nodes, agents } = await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Window, title: `Listing running instances in ${region}` },
    async () => {
      const nodes = await listRunningNodes(connection);
      // The agents' status only decorates the list, so a profile without
      // ssm:DescribeInstanceInformation still gets its instances.
      const agents = await describeAgents(connection, nodes.map((n) => n.id)).catch((err: unknown) => {
        log.warn(`Could not read the SSM Agent status of the instances: ${(err as Error).message}`);
        return undefined;
      });
      return { nodes, agents };
    },
  );
  if (!nodes.length) {
    void vscode.window.showInformationMessage(`No running instances in ${region} for profile "${connection.profileName}". Start one, or switch profile or region from the status bar.`);
    return undefined;
  }
  const rank = (n: NodeSummary) => (recent.includes(n.id) ? recent.indexOf(n.id) : recent.length);
  const items = [...nodes].sort((a, b) => rank(a) - rank(b)).map((node) => ({
    label: `$(vm) ${node.name ?? node.id}`,
    description: [node.id, node.type, node.availabilityZone].filter(Boolean).join(' · '),
    detail: [node.spot ? 'spot' : 'on-demand', agents && agentText(agents.get(node.id)), recent.includes(node.id) && 'recently used']
      .filter(Boolean)
      .join(' · '),
    node,
  }));
  const picked = await vscode.window.showQuickPick(items, {
    title,
    placeHolder: 'Type a name, instance id, type or zone',
    matchOnDescription: true,
    matchOnDetail: true,
  });
  return picked && { id: picked.node.id, label: picked.node.name ?? picked.node.id };
}

function agentText(agent: AgentStatus | undefined): string {
  if (!agent) return '$(warning) SSM Agent not registered';
  if (agent.pingStatus === 'Online') return '$(pass) SSM Agent online';
  return `$(warning) SSM Agent ${agent.pingStatus}`;
}

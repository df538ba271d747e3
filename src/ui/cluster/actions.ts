import * as vscode from 'vscode';
import type { ActionOutcome, NodeAction } from '../../cluster/lifecycle';
import { nodeLabel, type ClusterNode } from '../../cluster/model';
import { plural } from '../../core/format';
import { log } from '../log';
import { withCancellableProgress } from '../progress';
import { confirmQuestion, planAction } from './describe';
import type { ClusterExplorer } from './explorer';

const VERB: Readonly<Record<NodeAction, string>> = { start: 'Start', stop: 'Stop', reboot: 'Reboot', terminate: 'Terminate' };
const DONE: Readonly<Record<NodeAction, string>> = { start: 'Started', stop: 'Stopped', reboot: 'Rebooted', terminate: 'Terminated' };

/**
 * Start, stop, reboot or terminate the nodes after a modal confirmation that names the count,
 * the warnings, and the nodes the rules leave out. When the rules refuse every node but offer
 * something instead (a one-time spot node cannot be stopped, only terminated), that is offered.
 */
export async function runActionOn(explorer: ClusterExplorer, action: NodeAction, nodes: readonly ClusterNode[]): Promise<void> {
  if (!nodes.length) return;
  const plan = planAction(action, nodes);
  if (!plan.nodes.length) {
    const instead = plan.refused.filter((r) => r.instead);
    const reasons = [...new Set(plan.refused.map((r) => r.reason))].join('\n\n');
    const subject = nodes.length === 1 ? nodeLabel(nodes[0]) : plural(nodes.length, 'node');
    const offer = instead.length === plan.refused.length && instead.every((r) => r.instead === instead[0].instead) ? instead[0].instead : undefined;
    if (!offer) {
      await vscode.window.showWarningMessage(`${VERB[action]} ${subject}: not possible.`, { modal: true, detail: reasons });
      return;
    }
    const button = `${VERB[offer]} Instead…`;
    const choice = await vscode.window.showWarningMessage(`${subject} cannot be ${DONE[action].toLowerCase()}.`, { modal: true, detail: reasons }, button);
    if (choice === button) await runActionOn(explorer, offer, nodes);
    return;
  }
  const detail = [
    ...plan.warnings,
    ...(plan.refused.length ? [`${plural(plan.refused.length, 'selected node is', 'selected nodes are')} left out:`, ...plan.refused.map((r) => `${nodeLabel(r.node)}: ${r.reason}`)] : []),
  ].join('\n\n');
  const confirm = `${VERB[action]} ${plural(plan.nodes.length, 'Node')}`;
  const choice = await vscode.window.showWarningMessage(confirmQuestion(action, plan.nodes), { modal: true, ...(detail && { detail }) }, confirm);
  if (choice !== confirm) return;
  const outcomes = await withCancellableProgress(`${VERB[action]} ${plural(plan.nodes.length, 'node')}`, (signal, progress) =>
    explorer.service.act(action, plan.nodes, { signal, progress }),
  );
  explorer.refresh();
  await reportOutcomes(action, outcomes);
}

async function reportOutcomes(action: NodeAction, outcomes: readonly ActionOutcome[]): Promise<void> {
  for (const o of outcomes) {
    const line = `${VERB[action]} ${nodeLabel(o.node)}: ${o.status}${o.state ? ` (now ${o.state})` : ''}${o.message ? `. ${o.message}` : ''}`;
    if (o.status === 'done') log.info(line);
    else log.warn(line);
  }
  const done = outcomes.filter((o) => o.status === 'done');
  const failed = outcomes.filter((o) => o.status !== 'done');
  if (!failed.length) {
    void vscode.window.showInformationMessage(`${DONE[action]} ${done.length === 1 ? nodeLabel(done[0].node) : plural(done.length, 'node')}.`);
    return;
  }
  const summary = `${DONE[action]} ${done.length} of ${outcomes.length} nodes. Not done: ${failed.map((o) => o.message ?? nodeLabel(o.node)).join(' ')}`;
  if (await vscode.window.showWarningMessage(summary, 'Show Log')) log.show(true);
}

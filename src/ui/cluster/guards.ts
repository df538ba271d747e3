import * as vscode from 'vscode';
import { idlePeriods } from '../../cluster/idleGuard';
import { nodeLabel, type ClusterNode } from '../../cluster/model';
import { plural } from '../../core/format';
import { log } from '../log';
import { withCancellableProgress } from '../progress';
import type { ClusterExplorer } from './explorer';

const DEFAULT_CPU_PERCENT = 5;
const DEFAULT_MINUTES = 60;

/** Stop When Idle…: asks the CPU threshold and the idle time, then puts a guard on each node. */
export async function guardNodes(explorer: ClusterExplorer, nodes: readonly ClusterNode[]): Promise<void> {
  if (!nodes.length) return;
  const subject = nodes.length === 1 ? nodeLabel(nodes[0]) : plural(nodes.length, 'node');
  const cpu = await vscode.window.showInputBox({
    title: `Stop ${subject} when idle (1/2)`,
    prompt: 'Idle means average CPU below this percentage',
    value: String(DEFAULT_CPU_PERCENT),
    validateInput: (v) => problemOf({ cpuBelowPercent: Number(v), minutes: DEFAULT_MINUTES }),
  });
  if (cpu === undefined) return;
  const minutes = await vscode.window.showInputBox({
    title: `Stop ${subject} when idle (2/2)`,
    prompt: 'For this many minutes (rounded up to 5; at most 1,440)',
    value: String(DEFAULT_MINUTES),
    validateInput: (v) => problemOf({ cpuBelowPercent: Number(cpu), minutes: Number(v) }),
  });
  if (minutes === undefined) return;
  const settings = { cpuBelowPercent: Number(cpu), minutes: Number(minutes) };
  const outcomes = await withCancellableProgress(`Guarding ${subject}`, (signal) => explorer.service.guard(nodes, settings, signal));
  for (const o of outcomes) log.info(`Idle guard on ${nodeLabel(o.node)}: ${o.status}${o.action ? ` (${o.action}s it)` : ''}${o.message ? `. ${o.message}` : ''}`);
  explorer.refresh();
  const done = outcomes.filter((o) => o.status === 'done');
  const notDone = outcomes.filter((o) => o.status !== 'done');
  const text = `Idle guards put on ${plural(done.length, 'node')}: each is stopped (or terminated, if AWS cannot stop it) after ${settings.minutes} minutes below ${settings.cpuBelowPercent}% CPU.`;
  if (!notDone.length) void vscode.window.showInformationMessage(text);
  else if (await vscode.window.showWarningMessage(`${text} Not guarded: ${notDone.map((o) => o.message).join(' ')}`, 'Show Log')) log.show(true);
}

/** Remove Idle Guards: those of the nodes, after a confirmation with the count. */
export async function unguardNodes(explorer: ClusterExplorer, nodes: readonly ClusterNode[]): Promise<void> {
  const ids = new Set(nodes.map((n) => n.instanceId));
  const guards = explorer.guards.filter((g) => ids.has(g.instanceId));
  if (!guards.length) {
    void vscode.window.showInformationMessage(`No idle guard on ${nodes.length === 1 ? nodeLabel(nodes[0]) : 'these nodes'}.`);
    return;
  }
  const button = `Remove ${plural(guards.length, 'Guard')}`;
  if ((await vscode.window.showWarningMessage(`Remove the idle guards of ${plural(guards.length, 'node')}?`, { modal: true }, button)) !== button) return;
  await withCancellableProgress('Removing idle guards', (signal) => explorer.service.removeGuards(guards, signal));
  log.info(`Removed idle guards: ${guards.map((g) => g.alarmName).join(', ')}`);
  explorer.refresh();
}

function problemOf(settings: { cpuBelowPercent: number; minutes: number }): string | undefined {
  try {
    idlePeriods(settings);
    return undefined;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}

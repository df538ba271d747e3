import * as vscode from 'vscode';
import { checkBudget, type BudgetOffer } from '../../cluster/budget';
import { runningCost } from '../../cluster/cost';
import { nodeLabel } from '../../cluster/model';
import { plural } from '../../core/format';
import { runActionOn } from './actions';
import { costText, formatUsd } from './describe';
import { dailyBudget, type ClusterExplorer } from './explorer';

const WARNED_KEY = 'researchCloud.cluster.budgetWarnedOn';

/**
 * The status bar item with what the running nodes cost per hour (clicking shows the Cluster
 * view), and the daily budget watch: after each snapshot, if the running nodes would pass the
 * budget in a day, a warning once per day that offers to stop the nodes checkBudget picks.
 */
export function registerCostWatch(explorer: ClusterExplorer, state: vscode.Memento): vscode.Disposable {
  const item = vscode.window.createStatusBarItem('researchCloud.clusterCost', vscode.StatusBarAlignment.Left, 49);
  item.name = 'Research Cloud: running cost';
  item.command = 'researchCloud.cluster.focus';
  const update = () => {
    const nodes = explorer.snapshot?.nodes ?? [];
    const cost = runningCost(nodes);
    if (!nodes.length) {
      item.hide();
      return;
    }
    item.text = `$(graph-line) ${cost.estimated ? '~' : ''}${formatUsd(cost.perHour)}/h`;
    item.tooltip = new vscode.MarkdownString(['**Running nodes**', costText(cost), ...cost.notes, 'Click to show the Cluster view.'].join('\n\n'));
    item.show();
    void watchBudget(explorer, state);
  };
  return vscode.Disposable.from(item, explorer.onDidChange(update));
}

async function watchBudget(explorer: ClusterExplorer, state: vscode.Memento): Promise<void> {
  const budget = dailyBudget();
  const nodes = explorer.snapshot?.nodes;
  if (!(budget > 0) || !nodes) return;
  const check = checkBudget(nodes, budget);
  const today = new Date().toISOString().slice(0, 10);
  if (!check.over || state.get<string>(WARNED_KEY) === today) return;
  // Marked before asking: snapshots keep coming while the warning is open.
  await state.update(WARNED_KEY, today);
  const message = `The running nodes would cost ${formatUsd(check.projectedDaily)} a day, over your daily budget of ${formatUsd(budget)}.`;
  const offer = check.offer.length ? `Stop ${plural(check.offer.length, 'Node')}…` : undefined;
  const choice = await vscode.window.showWarningMessage([message, ...check.notes].join(' '), ...(offer ? [offer] : []));
  if (choice === offer) await stopOffered(explorer, check.offer);
}

/** Lets the user pick among the offered nodes, then stops (or terminates) them through the usual confirmation. */
async function stopOffered(explorer: ClusterExplorer, offer: readonly BudgetOffer[]): Promise<void> {
  const picked = await vscode.window.showQuickPick(
    offer.map((o) => ({ label: nodeLabel(o.node), description: `${o.action} · saves ${formatUsd(o.savesPerDay)}/day`, picked: true, offer: o })),
    { title: 'Stop which nodes to get under the budget?', canPickMany: true },
  );
  if (!picked?.length) return;
  for (const action of ['stop', 'terminate'] as const) {
    const nodes = picked.filter((p) => p.offer.action === action).map((p) => p.offer.node);
    if (nodes.length) await runActionOn(explorer, action, nodes);
  }
}

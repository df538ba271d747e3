import * as vscode from 'vscode';
import type { NodeAction } from '../../cluster/lifecycle';
import type { ConnectionState } from '../connectionState';
import { guarded } from '../log';
import { runActionOn } from './actions';
import { registerCostWatch } from './costWatch';
import { ClusterExplorer } from './explorer';
import { guardNodes, unguardNodes } from './guards';
import { ClusterFileDiagnostics, launchFromFile, scaleGroup } from './launch';
import { ClusterTreeProvider, GroupItem, selectedNodes, type ClusterTreeItem } from './tree';

const ACTIONS: readonly NodeAction[] = ['start', 'stop', 'reboot', 'terminate'];

/**
 * The Cluster view and everything around it: node actions, launch and scale from a cluster
 * file, idle guards, the cost status bar and the budget watch.
 */
export function registerClusterFeatures(state: ConnectionState, context: vscode.ExtensionContext): vscode.Disposable {
  const explorer = new ClusterExplorer(state, context.globalStorageUri.fsPath);
  const provider = new ClusterTreeProvider(explorer);
  const view = vscode.window.createTreeView<ClusterTreeItem>('researchCloud.cluster', { treeDataProvider: provider, canSelectMany: true, showCollapseAll: true });
  const diagnostics = new ClusterFileDiagnostics();
  // Commands run from the palette act on the view's selection. Open Terminal and Forward Port on
  // a node row are the SSM commands themselves: a NodeItem has the instanceId and name they take.
  const nodesOf = (clicked: unknown, selection: unknown) => selectedNodes(clicked ?? view.selection[0], selection ?? view.selection);
  explorer.setVisible(view.visible);
  return vscode.Disposable.from(
    explorer,
    provider,
    view,
    diagnostics,
    view.onDidChangeVisibility((e) => explorer.setVisible(e.visible)),
    registerCostWatch(explorer, context.globalState),
    vscode.commands.registerCommand('researchCloud.cluster.refresh', () => explorer.refresh(0)),
    ...ACTIONS.map((action) =>
      vscode.commands.registerCommand(
        `researchCloud.cluster.${action}`,
        guarded((clicked?: unknown, selection?: unknown) => runActionOn(explorer, action, nodesOf(clicked, selection))),
      ),
    ),
    vscode.commands.registerCommand(
      'researchCloud.cluster.copyInstanceId',
      guarded(async (clicked?: unknown, selection?: unknown) => {
        await vscode.env.clipboard.writeText(nodesOf(clicked, selection).map((n) => n.instanceId).join('\n'));
      }),
    ),
    vscode.commands.registerCommand('researchCloud.cluster.launch', guarded((uri?: unknown) => launchFromFile(explorer, diagnostics, uri))),
    vscode.commands.registerCommand(
      'researchCloud.cluster.scale',
      guarded(async (clicked?: unknown) => {
        const group = clicked instanceof GroupItem ? clicked : view.selection.find((i) => i instanceof GroupItem);
        if (group instanceof GroupItem) await scaleGroup(explorer, group.group);
      }),
    ),
    vscode.commands.registerCommand('researchCloud.cluster.stopWhenIdle', guarded((clicked?: unknown, selection?: unknown) => guardNodes(explorer, nodesOf(clicked, selection)))),
    vscode.commands.registerCommand('researchCloud.cluster.removeIdleGuards', guarded((clicked?: unknown, selection?: unknown) => unguardNodes(explorer, nodesOf(clicked, selection)))),
  );
}

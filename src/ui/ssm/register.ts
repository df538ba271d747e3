import * as vscode from 'vscode';
import type { ConnectionState } from '../connectionState';
import { guarded } from '../log';
import { withCancellableProgress } from '../progress';
import { askForwardRequest, ForwardItem, openInBrowser, PortForwardsView, startForward } from './forwards';
import { chooseTarget, RecentTargets } from './instancePicker';
import { confirmReady } from './readiness';
import { openSessionTerminal } from './terminal';

/**
 * Session Manager in the editor: Open Terminal on Node…, Forward Port…, and the Port Forwards
 * view. Both commands take an instance id (or a node with an `instanceId`) as argument, or ask.
 */
export function registerSsmFeatures(state: ConnectionState, context: vscode.ExtensionContext): vscode.Disposable {
  const recent = new RecentTargets(context.workspaceState);
  const forwards = new PortForwardsView();
  return vscode.Disposable.from(
    forwards,
    vscode.window.createTreeView('researchCloud.portForwards', { treeDataProvider: forwards }),
    vscode.commands.registerCommand(
      'researchCloud.ssm.openTerminal',
      guarded(async (argument?: unknown) => {
        const connection = state.connection;
        const node = await chooseTarget(connection, argument, 'Open a terminal on which node?', recent);
        if (!node) return;
        const ready = await withCancellableProgress(`Checking ${node.label}…`, (signal) => confirmReady(connection, node.id, 'shell', signal));
        if (!ready) return;
        const settings = vscode.workspace.getConfiguration('researchCloud.ssm');
        openSessionTerminal({
          connection,
          target: node.id,
          label: node.label,
          documentName: settings.get<string>('sessionDocument') || undefined,
          loginCommand: settings.get<string>('loginCommand')?.trim() || undefined,
        });
      }),
    ),
    vscode.commands.registerCommand(
      'researchCloud.ssm.forwardPort',
      guarded(async (argument?: unknown) => {
        const connection = state.connection;
        const node = await chooseTarget(connection, argument, 'Forward a port of which node?', recent);
        const request = node && (await askForwardRequest(node));
        if (node && request) await startForward(connection, forwards, node, request);
      }),
    ),
    vscode.commands.registerCommand(
      'researchCloud.ssm.stopForward',
      guarded(async (item: unknown) => {
        if (item instanceof ForwardItem) await forwards.stop(item);
      }),
    ),
    vscode.commands.registerCommand(
      'researchCloud.ssm.openForwardInBrowser',
      guarded(async (item: unknown) => {
        if (item instanceof ForwardItem) await openInBrowser(item);
      }),
    ),
  );
}

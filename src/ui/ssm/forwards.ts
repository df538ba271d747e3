import { createServer } from 'node:net';
import * as vscode from 'vscode';
import type { Connection } from '../../aws/connection';
import { plural } from '../../core/format';
import type { Disposable } from '../../ssm/events';
import { startPortForward, type PortForward } from '../../ssm/portForward';
import { log, showError } from '../log';
import { withCancellableProgress } from '../progress';
import type { Target } from './instancePicker';
import { confirmReady } from './readiness';

/** What a forward reaches: a service on the node, or a host the node can reach. */
export interface ForwardRequest {
  /** "Jupyter", "Port 5000", …: what the list calls it. */
  readonly service: string;
  readonly remotePort: number;
  readonly remoteHost?: string;
}

const PRESETS: ReadonlyArray<{ service: string; port: number; detail: string }> = [
  { service: 'Jupyter', port: 8888, detail: 'JupyterLab and Jupyter Notebook' },
  { service: 'RStudio Server', port: 8787, detail: 'RStudio in the browser' },
  { service: 'Shiny', port: 3838, detail: 'Shiny Server apps' },
  { service: 'TensorBoard', port: 6006, detail: 'training curves' },
];

/** One running forward, as the Port Forwards view lists it. */
export class ForwardItem {
  constructor(
    readonly forward: PortForward,
    readonly service: string,
    readonly node: Target,
  ) {}

  /** `localhost:8888 → analysis-node:8888`, or `… → analysis-node → db.internal:5432`. */
  get route(): string {
    const { localPort, remoteHost, remotePort } = this.forward;
    return `localhost:${localPort} → ${this.node.label}${remoteHost ? ` → ${remoteHost}` : ''}:${remotePort}`;
  }
}

/** The Port Forwards view: forwards started in this window, each with Open in Browser and Stop. */
export class PortForwardsView implements vscode.TreeDataProvider<ForwardItem>, vscode.Disposable {
  private readonly items = new Map<ForwardItem, Disposable[]>();
  private readonly changed = new vscode.EventEmitter<ForwardItem | undefined>();
  readonly onDidChangeTreeData = this.changed.event;

  add(forward: PortForward, service: string, node: Target): ForwardItem {
    const item = new ForwardItem(forward, service, node);
    this.items.set(item, [
      forward.onConnectionChange(() => this.changed.fire(item)),
      forward.onEnd((reason) => {
        this.remove(item);
        log.info(`Stopped forwarding ${item.route}${reason ? `: ${reason.message}` : '.'}`);
        if (reason) void showError(new Error(`Forwarding ${item.service} (${item.route}) stopped: ${reason.message}`));
      }),
    ]);
    this.changed.fire(undefined);
    return item;
  }

  async stop(item: ForwardItem): Promise<void> {
    await item.forward.close();
    // onEnd removes it as well; removing now takes the row away without waiting for that event.
    this.remove(item);
  }

  getTreeItem(item: ForwardItem): vscode.TreeItem {
    const { forward } = item;
    const tree = new vscode.TreeItem(`${item.service} · localhost:${forward.localPort}`, vscode.TreeItemCollapsibleState.None);
    tree.description = `${item.node.label}${forward.remoteHost ? ` → ${forward.remoteHost}` : ''}:${forward.remotePort} · ${plural(forward.activeConnections, 'connection')}`;
    tree.tooltip = new vscode.MarkdownString(
      `**${item.service}**\n\n\`${item.route}\`\n\nInstance: \`${forward.target}\`\n\n` +
        `${plural(forward.activeConnections, 'open connection')}, ${forward.mode === 'multiplexed' ? 'multiplexed over one session' : 'one connection at a time (the instance\'s agent predates multiplexing)'}`,
    );
    tree.iconPath = new vscode.ThemeIcon('plug');
    tree.contextValue = 'portForward';
    return tree;
  }

  getChildren(item?: ForwardItem): ForwardItem[] {
    return item ? [] : [...this.items.keys()];
  }

  dispose(): void {
    for (const item of [...this.items.keys()]) {
      this.remove(item);
      item.forward.close().catch(() => undefined);
    }
    this.changed.dispose();
  }

  private remove(item: ForwardItem): void {
    const subscriptions = this.items.get(item);
    if (!subscriptions) return;
    for (const s of subscriptions) s.dispose();
    this.items.delete(item);
    this.changed.fire(undefined);
  }
}

/** Asks what to forward: a preset, another port on the node, or a port on a host beyond it. */
export async function askForwardRequest(node: Target): Promise<ForwardRequest | undefined> {
  const other = { label: '$(edit) Other port…', description: 'a port on the node', choice: 'other' as const };
  const remote = { label: '$(remote) Port on another host…', description: `through ${node.label}: a database, another node`, choice: 'remote' as const };
  const picked = await vscode.window.showQuickPick(
    [
      ...PRESETS.map((p) => ({ label: p.service, description: String(p.port), detail: p.detail, choice: 'preset' as const, preset: p })),
      other,
      remote,
    ],
    { title: `Forward a port of ${node.label}`, placeHolder: 'What runs on the node?', matchOnDescription: true },
  );
  if (!picked) return undefined;
  if (picked.choice === 'preset') return { service: picked.preset.service, remotePort: picked.preset.port };
  if (picked.choice === 'other') {
    const port = await askPort(`Port on ${node.label}`);
    return port === undefined ? undefined : { service: `Port ${port}`, remotePort: port };
  }
  const host = await vscode.window.showInputBox({
    title: `Host reachable from ${node.label}`,
    prompt: 'A private IP address or DNS name the node can reach, e.g. a database endpoint.',
    placeHolder: 'db.cluster-abc.us-east-1.rds.amazonaws.com  or  10.0.2.15',
    validateInput: (value) => (/^[\w.:-]+$/.test(value.trim()) ? undefined : 'A host name or IP address, without a scheme or port.'),
  });
  if (!host) return undefined;
  const port = await askPort(`Port on ${host.trim()}`);
  return port === undefined ? undefined : { service: `${host.trim()}:${port}`, remotePort: port, remoteHost: host.trim() };
}

async function askPort(title: string): Promise<number | undefined> {
  const text = await vscode.window.showInputBox({
    title,
    placeHolder: 'e.g. 5000',
    validateInput: (value) => (isPort(Number(value)) ? undefined : 'A port number from 1 to 65535.'),
  });
  return text === undefined ? undefined : Number(text);
}

/** Checks the node, starts the forward and lists it; offers to open it in a browser. */
export async function startForward(connection: Connection, view: PortForwardsView, node: Target, request: ForwardRequest): Promise<void> {
  const forward = await withCancellableProgress(`Forwarding ${request.service} from ${node.label}…`, async (signal) => {
    if (!(await confirmReady(connection, node.id, 'port-forward', signal))) return undefined;
    // The same local port as the remote one when it is free, so `localhost:8888` means Jupyter;
    // otherwise the engine picks a free one.
    const localPort = (await isLocalPortFree(request.remotePort)) ? request.remotePort : undefined;
    return startPortForward(connection, { target: node.id, remotePort: request.remotePort, remoteHost: request.remoteHost, localPort, signal });
  });
  if (!forward) return;
  const item = view.add(forward, request.service, node);
  log.info(`Forwarding ${item.route} (${forward.mode}).`);
  // Not awaited: the command is done once the forward runs, whether or not the toast is answered.
  void vscode.window
    .showInformationMessage(`Forwarding ${request.service}: ${item.route}.`, 'Open in Browser')
    .then((choice) => choice && openInBrowser(item))
    .then(undefined, showError);
}

/**
 * Opens the forward's local address. asExternalUri makes it work where the extension host is not
 * on the user's machine (Remote SSH, code-server, Codespaces): VS Code forwards the port and
 * returns the address the browser can reach.
 */
export async function openInBrowser(item: ForwardItem): Promise<void> {
  const uri = await vscode.env.asExternalUri(vscode.Uri.parse(`http://localhost:${item.forward.localPort}/`));
  await vscode.env.openExternal(uri);
}

function isPort(value: number): boolean {
  return Number.isInteger(value) && value >= 1 && value <= 65535;
}

function isLocalPortFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once('error', () => resolve(false));
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(true)));
  });
}

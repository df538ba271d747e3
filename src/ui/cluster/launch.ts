import * as vscode from 'vscode';
import { CLUSTER_FILE_NAME, parseClusterFile, type ClusterFileProblem, type ClusterSpec } from '../../cluster/clusterFile';
import type { NodeGroup } from '../../cluster/grouping';
import { launchSummary, type LaunchReport } from '../../cluster/launch';
import { nodeLabel } from '../../cluster/model';
import { planScale } from '../../cluster/scale';
import { plural } from '../../core/format';
import { log } from '../log';
import { withCancellableProgress } from '../progress';
import type { ClusterExplorer } from './explorer';

const FILE_GLOB = `**/${CLUSTER_FILE_NAME}`;

/**
 * The problems of every research-cluster.yaml as editor diagnostics, checked when one is opened
 * or saved (and before each launch), with the same sentences the launch command shows.
 */
export class ClusterFileDiagnostics implements vscode.Disposable {
  private readonly collection = vscode.languages.createDiagnosticCollection('research-cluster');
  private readonly subscriptions: vscode.Disposable[];

  constructor() {
    const check = (doc: vscode.TextDocument) => {
      if (isClusterFile(doc.uri)) this.check(doc);
    };
    this.subscriptions = [
      this.collection,
      vscode.workspace.onDidOpenTextDocument(check),
      vscode.workspace.onDidSaveTextDocument(check),
      vscode.workspace.onDidCloseTextDocument((doc) => this.collection.delete(doc.uri)),
    ];
    vscode.workspace.textDocuments.forEach(check);
  }

  /** Parses the document, shows its problems (or clears them), and gives the result. */
  check(doc: vscode.TextDocument): ReturnType<typeof parseClusterFile> {
    const result = parseClusterFile(doc.getText());
    this.collection.set(doc.uri, result.ok ? [] : result.problems.map((p) => diagnostic(doc, p)));
    return result;
  }

  dispose(): void {
    for (const d of this.subscriptions) d.dispose();
  }
}

function diagnostic(doc: vscode.TextDocument, problem: ClusterFileProblem): vscode.Diagnostic {
  const line = Math.min(Math.max((problem.line ?? 1) - 1, 0), doc.lineCount - 1);
  const text = doc.lineAt(line);
  const range = new vscode.Range(line, text.firstNonWhitespaceCharacterIndex, line, text.range.end.character);
  const d = new vscode.Diagnostic(range, problem.message.replace(/^Line \d+: /, ''), vscode.DiagnosticSeverity.Error);
  d.source = CLUSTER_FILE_NAME;
  return d;
}

function isClusterFile(uri: vscode.Uri): boolean {
  return uri.path.endsWith(`/${CLUSTER_FILE_NAME}`);
}

/** Launch Nodes from Cluster File…: pick the file, check it, confirm, launch, report. */
export async function launchFromFile(explorer: ClusterExplorer, diagnostics: ClusterFileDiagnostics, argument?: unknown): Promise<void> {
  const uri = argument instanceof vscode.Uri && isClusterFile(argument) ? argument : await pickClusterFile();
  if (!uri) return;
  const spec = await readSpec(uri, diagnostics);
  if (!spec) return;
  const region = spec.region ?? (await explorer.service.regions())[0];
  const market = spec.spot ? 'spot' : 'on-demand';
  const types = spec.instanceTypes?.join(', ') ?? 'the launch template’s type';
  const launch = `Launch ${plural(spec.count, 'Node')}`;
  const choice = await vscode.window.showInformationMessage(
    `Launch ${plural(spec.count, `${market} node`)} of ${spec.name} in ${region}?`,
    { modal: true, detail: `Instance types, tried in order: ${types}.` },
    launch,
  );
  if (choice !== launch) return;
  const report = await withCancellableProgress(`Launching ${spec.name}`, (signal, progress) => explorer.service.launch(spec, { signal, progress }));
  explorer.refresh();
  await showReport(`Launch ${spec.name}`, report);
}

/** Scale to N…: the number of compute nodes for a tagged cluster, launched from its file or terminated newest first. */
export async function scaleGroup(explorer: ClusterExplorer, group: NodeGroup): Promise<void> {
  // Thrown here for ParallelCluster clusters and "Other instances", before asking anything.
  const current = planScale(group, 0).current;
  const answer = await vscode.window.showInputBox({
    title: `Scale ${group.label}`,
    prompt: `Compute nodes wanted (now ${current}); head and login nodes are kept.`,
    value: String(current),
    validateInput: (v) => (/^\d+$/.test(v.trim()) ? undefined : 'A whole number of 0 or more.'),
  });
  if (answer === undefined) return;
  const plan = planScale(group, Number(answer.trim()));
  if (!plan.add && !plan.remove.length) {
    void vscode.window.showInformationMessage(`${group.label} has ${plural(plan.current, 'compute node')} already.`);
    return;
  }
  const spec = plan.add ? await specOf(group) : undefined;
  if (plan.add && !spec) return;
  const detail = plan.add
    ? `Launches ${plural(plan.add, 'compute node')} from ${CLUSTER_FILE_NAME}.`
    : `Terminates the newest: ${plan.remove.map(nodeLabel).join(', ')}. This cannot be undone.`;
  const button = `Scale to ${plan.target}`;
  if ((await vscode.window.showWarningMessage(`Scale ${group.label} from ${plan.current} to ${plan.target} compute nodes?`, { modal: true, detail }, button)) !== button) return;
  const result = await withCancellableProgress(`Scaling ${group.label}`, (signal, progress) =>
    // Removing nodes needs no file; the service only reads it to launch.
    explorer.service.scale(group, spec ?? { name: group.label, count: 0 }, plan.target, { signal, progress }),
  );
  explorer.refresh();
  if (result.launched) await showReport(`Scale ${group.label}`, result.launched);
  for (const o of result.terminated ?? []) log.info(`Terminate ${nodeLabel(o.node)}: ${o.status}${o.message ? `. ${o.message}` : ''}`);
  const failed = (result.terminated ?? []).filter((o) => o.status !== 'done');
  if (failed.length) {
    if (await vscode.window.showWarningMessage(`Scale ${group.label}: ${failed.length} node(s) not terminated. ${failed.map((o) => o.message).join(' ')}`, 'Show Log')) log.show(true);
  } else if (result.terminated) {
    void vscode.window.showInformationMessage(`Scale ${group.label}: terminated ${plural(result.terminated.length, 'node')}.`);
  }
}

async function pickClusterFile(): Promise<vscode.Uri | undefined> {
  const files = await vscode.workspace.findFiles(FILE_GLOB, '**/node_modules/**', 50);
  if (!files.length) {
    void vscode.window.showInformationMessage(
      `No ${CLUSTER_FILE_NAME} in this workspace. Create one at the workspace root: the YAML extension completes its keys from the schema.`,
    );
    return undefined;
  }
  if (files.length === 1) return files[0];
  const picked = await vscode.window.showQuickPick(
    files.map((uri) => ({ label: vscode.workspace.asRelativePath(uri), uri })),
    { title: 'Launch nodes from which cluster file?' },
  );
  return picked?.uri;
}

/** The file's spec, or undefined after showing its problems (with line numbers) in the editor and the log. */
async function readSpec(uri: vscode.Uri, diagnostics: ClusterFileDiagnostics): Promise<ClusterSpec | undefined> {
  // Opened as a document so unsaved edits count, as the user sees them.
  const doc = await vscode.workspace.openTextDocument(uri);
  const result = diagnostics.check(doc);
  if (result.ok) return result.spec;
  const where = vscode.workspace.asRelativePath(uri);
  log.error(`${where} has ${plural(result.problems.length, 'problem')}:`);
  for (const p of result.problems) log.error(`  ${p.message}`);
  const show = 'Open File';
  const choice = await vscode.window.showErrorMessage(`${where}: ${result.problems.map((p) => p.message).join(' ')}`, show);
  if (choice === show) await vscode.window.showTextDocument(doc);
  return undefined;
}

/** The valid cluster file in the workspace that describes the group, or undefined after saying why none does. */
async function specOf(group: NodeGroup): Promise<ClusterSpec | undefined> {
  const files = await vscode.workspace.findFiles(FILE_GLOB, '**/node_modules/**', 50);
  for (const uri of files) {
    const result = parseClusterFile((await vscode.workspace.openTextDocument(uri)).getText());
    if (result.ok && result.spec.name === group.label) return result.spec;
  }
  void vscode.window.showErrorMessage(`Scale ${group.label}: no valid ${CLUSTER_FILE_NAME} in the workspace has name: ${group.label}; new nodes are launched from it.`);
  return undefined;
}

async function showReport(title: string, report: LaunchReport): Promise<void> {
  const summary = launchSummary(report);
  log.info(`${title}: ${summary}`);
  for (const note of report.notes) log.info(`  ${note}`);
  for (const attempt of report.attempts) log.info(`  ${attempt.instanceType ?? 'template type'} in ${attempt.subnet ?? 'default subnet'}: ${attempt.message}`);
  if (report.error) log.error(`  ${report.error.message}`);
  const ok = report.instanceIds.length === report.requested && !report.error;
  const choice = ok ? await vscode.window.showInformationMessage(`${title}: ${summary}`, 'Show Log') : await vscode.window.showWarningMessage(`${title}: ${summary}`, 'Show Log');
  if (choice) log.show(true);
}

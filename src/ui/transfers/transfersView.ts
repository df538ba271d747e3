import * as vscode from 'vscode';
import type { JobState, TransferJob, TransferJobs } from './jobs';

const ICONS: Record<JobState, string> = {
  running: 'sync~spin',
  finished: 'pass',
  failed: 'error',
  paused: 'debug-pause',
};

/** The Transfers view: running, paused (resumable), finished and failed upload jobs. */
export class TransfersView implements vscode.TreeDataProvider<TransferJob>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<TransferJob | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  private readonly subscription: vscode.Disposable;
  private pending?: NodeJS.Timeout;

  constructor(private readonly jobs: TransferJobs) {
    // Progress arrives many times a second; the view redraws at most four times a second.
    this.subscription = jobs.onDidChange(() => {
      this.pending ??= setTimeout(() => {
        this.pending = undefined;
        this.changed.fire(undefined);
      }, 250);
    });
  }

  getTreeItem(job: TransferJob): vscode.TreeItem {
    const item = new vscode.TreeItem(`${job.label} → ${job.destination}`, vscode.TreeItemCollapsibleState.None);
    item.id = job.id;
    item.description = job.status;
    item.iconPath = new vscode.ThemeIcon(ICONS[job.state]);
    item.tooltip = new vscode.MarkdownString([`**${job.label}** → \`${job.destination}\``, `State: ${job.state}`, job.status, ...job.failures.slice(0, 5).map((f) => `- ${f}`)].join('\n\n'));
    item.contextValue = `transfer.${job.state}${job.journalFile ? '.resumable' : ''}`;
    item.command = { command: 'researchCloud.transfers.showLog', title: 'Open Log', arguments: [job] };
    return item;
  }

  getChildren(job?: TransferJob): TransferJob[] {
    return job ? [] : this.jobs.list();
  }

  dispose(): void {
    clearTimeout(this.pending);
    this.subscription.dispose();
    this.changed.dispose();
  }
}

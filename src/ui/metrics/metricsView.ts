import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import * as vscode from 'vscode';
import { isCancellation } from '../../core/progress';
import { parseFromWebview, isTimeRange, type ToWebview } from '../../metrics/messages';
import { DEFAULT_RANGE, type TimeRange } from '../../metrics/periods';
import { selectionTitle, type Selection } from '../../metrics/selection';
import { loadMetrics } from '../../metrics/service';
import type { ConnectionState } from '../connectionState';
import { log } from '../log';
import { metricsHtml, metricsResourceRoots } from './html';

export const METRICS_VIEW_ID = 'researchCloud.metrics';
// Per workspace: the panel comes back after a reload showing what it showed.
const SELECTION_KEY = 'researchCloud.metrics.selection';
const RANGE_KEY = 'researchCloud.metrics.range';

/**
 * The Metrics webview view. Loads only while the view is visible: auto-refresh stops when it is
 * hidden, and VS Code drops a hidden webview's page, whose 'ready' on re-show loads afresh.
 */
export class MetricsView implements vscode.WebviewViewProvider, vscode.Disposable {
  private view?: vscode.WebviewView;
  private ready = false;
  private timer?: NodeJS.Timeout;
  private loading?: AbortController;
  private readonly subscriptions: vscode.Disposable[] = [];

  constructor(
    private readonly state: ConnectionState,
    private readonly extensionUri: vscode.Uri,
    private readonly memento: vscode.Memento,
  ) {
    this.subscriptions.push(
      state.onDidChange(() => void this.refresh()),
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (e.affectsConfiguration('researchCloud.metrics.refreshSeconds')) this.schedule();
      }),
    );
  }

  resolveWebviewView(view: vscode.WebviewView): void {
    this.view = view;
    this.ready = false;
    view.webview.options = { enableScripts: true, localResourceRoots: metricsResourceRoots(this.extensionUri) };
    view.webview.html = metricsHtml(view.webview, this.extensionUri);
    this.subscriptions.push(
      view.webview.onDidReceiveMessage((raw) => this.onMessage(raw)),
      view.onDidChangeVisibility(() => {
        // A hidden page is gone; it posts 'ready' again when shown, which loads afresh.
        if (view.visible) return;
        this.stop();
        this.ready = false;
      }),
      view.onDidDispose(() => {
        this.stop();
        this.view = undefined;
        this.ready = false;
      }),
    );
  }

  /** Shows `selection` in the panel, revealing it. */
  async show(selection: Selection): Promise<void> {
    await this.memento.update(SELECTION_KEY, selection);
    await vscode.commands.executeCommand(`${METRICS_VIEW_ID}.focus`);
    await this.refresh();
  }

  async refresh(): Promise<void> {
    if (!this.view || !this.ready) return; // 'ready' will load
    this.stop();
    const selection = this.memento.get<Selection>(SELECTION_KEY);
    if (!selection) return this.post({ type: 'empty' });
    const range = this.range();
    const title = selectionTitle(selection);
    const controller = new AbortController();
    this.loading = controller;
    await this.post({ type: 'loading', title, range });
    const connection = this.state.connection;
    try {
      const data = await loadMetrics((region) => connection.client(CloudWatchClient, 'cloudwatch', region), selection, range, {
        signal: controller.signal,
        defaultRegion: await connection.region(),
      });
      if (!controller.signal.aborted) await this.post({ type: 'data', range, data });
    } catch (err) {
      if (controller.signal.aborted || isCancellation(err)) return;
      const message = err instanceof Error ? err.message : String(err);
      log.error(message);
      await this.post({ type: 'error', title, range, message });
    }
    if (this.loading === controller) this.schedule();
  }

  dispose(): void {
    this.stop();
    for (const d of this.subscriptions) d.dispose();
  }

  private async onMessage(raw: unknown): Promise<void> {
    const message = parseFromWebview(raw);
    switch (message?.type) {
      case 'ready':
        this.ready = true;
        return this.refresh();
      case 'refresh':
        return this.refresh();
      case 'setRange':
        await this.memento.update(RANGE_KEY, message.range);
        return this.refresh();
      case 'rendered':
        log.info(`Metrics drawn in ${message.ms.toFixed(0)} ms (${message.points.toLocaleString('en-US')} points).`);
        return;
    }
  }

  private range(): TimeRange {
    const saved = this.memento.get<unknown>(RANGE_KEY);
    return isTimeRange(saved) ? saved : DEFAULT_RANGE;
  }

  /** The next auto-refresh, counted from the end of the last load so loads never overlap. */
  private schedule(): void {
    clearTimeout(this.timer);
    const seconds = vscode.workspace.getConfiguration('researchCloud.metrics').get<number>('refreshSeconds') ?? 60;
    if (seconds > 0 && this.view?.visible && this.ready && this.memento.get(SELECTION_KEY)) {
      this.timer = setTimeout(() => void this.refresh(), seconds * 1000);
    }
  }

  private stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.loading?.abort();
    this.loading = undefined;
  }

  private async post(message: ToWebview): Promise<void> {
    await this.view?.webview.postMessage(message);
  }
}

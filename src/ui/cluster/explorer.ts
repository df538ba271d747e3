import * as vscode from 'vscode';
import type { IdleGuard } from '../../cluster/idleGuard';
import type { InterruptionNotice } from '../../cluster/interruptions';
import { ClusterService, type ClusterSnapshot } from '../../cluster/service';
import { DEFAULT_TAG_KEYS } from '../../cluster/tags';
import { isCancellation } from '../../core/progress';
import type { ConnectionState } from '../connectionState';
import { log } from '../log';
import { isTransitional } from './describe';

/** How often to look again while a node is pending, stopping or shutting down. */
const TRANSITION_POLL_MS = 3_000;
/** Refresh requests closer together than this (a burst of events, clicks) make one snapshot. */
const DEBOUNCE_MS = 250;
/** With a daily budget set, the nodes are looked at this often even when the view is hidden. */
const BUDGET_POLL_MS = 15 * 60_000;

/**
 * What the Cluster view, the cost status bar and the budget watch share: the service of the
 * current connection and settings, its latest snapshot, the idle guards, and a refresh that is
 * debounced, runs one at a time and polls only while a node is in transition and the view shows.
 */
export class ClusterExplorer implements vscode.Disposable {
  private currentService: ClusterService;
  private latest?: ClusterSnapshot;
  private failure?: Error;
  private guardList: readonly IdleGuard[] = [];
  /** Interruptions and events per instance id, kept for the tooltips until the window closes. */
  private readonly noticed = new Map<string, InterruptionNotice[]>();
  private visible = false;
  private timer?: NodeJS.Timeout;
  private budgetTimer?: NodeJS.Timeout;
  private inFlight?: Promise<void>;
  private controller = new AbortController();
  private readonly changed = new vscode.EventEmitter<void>();
  /** After each snapshot (or failure): the tree, the status bar and the budget watch redraw. */
  readonly onDidChange = this.changed.event;
  private readonly subscriptions: vscode.Disposable[] = [];

  constructor(
    private readonly state: ConnectionState,
    private readonly cacheDir: string,
  ) {
    this.currentService = this.makeService();
    this.subscriptions.push(
      this.changed,
      state.onDidChange(() => this.reset()),
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (e.affectsConfiguration('researchCloud.cluster')) this.reset();
      }),
    );
    this.scheduleBudgetWatch();
  }

  get service(): ClusterService {
    return this.currentService;
  }

  get snapshot(): ClusterSnapshot | undefined {
    return this.latest;
  }

  /** Why the last refresh found nothing at all (no region could be read); undefined otherwise. */
  get error(): Error | undefined {
    return this.failure;
  }

  get guards(): readonly IdleGuard[] {
    return this.guardList;
  }

  noticesOf(instanceId: string): readonly InterruptionNotice[] {
    return this.noticed.get(instanceId) ?? [];
  }

  /** The view shows or hides: polling runs only while it shows (the tree's first getChildren loads it). */
  setVisible(visible: boolean): void {
    this.visible = visible;
    if (!visible) this.clearTimer();
    else if (this.latest?.nodes.some(isTransitional)) this.refresh();
  }

  /** Asks for a fresh snapshot soon; many asks in a row make one. */
  refresh(delayMs = DEBOUNCE_MS): void {
    this.clearTimer();
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.refreshNow();
    }, delayMs);
  }

  /** Takes a snapshot now (or waits for the one running) and the idle guards. */
  async refreshNow(): Promise<void> {
    this.inFlight ??= this.load().finally(() => (this.inFlight = undefined));
    return this.inFlight;
  }

  dispose(): void {
    this.clearTimer();
    clearTimeout(this.budgetTimer);
    this.controller.abort();
    for (const d of this.subscriptions) d.dispose();
  }

  private async load(): Promise<void> {
    const { signal } = this.controller;
    const service = this.currentService;
    // Guards come from CloudWatch, which can be slow or denied while EC2 answers: they follow
    // the nodes instead of holding them back.
    void this.loadGuards(service, signal);
    try {
      const snapshot = await service.snapshot(signal);
      if (service !== this.currentService) return;
      this.latest = snapshot;
      this.failure = undefined;
      for (const problem of snapshot.problems) log.warn(problem.message);
      this.notify(snapshot.notices);
    } catch (err) {
      if (isCancellation(err) || service !== this.currentService) return;
      this.failure = err instanceof Error ? err : new Error(String(err));
      log.error(this.failure.message);
    }
    this.changed.fire();
    if (this.visible && this.latest?.nodes.some(isTransitional)) this.refresh(TRANSITION_POLL_MS);
  }

  private async loadGuards(service: ClusterService, signal: AbortSignal): Promise<void> {
    try {
      const guards = await service.guards(signal);
      if (service !== this.currentService) return;
      this.guardList = guards;
      this.changed.fire();
    } catch (err) {
      if (!isCancellation(err)) log.warn(`Idle guards could not be read: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  private notify(notices: readonly InterruptionNotice[]): void {
    for (const notice of notices) {
      const id = notice.node.instanceId;
      this.noticed.set(id, [...(this.noticed.get(id) ?? []), notice]);
      log.warn(notice.message);
      void vscode.window.showWarningMessage(notice.message, 'Show in Cluster View').then((choice) => {
        if (choice) void vscode.commands.executeCommand('researchCloud.cluster.focus');
      });
    }
  }

  /** A new connection or new settings: what was shown belongs to the old ones. */
  private reset(): void {
    this.controller.abort();
    this.controller = new AbortController();
    this.currentService = this.makeService();
    this.latest = undefined;
    this.failure = undefined;
    this.guardList = [];
    this.noticed.clear();
    this.changed.fire();
    this.scheduleBudgetWatch();
    if (this.visible) this.refresh();
  }

  private scheduleBudgetWatch(): void {
    clearTimeout(this.budgetTimer);
    if (!(dailyBudget() > 0)) return;
    // The first look comes soon after start, so a budget passed overnight is told at once.
    const tick = (delay: number) => {
      this.budgetTimer = setTimeout(() => {
        if (!this.visible) void this.refreshNow();
        tick(BUDGET_POLL_MS);
      }, delay);
    };
    tick(5_000);
  }

  private clearTimer(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private makeService(): ClusterService {
    const config = vscode.workspace.getConfiguration('researchCloud.cluster');
    const regions = (config.get<string[]>('regions') ?? []).map((r) => r.trim()).filter(Boolean);
    const tagKey = config.get<string>('tagKey')?.trim() || DEFAULT_TAG_KEYS.cluster;
    return new ClusterService(this.state.connection, { cacheDir: this.cacheDir, regions, tagKeys: { ...DEFAULT_TAG_KEYS, cluster: tagKey } });
  }
}

/** The daily budget in USD; 0 when off. */
export function dailyBudget(): number {
  return vscode.workspace.getConfiguration('researchCloud.cluster').get<number>('dailyBudgetUSD') ?? 0;
}

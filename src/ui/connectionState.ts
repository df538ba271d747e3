import * as vscode from 'vscode';
import { Connection, type ConnectionOptions } from '../aws/connection';

const PROFILE_KEY = 'researchCloud.selectedProfile';
const REGION_KEY = 'researchCloud.selectedRegion';

/**
 * Holds the Connection the rest of the UI uses. The profile or region picked from the status bar
 * is kept in the extension's own state, never written into the user's settings; the settings are
 * the defaults, and changing one drops the pick so the setting takes effect.
 */
export class ConnectionState implements vscode.Disposable {
  private current: Connection;
  private readonly changed = new vscode.EventEmitter<Connection>();
  readonly onDidChange = this.changed.event;
  private readonly subscriptions: vscode.Disposable[] = [];

  constructor(private readonly state: vscode.Memento) {
    this.current = new Connection(this.options());
    this.subscriptions.push(
      this.changed,
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (!e.affectsConfiguration('researchCloud')) return;
        if (e.affectsConfiguration('researchCloud.profile')) void this.state.update(PROFILE_KEY, undefined);
        if (e.affectsConfiguration('researchCloud.region')) void this.state.update(REGION_KEY, undefined);
        this.rebuild();
      }),
    );
  }

  get connection(): Connection {
    return this.current;
  }

  async selectProfile(profile: string | undefined): Promise<void> {
    await this.state.update(PROFILE_KEY, profile);
    // A profile usually carries its own region: drop a region picked for the previous one.
    await this.state.update(REGION_KEY, undefined);
    this.rebuild();
  }

  async selectRegion(region: string | undefined): Promise<void> {
    await this.state.update(REGION_KEY, region);
    this.rebuild();
  }

  dispose(): void {
    this.current.dispose();
    for (const d of this.subscriptions) d.dispose();
  }

  private rebuild(): void {
    this.current.dispose();
    this.current = new Connection(this.options());
    this.changed.fire(this.current);
  }

  private options(): ConnectionOptions {
    const config = vscode.workspace.getConfiguration('researchCloud');
    const pathStyle = config.get<boolean | null>('s3.forcePathStyle');
    return {
      profile: this.state.get<string>(PROFILE_KEY) || config.get<string>('profile') || undefined,
      region: this.state.get<string>(REGION_KEY) || config.get<string>('region') || undefined,
      s3Endpoint: config.get<string>('s3.endpoint') || undefined,
      s3ForcePathStyle: typeof pathStyle === 'boolean' ? pathStyle : undefined,
      maxSockets: Math.max(64, config.get<number>('transfer.concurrency') ?? 16),
    };
  }
}

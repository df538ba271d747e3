import * as vscode from 'vscode';
import { listProfiles, readSharedFiles } from '../aws/profiles';
import { AWS_REGIONS } from '../aws/regions';
import type { ConnectionState } from './connectionState';

/** The status bar item naming the active profile and region; clicking it offers to switch. */
export function registerConnectionStatus(state: ConnectionState): vscode.Disposable {
  const item = vscode.window.createStatusBarItem('researchCloud.connection', vscode.StatusBarAlignment.Left, 50);
  item.name = 'Research Cloud: AWS profile and region';
  item.command = 'researchCloud.switchConnection';
  const update = async () => {
    const connection = state.connection;
    const region = await connection.region().catch(() => '?');
    const endpoint = await connection.endpoint('s3').catch(() => undefined);
    item.text = `$(cloud) ${connection.profileName} · ${region}`;
    item.tooltip = new vscode.MarkdownString(
      `**Research Cloud**\n\nProfile: \`${connection.profileName}\`\n\nRegion: \`${region}\`` +
        (endpoint ? `\n\nS3 endpoint: \`${endpoint}\`` : '') +
        '\n\nClick to switch profile or region.',
    );
    item.show();
  };
  void update();
  return vscode.Disposable.from(
    item,
    state.onDidChange(() => void update()),
    vscode.commands.registerCommand('researchCloud.switchConnection', () => switchConnection(state)),
    vscode.commands.registerCommand('researchCloud.switchProfile', () => pickProfile(state)),
    vscode.commands.registerCommand('researchCloud.switchRegion', () => pickRegion(state)),
  );
}

async function switchConnection(state: ConnectionState): Promise<void> {
  const choice = await vscode.window.showQuickPick(
    [
      { label: '$(account) Switch profile…', detail: `Now: ${state.connection.profileName}`, run: pickProfile },
      { label: '$(globe) Switch region…', detail: `Now: ${await state.connection.region()}`, run: pickRegion },
    ],
    { title: 'Research Cloud connection' },
  );
  await choice?.run(state);
}

async function pickProfile(state: ConnectionState): Promise<void> {
  const profiles = listProfiles(await readSharedFiles());
  const current = state.connection.profileName;
  const fromEnvironment = {
    label: 'From the environment',
    description: 'AWS_PROFILE, access keys in the environment, or instance role',
    profile: undefined as string | undefined,
  };
  const picked = await vscode.window.showQuickPick(
    [
      fromEnvironment,
      ...profiles.map((p) => ({
        label: p.name,
        description: [p.kind, p.region, p.name === current ? '(active)' : ''].filter(Boolean).join(' · '),
        profile: p.name as string | undefined,
      })),
    ],
    {
      title: 'AWS profile',
      placeHolder: profiles.length ? 'Profiles from ~/.aws/config and ~/.aws/credentials' : 'No profiles found in ~/.aws/config or ~/.aws/credentials',
    },
  );
  if (picked) await state.selectProfile(picked.profile);
}

async function pickRegion(state: ConnectionState): Promise<void> {
  const current = await state.connection.region();
  const other = { label: 'Other…', description: 'type a region code', code: '' };
  const picked = await vscode.window.showQuickPick(
    [...AWS_REGIONS.map(([code, name]) => ({ label: code, description: code === current ? `${name} (active)` : name, code })), other],
    { title: 'AWS region', matchOnDescription: true },
  );
  if (!picked) return;
  const code =
    picked === other
      ? await vscode.window.showInputBox({
          title: 'AWS region code',
          placeHolder: 'e.g. eu-central-1',
          validateInput: (v) => (/^[a-z]{2}(-[a-z]+)+-\d+$/.test(v.trim()) ? undefined : 'A region code looks like eu-central-1.'),
        })
      : picked.code;
  if (code) await state.selectRegion(code.trim());
}

import * as vscode from 'vscode';
import type { Connection } from '../../aws/connection';
import { checkReadiness, type SessionPurpose } from '../../ssm/readiness';
import { log } from '../log';

const TRY_ANYWAY = 'Connect Anyway';

/**
 * Checks that the target is running and its SSM Agent online before a session is started, and
 * when something is missing says what, in a dialog the user answers: a session that cannot
 * connect would otherwise hang for a minute and end in a vaguer error. Resolves true to go ahead.
 * Runs under the caller's progress, so checking and connecting show as one step.
 */
export async function confirmReady(connection: Connection, target: string, purpose: SessionPurpose, signal: AbortSignal): Promise<boolean> {
  const readiness = await checkReadiness(connection, target, purpose, signal);
  for (const note of readiness.notes) log.info(note);
  if (readiness.ready) return true;
  const problem = readiness.problem ?? `${target} is not ready for Session Manager.`;
  log.warn([problem, ...readiness.causes.map((c) => `  - ${c}`)].join('\n'));
  const detail = readiness.causes.length ? `What may be missing:\n\n${readiness.causes.map((c) => `• ${c}`).join('\n\n')}` : undefined;
  const choice = await vscode.window.showErrorMessage(problem, { modal: true, detail }, ...(readiness.mayTryAnyway ? [TRY_ANYWAY] : []));
  return choice === TRY_ANYWAY;
}

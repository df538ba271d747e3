import * as vscode from 'vscode';
import { isCancellation } from '../core/progress';

/**
 * The extension's output channel. Messages here are sentences about what happened; nothing
 * written here may contain credentials, session tokens or presigned URLs.
 */
export const log = vscode.window.createOutputChannel('Research Cloud', { log: true });

/** Shows an error to the user (cancellations stay quiet) and keeps it in the log. */
export async function showError(err: unknown): Promise<void> {
  if (isCancellation(err)) {
    log.info('Cancelled.');
    return;
  }
  const message = err instanceof Error ? err.message : String(err);
  log.error(message);
  const choice = await vscode.window.showErrorMessage(message, 'Show Log');
  if (choice) log.show(true);
}

/** Wraps a command handler so a thrown error becomes a message instead of vanishing. */
export function guarded<A extends unknown[]>(handler: (...args: A) => unknown): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await handler(...args);
    } catch (err) {
      await showError(err);
    }
  };
}

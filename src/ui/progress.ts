import * as vscode from 'vscode';
import type { ProgressSink } from '../core/progress';
import { fractionDone, RateMeter } from '../core/rate';

/**
 * Runs a long operation under a cancellable progress notification. The operation gets an
 * AbortSignal wired to the Cancel button and a ProgressSink that becomes the notification's text.
 */
export function withCancellableProgress<T>(
  title: string,
  task: (signal: AbortSignal, progress: ProgressSink) => Promise<T>,
): Thenable<T> {
  return vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title, cancellable: true },
    async (progress, token) => {
      const controller = new AbortController();
      const subscription = token.onCancellationRequested(() => controller.abort());
      const meter = new RateMeter();
      let reported = 0; // VS Code's progress takes increments, not absolute values
      try {
        return await task(controller.signal, (report) => {
          const fraction = fractionDone(report);
          const increment = fraction === undefined ? undefined : Math.max(0, fraction * 100 - reported);
          if (increment) reported += increment;
          progress.report({ message: report.message ?? meter.describe(report), increment });
        });
      } finally {
        subscription.dispose();
      }
    },
  );
}

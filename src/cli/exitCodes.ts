import { isCancellation } from '../core/progress';

/** What scripts can rely on: the exit status of every command. */
export enum ExitCode {
  /** Everything was done. */
  Success = 0,
  /** The job ran, but some files failed; they are listed on stderr with the reasons. */
  SomeFailed = 1,
  /** The command line was wrong; nothing was done. */
  Usage = 2,
  /** The job stopped: credentials, access denied, a missing bucket, or the user cancelled. */
  Stopped = 3,
}

/** A command line that cannot be run as given; the message says what to change. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export function exitCodeForError(err: unknown): ExitCode {
  return err instanceof UsageError ? ExitCode.Usage : ExitCode.Stopped;
}

/**
 * The sentence to show for an error that ended a command. The engine already turns AWS errors
 * into sentences; cancellation in any form reads the same, and nothing gets a stack trace.
 */
export function errorSentence(err: unknown): string {
  if (isCancellation(err)) return 'Cancelled.';
  if (err instanceof Error) return err.message;
  return String(err);
}

/** What a finished job leaves undone decides between success and "some files failed". */
export function exitCodeForOutcome(undone: { readonly failedFiles: number; readonly notUploaded: number; readonly failedDeletes: number }): ExitCode {
  return undone.failedFiles || undone.notUploaded || undone.failedDeletes ? ExitCode.SomeFailed : ExitCode.Success;
}

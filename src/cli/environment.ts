import { setMaxListeners } from 'node:events';
import { homedir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import { Connection } from '../aws/connection';
import { CancelledError } from '../core/progress';
import type { ConnectionFlags } from './args';
import { ExitCode } from './exitCodes';
import type { Output } from './output';

/** Checkpoints live in the cache directory of the XDG spec: they can be rebuilt, but are worth keeping. */
export function jobsDirectory(env: NodeJS.ProcessEnv = process.env): string {
  // The spec says a relative XDG_CACHE_HOME is invalid and must be ignored.
  const cache = env.XDG_CACHE_HOME && isAbsolute(env.XDG_CACHE_HOME) ? env.XDG_CACHE_HOME : join(homedir(), '.cache');
  return join(cache, 'research-cloud', 'jobs');
}

/** The extension's connection, with flags in place of its settings; the environment and ~/.aws do the rest. */
export function openConnection(flags: ConnectionFlags, requestsInFlight?: number): Connection {
  return new Connection({
    profile: flags.profile,
    region: flags.region,
    s3Endpoint: flags.endpoint,
    s3ForcePathStyle: flags.pathStyle,
    // The SDK client's sockets must not be fewer than the requests a download keeps in flight.
    ...(requestsInFlight !== undefined && { maxSockets: Math.max(64, requestsInFlight) }),
  });
}

/**
 * Ctrl-C, or SIGTERM (a batch job's time limit). The first one aborts the signal, so the job
 * stops cleanly: a checkpoint and open multipart uploads are kept for resume. A second one quits
 * at once, after `lastWords`.
 */
export class Interruption {
  private readonly controller = new AbortController();
  /** What to say when the user will not wait, e.g. how to resume. */
  lastWords?: () => string | undefined;

  constructor(private readonly output: Output) {
    // The engines add a listener per request in flight; dozens are expected, not a leak.
    setMaxListeners(0, this.controller.signal);
    process.on('SIGINT', this.onSignal);
    process.on('SIGTERM', this.onSignal);
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  dispose(): void {
    process.off('SIGINT', this.onSignal);
    process.off('SIGTERM', this.onSignal);
  }

  private readonly onSignal = (): void => {
    if (!this.controller.signal.aborted) {
      this.output.warn('Stopping… (Ctrl-C again quits at once)');
      this.controller.abort(new CancelledError());
      return;
    }
    const words = this.lastWords?.();
    if (words) this.output.warn(words);
    process.exit(ExitCode.Stopped);
  };
}

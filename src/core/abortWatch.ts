/**
 * Abort listeners for many waiters on few signals: one listener per signal, however many
 * waiters it has. Node keeps an AbortSignal's listeners in a list that every add and remove
 * walks, so a listener per waiter made each wait cost O(waiters): with a hundred files and
 * parts waiting on an upload job's signal, adding and removing them took a tenth of the
 * thread that sends the requests.
 */
export class AbortWatch<T> {
  private readonly bySignal = new Map<AbortSignal, { readonly entries: Set<T>; readonly listener: () => void }>();

  /** `onAbort` runs once per entry still watched when its signal aborts. */
  constructor(private readonly onAbort: (entry: T, reason: unknown) => void) {}

  add(signal: AbortSignal | undefined, entry: T): void {
    if (!signal) return;
    if (signal.aborted) {
      this.onAbort(entry, signal.reason);
      return;
    }
    let watched = this.bySignal.get(signal);
    if (!watched) {
      const entries = new Set<T>();
      const listener = () => {
        this.bySignal.delete(signal);
        for (const e of entries) this.onAbort(e, signal.reason);
      };
      signal.addEventListener('abort', listener, { once: true });
      watched = { entries, listener };
      this.bySignal.set(signal, watched);
    }
    watched.entries.add(entry);
  }

  /** Stops watching `entry`; the signal's listener goes with its last entry. */
  delete(signal: AbortSignal | undefined, entry: T): void {
    const watched = signal && this.bySignal.get(signal);
    if (!watched) return;
    watched.entries.delete(entry);
    if (watched.entries.size) return;
    signal.removeEventListener('abort', watched.listener);
    this.bySignal.delete(signal);
  }
}

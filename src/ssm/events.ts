// A minimal typed event, shaped like VS Code's so the UI layer can pass listeners straight through.

export interface Disposable {
  dispose(): void;
}

export type Listen<T> = (listener: (event: T) => void) => Disposable;

export class Emitter<T> {
  private readonly listeners = new Set<(event: T) => void>();

  readonly event: Listen<T> = (listener) => {
    this.listeners.add(listener);
    return { dispose: () => this.listeners.delete(listener) };
  };

  get hasListeners(): boolean {
    return this.listeners.size > 0;
  }

  fire(event: T): void {
    for (const listener of [...this.listeners]) listener(event);
  }

  clear(): void {
    this.listeners.clear();
  }
}

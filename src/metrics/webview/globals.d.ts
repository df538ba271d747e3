// What a VS Code webview gives its page, and what esbuild lets it import.
import type { FromWebview } from '../messages';

declare global {
  interface VsCodeApi<State> {
    postMessage(message: FromWebview): void;
    getState(): State | undefined;
    setState(state: State): void;
  }
  function acquireVsCodeApi<State = unknown>(): VsCodeApi<State>;
}

declare module '*.css';

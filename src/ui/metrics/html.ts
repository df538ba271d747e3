import { randomBytes } from 'node:crypto';
import * as vscode from 'vscode';

/**
 * The Metrics page: the bundled script and stylesheet from dist/webview, under a strict
 * Content-Security-Policy. Nothing comes from the network; the script runs only with this
 * page's nonce. uPlot sets element styles from script (CSSOM), which style-src does not govern,
 * so no 'unsafe-inline' is needed.
 */
export function metricsHtml(webview: vscode.Webview, extensionUri: vscode.Uri): string {
  const nonce = randomBytes(16).toString('base64');
  const asset = (name: string) => webview.asWebviewUri(vscode.Uri.joinPath(extensionUri, 'dist', 'webview', name));
  const csp = [
    "default-src 'none'",
    `script-src 'nonce-${nonce}'`,
    `style-src ${webview.cspSource} 'nonce-${nonce}'`,
    `img-src ${webview.cspSource} data:`,
    `font-src ${webview.cspSource}`,
  ].join('; ');
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" href="${asset('metrics.css')}" nonce="${nonce}">
<title>Metrics</title>
</head>
<body>
<script nonce="${nonce}" src="${asset('metrics.js')}"></script>
</body>
</html>`;
}

/** Where the webview may load files from: the bundles and the icons, nothing else. */
export function metricsResourceRoots(extensionUri: vscode.Uri): vscode.Uri[] {
  return [vscode.Uri.joinPath(extensionUri, 'dist'), vscode.Uri.joinPath(extensionUri, 'media')];
}

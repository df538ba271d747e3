// How long the Metrics webview takes to draw a 50-node cluster over 24 h (5 charts of 51 lines,
// 1,441 points each: about 367,000 points), from the 'data' message arriving to the frame after
// uPlot's draw, as the page itself measures it with performance.now() and reports in its
// 'rendered' message. Runs the built page (dist/webview) in Debian's headless Chromium with a
// stand-in for VS Code's webview API and theme variables. The budget is 1 s.
//   node scripts/bench-metrics.mjs [--runs 7] [--width 1200]
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';

const root = new URL('..', import.meta.url).pathname;
const { values: args } = parseArgs({ options: { runs: { type: 'string', default: '7' }, width: { type: 'string', default: '1200' }, nodes: { type: 'string', default: '50' } } });
const RUNS = Number(args.runs);
const NODES = Number(args.nodes);
const BUDGET_MS = 1000;

if (!existsSync(`${root}dist/webview/metrics.js`)) execFileSync(process.execPath, ['esbuild.mjs'], { cwd: root, stdio: 'inherit' });
const script = readFileSync(`${root}dist/webview/metrics.js`, 'utf8');
const style = readFileSync(`${root}dist/webview/metrics.css`, 'utf8');

/** What the extension sends for a cluster over 1 d at 60 s: random walks, as real nodes wander. */
function clusterData(nodes) {
  const period = 60;
  const end = Math.ceil(Date.now() / 1000 / period) * period;
  const start = end - 86400;
  const timestamps = Array.from({ length: (end - start) / period + 1 }, (_, i) => start + i * period);
  const walk = (scale) => {
    let v = Math.random() * scale;
    return timestamps.map(() => (v = Math.max(0, v + (Math.random() - 0.5) * scale * 0.1)));
  };
  const chart = (title, unit, scale, aggregate) => {
    const series = Array.from({ length: nodes }, (_, i) => ({ label: `node-${i}`, values: walk(scale) }));
    const combined = timestamps.map((_, t) => series.reduce((s, x) => s + x.values[t], 0) / (aggregate === 'AVG' ? nodes : 1));
    return { title, unit, timestamps, series: [...series, { label: aggregate === 'AVG' ? 'Mean' : 'Sum', values: combined, aggregate: true }] };
  };
  const charts = [
    chart('CPU utilization', 'percent', 100, 'AVG'),
    chart('Network in', 'bytesPerSecond', 1e7, 'SUM'),
    chart('Network out', 'bytesPerSecond', 1e7, 'SUM'),
    chart('EBS read', 'bytesPerSecond', 5e7, 'SUM'),
    chart('EBS write', 'bytesPerSecond', 5e7, 'SUM'),
  ];
  return { title: `Cluster bench · ${nodes} nodes`, region: 'us-east-1', period, start, end, charts, alarms: [], notes: [], fetchedAt: Date.now() };
}

// The variables VS Code's Dark Modern theme gives a webview, and its API as the page uses it.
const page = `<!DOCTYPE html><html style="--vscode-foreground:#cccccc;--vscode-font-family:sans-serif;--vscode-charts-blue:#3794ff;--vscode-charts-orange:#d18616;--vscode-charts-green:#89d185;--vscode-charts-purple:#b180d7;--vscode-charts-yellow:#cca700;--vscode-charts-red:#f14c4c;--vscode-editor-background:#1f1f1f">
<head><style>${style}</style></head><body class="vscode-dark">
<script>
  window.posted = [];
  window.acquireVsCodeApi = () => ({ postMessage: (m) => window.posted.push(m), getState: () => undefined, setState: () => {} });
</script>
<script>${script}</script></body></html>`;

const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
try {
  const tab = await browser.newPage({ viewport: { width: Number(args.width), height: 900 } });
  await tab.setContent(page);
  const data = clusterData(NODES);
  const timings = [];
  for (let run = 0; run < RUNS; run++) {
    const result = await tab.evaluate(async (message) => {
      window.posted.length = 0;
      window.postMessage(message, '*');
      for (;;) {
        const rendered = window.posted.find((m) => m.type === 'rendered');
        if (rendered) return rendered;
        await new Promise((r) => setTimeout(r, 5));
      }
    }, { type: 'data', range: { kind: 'preset', preset: '1d' }, data });
    timings.push(result.ms);
    if (run === 0) console.log(`${data.charts.length} charts, ${NODES + 1} lines each, ${result.points.toLocaleString('en-US')} points`);
  }
  timings.sort((a, b) => a - b);
  const median = timings[Math.floor(timings.length / 2)];
  console.log(`draw after data arrives, ${RUNS} runs at ${args.width} px: median ${median.toFixed(0)} ms, min ${timings[0].toFixed(0)} ms, max ${timings.at(-1).toFixed(0)} ms (budget ${BUDGET_MS} ms)`);
  process.exitCode = median <= BUDGET_MS ? 0 : 1;
} finally {
  await browser.close();
}

// The Metrics panel's page: draws what the extension sends with uPlot, in the theme's colours.
// It holds no AWS logic; it asks for ranges and refreshes and reports how long drawing took.
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import './metrics.css';
import { formatTick, formatValue } from '../format';
import type { ChartData, MetricsData, ToWebview } from '../messages';
import { describeRange, type PresetRange, type TimeRange } from '../periods';

/** The last message drawn, kept in the webview's state so a re-shown view paints at once. */
type State = { readonly last?: ToWebview };

const vscode = acquireVsCodeApi<State>();
const PRESETS: readonly PresetRange[] = ['1h', '3h', '12h', '1d', '7d'];
const CHART_HEIGHT = 180;
// The theme's chart colours, in the order lines take them.
const PALETTE_VARS = ['--vscode-charts-blue', '--vscode-charts-orange', '--vscode-charts-green', '--vscode-charts-purple', '--vscode-charts-yellow', '--vscode-charts-red'];
/** With more lines than colours (a cluster), node lines are faint so the aggregate stands out. */
const FAINT_ALPHA = 0.45;

function el<K extends keyof HTMLElementTagNameMap>(tag: K, props: Partial<HTMLElementTagNameMap[K]> = {}, ...children: Array<Node | string>): HTMLElementTagNameMap[K] {
  const node: HTMLElementTagNameMap[K] = document.createElement(tag);
  Object.assign(node, props);
  node.append(...children);
  return node;
}

const title = el('h2');
const subtitle = el('span', { className: 'subtitle' });
const status = el('span', { className: 'status' });
const rangeButtons = new Map<string, HTMLButtonElement>();
const customForm = el('form', { className: 'custom-range', hidden: true });
const fromInput = el('input', { type: 'datetime-local', required: true, title: 'From (local time)' });
const toInput = el('input', { type: 'datetime-local', required: true, title: 'To (local time)' });
const messages = el('div');
const alarmList = el('ul', { className: 'alarms' });
const chartsBox = el('div', { className: 'charts' });

let current: ToWebview | undefined;
let plots: uPlot[] = [];

function buildPage(): void {
  const toolbar = el('div', { className: 'toolbar', role: 'toolbar' });
  for (const preset of PRESETS) {
    const button = el('button', { type: 'button', textContent: preset, title: `Last ${preset}` });
    button.addEventListener('click', () => vscode.postMessage({ type: 'setRange', range: { kind: 'preset', preset } }));
    rangeButtons.set(preset, button);
    toolbar.append(button);
  }
  const custom = el('button', { type: 'button', textContent: 'Custom…', title: 'Pick start and end' });
  custom.addEventListener('click', () => {
    customForm.hidden = !customForm.hidden;
  });
  rangeButtons.set('custom', custom);
  const refresh = el('button', { type: 'button', textContent: 'Refresh', title: 'Read the metrics again' });
  refresh.addEventListener('click', () => vscode.postMessage({ type: 'refresh' }));
  toolbar.append(custom, refresh, status);

  customForm.append('From ', fromInput, ' to ', toInput, el('button', { type: 'submit', textContent: 'Apply' }));
  customForm.addEventListener('submit', (event) => {
    event.preventDefault();
    // datetime-local values are local times without a zone; Date parses them as local.
    const start = new Date(fromInput.value).getTime();
    const end = new Date(toInput.value).getTime();
    if (!(end > start)) {
      status.textContent = 'The end must come after the start.';
      return;
    }
    customForm.hidden = true;
    vscode.postMessage({ type: 'setRange', range: { kind: 'custom', start, end } });
  });

  document.body.append(el('header', {}, title, subtitle), toolbar, customForm, messages, alarmList, chartsBox);
}

function show(message: ToWebview, persist = true): void {
  current = message;
  if (persist && message.type !== 'loading') vscode.setState({ last: message });
  messages.replaceChildren();
  switch (message.type) {
    case 'empty':
      title.textContent = 'Metrics';
      subtitle.textContent = '';
      status.textContent = '';
      messages.append(el('p', { className: 'note', textContent: 'Choose Show Metrics on a node, cluster or bucket, or use the buttons in this view\'s title bar for the bill and for any metric of the account.' }));
      setRange(undefined);
      clearCharts();
      alarmList.replaceChildren();
      return;
    case 'loading':
      title.textContent = message.title;
      status.textContent = 'Loading…';
      setRange(message.range);
      return;
    case 'error':
      title.textContent = message.title;
      status.textContent = '';
      messages.append(el('p', { className: 'error', textContent: message.message }));
      setRange(message.range);
      return;
    case 'data':
      setRange(message.range);
      drawData(message.data);
      return;
  }
}

function setRange(range: TimeRange | undefined): void {
  const active = range?.kind === 'preset' ? range.preset : range?.kind;
  for (const [key, button] of rangeButtons) button.setAttribute('aria-pressed', String(key === active));
  const custom = rangeButtons.get('custom');
  if (custom) custom.title = range?.kind === 'custom' ? describeRange(range) : 'Pick start and end';
}

function drawData(data: MetricsData): void {
  const started = performance.now();
  title.textContent = data.title;
  subtitle.textContent = `${data.region} · one point per ${describePeriod(data.period)}`;
  status.textContent = `Updated ${new Date(data.fetchedAt).toLocaleTimeString()}`;
  for (const note of data.notes) messages.append(el('p', { className: 'note', textContent: note }));
  alarmList.replaceChildren(
    ...data.alarms.map((a) =>
      el('li', { title: a.reason ?? '' }, el('span', { className: `alarm-state ${a.state}`, textContent: a.state.replace('_', ' ') }), `${a.name}: ${a.condition}`),
    ),
  );
  drawCharts(data.charts);
  // uPlot draws in a microtask after construction; the next frame comes after that draw.
  requestAnimationFrame(() => {
    const ms = performance.now() - started;
    const points = data.charts.reduce((sum, c) => sum + c.timestamps.length * c.series.length, 0);
    document.body.dataset.renderMs = ms.toFixed(1);
    vscode.postMessage({ type: 'rendered', ms, points });
  });
}

function clearCharts(): void {
  for (const plot of plots) plot.destroy();
  plots = [];
  chartsBox.replaceChildren();
}

function drawCharts(charts: readonly ChartData[]): void {
  clearCharts();
  const theme = readTheme();
  const width = Math.max(200, chartsBox.clientWidth || document.body.clientWidth - 24);
  for (const chart of charts) {
    const box = el('section', { className: 'chart' }, el('h3', { textContent: chart.title }));
    chartsBox.append(box);
    plots.push(new uPlot(chartOptions(chart, theme, width), [chart.timestamps as number[], ...chart.series.map((s) => s.values as Array<number | null>)], box));
  }
}

interface Theme {
  readonly palette: readonly string[];
  readonly foreground: string;
  readonly grid: string;
  readonly font: string;
}

function readTheme(): Theme {
  const style = getComputedStyle(document.documentElement);
  const css = (name: string, fallback: string) => style.getPropertyValue(name).trim() || fallback;
  const foreground = css('--vscode-foreground', '#cccccc');
  return {
    palette: PALETTE_VARS.map((name) => css(name, foreground)),
    foreground,
    grid: css('--vscode-editorWidget-border', css('--vscode-panel-border', 'rgba(128,128,128,0.35)')),
    font: `11px ${css('--vscode-font-family', 'sans-serif')}`,
  };
}

function chartOptions(chart: ChartData, theme: Theme, width: number): uPlot.Options {
  const nodes = chart.series.filter((s) => !s.aggregate).length;
  const faint = nodes > theme.palette.length;
  const axis = (values?: uPlot.Axis['values']): uPlot.Axis => ({
    stroke: theme.foreground,
    font: theme.font,
    grid: { stroke: theme.grid, width: 1 },
    ticks: { stroke: theme.grid, width: 1 },
    ...(values && { values, size: 72 }),
  });
  return {
    width,
    height: CHART_HEIGHT,
    cursor: { drag: { x: false, y: false } },
    legend: { live: true },
    scales: { x: { time: true }, y: { range: (_u, min, max) => yRange(chart.unit, min, max) } },
    axes: [axis(), axis((_u, splits) => splits.map((v) => formatTick(v, chart.unit)))],
    series: [
      { label: 'Time', value: (_u, ts) => (ts == null ? '–' : formatTime(ts)) },
      ...chart.series.map((s, i): uPlot.Series => ({
        label: s.label,
        stroke: s.aggregate ? theme.foreground : withAlpha(theme.palette[i % theme.palette.length], faint ? FAINT_ALPHA : 1),
        width: s.aggregate ? 2.5 : 1.5,
        // Basic EC2 monitoring publishes every 5 minutes: join the gaps on a 1-minute grid.
        spanGaps: true,
        points: { show: false },
        value: (_u, v) => formatValue(v, chart.unit),
      })),
    ],
  };
}

/**
 * Rates, sizes and counts start at zero, so two lines at 100 and 50 KB/s look like 2:1; percent
 * charts show at least 0–100. uPlot passes null bounds when a chart has no data at all.
 */
function yRange(unit: ChartData['unit'], min: number | null, max: number | null): uPlot.Range.MinMax {
  const top = max === null || max <= 0 ? 1 : max * 1.1;
  return [Math.min(0, min ?? 0), unit === 'percent' ? Math.max(100, max ?? 0) : top];
}

/** `2026-11-26 14:08` in local time, as the rest of the extension shows times. */
function formatTime(seconds: number): string {
  const d = new Date(seconds * 1000);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

function describePeriod(seconds: number): string {
  if (seconds % 86400 === 0) return seconds === 86400 ? 'day' : `${seconds / 86400} days`;
  if (seconds % 3600 === 0) return seconds === 3600 ? 'hour' : `${seconds / 3600} hours`;
  return seconds === 60 ? 'minute' : `${seconds / 60} minutes`;
}

/** Theme colours come as #rrggbb; others (rgb(), names) are used as they are. */
function withAlpha(color: string, alpha: number): string {
  const hex = /^#([0-9a-f]{6})$/i.exec(color);
  if (alpha >= 1 || !hex) return color;
  const n = parseInt(hex[1], 16);
  return `rgba(${n >> 16}, ${(n >> 8) & 255}, ${n & 255}, ${alpha})`;
}

/** Redraws with the new colours when the theme changes (VS Code rewrites the variables on <html>). */
function watchTheme(): void {
  let pending = false;
  const redraw = () => {
    if (pending) return;
    pending = true;
    requestAnimationFrame(() => {
      pending = false;
      if (current?.type === 'data') drawCharts(current.data.charts);
    });
  };
  const observer = new MutationObserver(redraw);
  observer.observe(document.documentElement, { attributes: true, attributeFilter: ['style', 'class'] });
  observer.observe(document.body, { attributes: true, attributeFilter: ['class'] });
}

function watchSize(): void {
  let lastWidth = 0;
  new ResizeObserver(() => {
    const width = Math.max(200, chartsBox.clientWidth);
    if (width === lastWidth) return;
    lastWidth = width;
    for (const plot of plots) plot.setSize({ width, height: CHART_HEIGHT });
  }).observe(chartsBox);
}

buildPage();
watchTheme();
watchSize();
window.addEventListener('message', (event: MessageEvent<ToWebview>) => show(event.data));
const saved = vscode.getState()?.last;
if (saved) show(saved, false);
vscode.postMessage({ type: 'ready' });

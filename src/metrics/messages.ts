/**
 * Messages between the Metrics webview and the extension. Both sides import these types, so a
 * change to one is a compile error on the other. The webview speaks first ('ready'); the
 * extension sends nothing before, because a message posted to a webview that has not yet
 * loaded its script is lost.
 */
import type { MetricUnit } from './format';
import type { PresetRange, TimeRange } from './periods';

export interface SeriesData {
  readonly label: string;
  /** One value per timestamp of the chart; null where CloudWatch has no datapoint. */
  readonly values: ReadonlyArray<number | null>;
  readonly aggregate?: boolean;
}

export interface ChartData {
  readonly title: string;
  readonly unit: MetricUnit;
  /** Epoch seconds, one per period, ascending. */
  readonly timestamps: readonly number[];
  readonly series: readonly SeriesData[];
}

export type AlarmState = 'OK' | 'ALARM' | 'INSUFFICIENT_DATA';

export interface AlarmInfo {
  readonly name: string;
  readonly state: AlarmState;
  /** `CPUUtilization < 5 for 6 × 300 s`. */
  readonly condition: string;
  readonly reason?: string;
}

export interface MetricsData {
  readonly title: string;
  readonly region: string;
  readonly period: number;
  /** Epoch seconds of the range actually queried (aligned to the period, maybe widened). */
  readonly start: number;
  readonly end: number;
  readonly charts: readonly ChartData[];
  readonly alarms: readonly AlarmInfo[];
  /** Sentences about what is missing and how to get it (billing metrics, the CloudWatch agent). */
  readonly notes: readonly string[];
  readonly fetchedAt: number;
}

export type ToWebview =
  /** A selection is being loaded: show its title and range at once. */
  | { readonly type: 'loading'; readonly title: string; readonly range: TimeRange }
  | { readonly type: 'data'; readonly range: TimeRange; readonly data: MetricsData }
  | { readonly type: 'error'; readonly title: string; readonly range: TimeRange; readonly message: string }
  /** Nothing picked yet. */
  | { readonly type: 'empty' };

export type FromWebview =
  | { readonly type: 'ready' }
  | { readonly type: 'setRange'; readonly range: TimeRange }
  | { readonly type: 'refresh' }
  /** How long drawing the last 'data' took, from its arrival to the frame after the draw. */
  | { readonly type: 'rendered'; readonly ms: number; readonly points: number };

const PRESETS: readonly PresetRange[] = ['1h', '3h', '12h', '1d', '7d'];

/** Checks a message from the webview before the extension acts on it. */
export function parseFromWebview(message: unknown): FromWebview | undefined {
  if (typeof message !== 'object' || message === null) return undefined;
  const m = message as Record<string, unknown>;
  switch (m.type) {
    case 'ready':
    case 'refresh':
      return { type: m.type };
    case 'setRange':
      return isTimeRange(m.range) ? { type: 'setRange', range: m.range } : undefined;
    case 'rendered':
      return typeof m.ms === 'number' && typeof m.points === 'number' ? { type: 'rendered', ms: m.ms, points: m.points } : undefined;
    default:
      return undefined;
  }
}

export function isTimeRange(value: unknown): value is TimeRange {
  if (typeof value !== 'object' || value === null) return false;
  const r = value as Record<string, unknown>;
  if (r.kind === 'preset') return PRESETS.includes(r.preset as PresetRange);
  return r.kind === 'custom' && Number.isFinite(r.start) && Number.isFinite(r.end) && (r.end as number) > (r.start as number);
}

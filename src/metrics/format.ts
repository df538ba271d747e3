/** Units of chart values and how hover values and axis ticks show them. Used by the webview too. */
import { formatBytes } from '../core/format';

export type MetricUnit = 'percent' | 'bytes' | 'bytesPerSecond' | 'count' | 'dollars' | 'none';

/** A value as the hover legend shows it: `42.5%`, `1.23 GB`, `850 KB/s`, `12,345`, `$3.50`. */
export function formatValue(value: number | null | undefined, unit: MetricUnit): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '–';
  switch (unit) {
    case 'percent':
      return `${trim(value)}%`;
    case 'bytes':
      return signed(value, formatBytes);
    case 'bytesPerSecond':
      return `${signed(value, formatBytes)}/s`;
    case 'count':
      return Number.isInteger(value) ? value.toLocaleString('en-US') : trim(value);
    case 'dollars':
      return `${value < 0 ? '-' : ''}$${Math.abs(value).toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`;
    case 'none':
      return trim(value);
  }
}

/** Axis ticks are narrow: counts and plain numbers are abbreviated (`12.3k`, `4M`). */
export function formatTick(value: number, unit: MetricUnit): string {
  if ((unit === 'count' || unit === 'none') && Math.abs(value) >= 1000) return compact(value);
  if (unit === 'dollars') return `$${Math.abs(value) >= 1000 ? compact(value) : trim(value)}`;
  return formatValue(value, unit);
}

/** Up to three significant decimals, no trailing zeros: 42.5, 0.123, 1200. */
function trim(value: number): string {
  const abs = Math.abs(value);
  const digits = abs >= 100 ? 0 : abs >= 10 ? 1 : abs >= 1 ? 2 : 3;
  return String(Number(value.toFixed(digits)));
}

function compact(value: number): string {
  const units: Array<[number, string]> = [[1e12, 'T'], [1e9, 'G'], [1e6, 'M'], [1e3, 'k']];
  const [size, suffix] = units.find(([s]) => Math.abs(value) >= s) ?? [1, ''];
  return `${trim(value / size)}${suffix}`;
}

/** formatBytes knows no negative numbers; differences (Metric Math) can be negative. */
function signed(value: number, format: (n: number) => string): string {
  return value < 0 ? `-${format(-value)}` : format(value);
}

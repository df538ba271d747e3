const UNITS = ['B', 'KB', 'MB', 'GB', 'TB', 'PB'];

/** Decimal units as S3 and the AWS console show them: 1 KB = 1,000 bytes. */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 0) return '?';
  let unit = 0;
  while (unit < UNITS.length - 1 && Number(rounded(bytes / 1000 ** unit, unit)) >= 1000) unit++;
  return `${rounded(bytes / 1000 ** unit, unit)} ${UNITS[unit]}`;
}

/** Three significant digits: 1.23, 12.3, 123; whole bytes. Rounding may reach 1000, hence the loop above. */
function rounded(value: number, unit: number): string {
  const digits = unit === 0 || value >= 100 ? 0 : value >= 10 ? 1 : 2;
  return value.toFixed(digits);
}

/** `2026-11-26 14:08`, in local time: sortable, short and unambiguous across locales. */
export function formatDate(date: Date | undefined): string {
  if (!date || Number.isNaN(date.getTime())) return '';
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

/** `45 s`, `12 min`, `3 h 20 min`: for estimated times left. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  if (seconds < 60) return `${Math.ceil(seconds)} s`;
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  return minutes % 60 ? `${hours} h ${minutes % 60} min` : `${hours} h`;
}

/** `1 object`, `3 objects`. */
export function plural(count: number, noun: string, nouns = `${noun}s`): string {
  return `${count.toLocaleString('en-US')} ${count === 1 ? noun : nouns}`;
}

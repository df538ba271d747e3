// On-demand prices change a few times a year and the Pricing API is slow (one call per type),
// so they are kept on disk for a day, in a directory the caller owns (the extension's global
// storage, or the CLI's cache directory).

import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export const PRICE_CACHE_TTL_MS = 24 * 60 * 60 * 1000;
const FILE_NAME = 'on-demand-prices.json';

interface Entry {
  readonly perHour: number;
  readonly fetchedAt: string;
}

interface CacheFile {
  readonly version: 1;
  readonly entries: Record<string, Entry>;
}

export interface CachedPrice {
  readonly perHour: number;
  /** Fetched less than a day ago. A stale price is still better than none when the API fails. */
  readonly fresh: boolean;
}

export class OnDemandPriceCache {
  private entries?: Promise<Record<string, Entry>>;

  constructor(
    private readonly dir: string,
    private readonly now: () => Date = () => new Date(),
  ) {}

  async get(region: string, instanceType: string): Promise<CachedPrice | undefined> {
    const entry = (await this.load())[key(region, instanceType)];
    if (!entry) return undefined;
    const age = this.now().getTime() - Date.parse(entry.fetchedAt);
    return { perHour: entry.perHour, fresh: age >= 0 && age < PRICE_CACHE_TTL_MS };
  }

  /** Records the prices and writes the file (whole, through a temporary file). */
  async put(prices: ReadonlyArray<{ region: string; instanceType: string; perHour: number }>): Promise<void> {
    if (!prices.length) return;
    const entries = await this.load();
    const fetchedAt = this.now().toISOString();
    for (const p of prices) entries[key(p.region, p.instanceType)] = { perHour: p.perHour, fetchedAt };
    const file: CacheFile = { version: 1, entries };
    await mkdir(this.dir, { recursive: true });
    const temp = join(this.dir, `${FILE_NAME}.${process.pid}.tmp`);
    await writeFile(temp, JSON.stringify(file));
    await rename(temp, join(this.dir, FILE_NAME));
  }

  private load(): Promise<Record<string, Entry>> {
    this.entries ??= readEntries(join(this.dir, FILE_NAME));
    return this.entries;
  }
}

async function readEntries(path: string): Promise<Record<string, Entry>> {
  try {
    const file = JSON.parse(await readFile(path, 'utf8')) as Partial<CacheFile>;
    return file.version === 1 && file.entries ? { ...file.entries } : {};
  } catch {
    // No file yet, or one that cannot be read: start afresh; the next put rewrites it.
    return {};
  }
}

function key(region: string, instanceType: string): string {
  return `${region}/${instanceType}`;
}

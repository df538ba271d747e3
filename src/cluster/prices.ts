// What instances cost per hour: the current spot price of each type in each zone
// (DescribeSpotPriceHistory), and the on-demand price from the Pricing API, kept on disk for a
// day. Linux prices only: that is what research nodes run, and what the filters ask for.

import { DescribeSpotPriceHistoryCommand, type _InstanceType, type EC2Client } from '@aws-sdk/client-ec2';
import { GetProductsCommand, type Filter, type PricingClient } from '@aws-sdk/client-pricing';
import { isCancellation } from '../core/progress';
import { runPool } from '../core/pool';
import { explainAwsError } from '../aws/errors';
import { AWS_REGIONS } from '../aws/regions';
import type { Ec2ClientFor } from './discovery';
import { explainEc2Error } from './ec2Errors';
import type { ClusterNode } from './model';
import type { OnDemandPriceCache } from './priceCache';

/** The Pricing API answers in a few regions only; this one has every region's prices. */
export const PRICING_REGION = 'us-east-1';

export interface SpotQuote {
  readonly instanceType: string;
  readonly availabilityZone: string;
  readonly perHour: number;
  readonly timestamp: Date;
}

/** Prices to look nodes up in: spot by zone and type, on-demand by region and type. */
export interface PriceBook {
  readonly spot: ReadonlyMap<string, SpotQuote>;
  readonly onDemand: ReadonlyMap<string, number>;
}

export const spotKey = (availabilityZone: string, instanceType: string) => `${availabilityZone}/${instanceType}`;
export const onDemandKey = (region: string, instanceType: string) => `${region}/${instanceType}`;

/**
 * The price now of each type in each zone. Asking for history from now returns, per type and
 * zone, the price in effect; the latest timestamp wins in case AWS returns more than one.
 */
export async function latestSpotPrices(
  ec2: EC2Client,
  instanceTypes: readonly string[],
  availabilityZones: readonly string[],
  options: { now?: Date; signal?: AbortSignal } = {},
): Promise<Map<string, SpotQuote>> {
  const quotes = new Map<string, SpotQuote>();
  let NextToken: string | undefined;
  do {
    const page = await ec2.send(
      new DescribeSpotPriceHistoryCommand({
        InstanceTypes: [...new Set(instanceTypes)] as _InstanceType[],
        ProductDescriptions: ['Linux/UNIX'],
        StartTime: options.now ?? new Date(),
        ...(availabilityZones.length && { Filters: [{ Name: 'availability-zone', Values: [...new Set(availabilityZones)] }] }),
        MaxResults: 1000,
        NextToken,
      }),
      { abortSignal: options.signal },
    );
    for (const p of page.SpotPriceHistory ?? []) {
      const perHour = Number(p.SpotPrice);
      if (!p.InstanceType || !p.AvailabilityZone || !p.Timestamp || !Number.isFinite(perHour)) continue;
      const key = spotKey(p.AvailabilityZone, p.InstanceType);
      const known = quotes.get(key);
      if (!known || known.timestamp < p.Timestamp) {
        quotes.set(key, { instanceType: p.InstanceType, availabilityZone: p.AvailabilityZone, perHour, timestamp: p.Timestamp });
      }
    }
    NextToken = page.NextToken || undefined;
  } while (NextToken);
  return quotes;
}

/**
 * The Pricing API's name of a region ("EU (Ireland)"): the console's name, except that it says
 * EU for Europe and writes São Paulo without the accent.
 */
export function pricingLocation(region: string): string | undefined {
  const name = AWS_REGIONS.find(([code]) => code === region)?.[1];
  return name?.replace(/^Europe \(/, 'EU (').replace('São Paulo', 'Sao Paulo');
}

/** The GetProducts filters for Linux, shared tenancy, no pre-installed software, capacity used. */
export function onDemandFilters(region: string, instanceType: string): Filter[] {
  const location = pricingLocation(region);
  const term = (Field: string, Value: string): Filter => ({ Type: 'TERM_MATCH', Field, Value });
  return [
    term('instanceType', instanceType),
    // Regions newer than the table above are matched by code, which the Pricing API also knows.
    location ? term('location', location) : term('regionCode', region),
    term('operatingSystem', 'Linux'),
    term('tenancy', 'Shared'),
    term('preInstalledSw', 'NA'),
    term('capacitystatus', 'Used'),
  ];
}

interface PriceListItem {
  terms?: { OnDemand?: Record<string, { priceDimensions?: Record<string, { unit?: string; pricePerUnit?: { USD?: string } }> }> };
}

/** The hourly USD price in one GetProducts PriceList entry (a JSON string); undefined if none. */
export function parseOnDemandPrice(priceListItem: string): number | undefined {
  let item: PriceListItem;
  try {
    item = JSON.parse(priceListItem) as PriceListItem;
  } catch {
    return undefined;
  }
  for (const term of Object.values(item.terms?.OnDemand ?? {})) {
    for (const dimension of Object.values(term.priceDimensions ?? {})) {
      const price = Number(dimension.pricePerUnit?.USD);
      // Zero-priced dimensions exist (e.g. for capacity reservations); they are not the rate.
      if (dimension.unit === 'Hrs' && Number.isFinite(price) && price > 0) return price;
    }
  }
  return undefined;
}

export async function fetchOnDemandPrice(pricing: PricingClient, region: string, instanceType: string, signal?: AbortSignal): Promise<number | undefined> {
  const reply = await pricing.send(
    new GetProductsCommand({ ServiceCode: 'AmazonEC2', Filters: onDemandFilters(region, instanceType), FormatVersion: 'aws_v1', MaxResults: 10 }),
    { abortSignal: signal },
  );
  const items = Array.isArray(reply.PriceList) ? reply.PriceList : [];
  for (const item of items) {
    const price = parseOnDemandPrice(String(item));
    if (price !== undefined) return price;
  }
  return undefined;
}

export interface PriceDeps {
  readonly ec2For: Ec2ClientFor;
  /** A client of PRICING_REGION. */
  readonly pricing: PricingClient;
  readonly cache: OnDemandPriceCache;
  readonly profile?: string;
}

export interface PriceBookResult {
  readonly book: PriceBook;
  /** Prices that could not be read, as sentences; the nodes concerned just show no price. */
  readonly problems: readonly Error[];
}

/** Spot prices of the spot nodes' types and zones, and on-demand prices of every node's type. */
export async function loadPriceBook(deps: PriceDeps, nodes: readonly ClusterNode[], options: { now?: Date; signal?: AbortSignal } = {}): Promise<PriceBookResult> {
  const problems: Error[] = [];
  const spot = new Map<string, SpotQuote>();
  const spotNodes = byRegion(nodes.filter((n) => n.market === 'spot' && n.availabilityZone));
  await Promise.all(
    [...spotNodes].map(async ([region, regionNodes]) => {
      try {
        const ec2 = await deps.ec2For(region);
        const quotes = await latestSpotPrices(ec2, regionNodes.map((n) => n.instanceType), regionNodes.map((n) => n.availabilityZone!), options);
        for (const [key, quote] of quotes) spot.set(key, quote);
      } catch (err) {
        if (isCancellation(err)) throw err;
        problems.push(explainEc2Error(err, { operation: `Read spot prices in ${region}`, action: 'ec2:DescribeSpotPriceHistory', profile: deps.profile }));
      }
    }),
  );
  const onDemand = await onDemandPrices(deps, nodes, problems, options.signal);
  return { book: { spot, onDemand }, problems };
}

async function onDemandPrices(deps: PriceDeps, nodes: readonly ClusterNode[], problems: Error[], signal?: AbortSignal): Promise<Map<string, number>> {
  const prices = new Map<string, number>();
  const wanted = [...new Map(nodes.map((n) => [onDemandKey(n.region, n.instanceType), n])).values()];
  const fetched: Array<{ region: string; instanceType: string; perHour: number }> = [];
  let failure: Error | undefined;
  await runPool(
    wanted,
    4,
    async ({ region, instanceType }) => {
      const key = onDemandKey(region, instanceType);
      const cached = await deps.cache.get(region, instanceType);
      if (cached?.fresh) {
        prices.set(key, cached.perHour);
        return;
      }
      try {
        if (failure) throw failure;
        const perHour = await fetchOnDemandPrice(deps.pricing, region, instanceType, signal);
        if (perHour === undefined) return;
        prices.set(key, perHour);
        fetched.push({ region, instanceType, perHour });
      } catch (err) {
        if (isCancellation(err)) throw err;
        // After one failure (denied, unreachable) the other calls would fail alike: say it once,
        // stop asking, and fall back on cached prices, stale or not.
        if (!failure) {
          failure = explainAwsError(err, { operation: `Read on-demand prices of ${region}`, action: 'pricing:GetProducts', profile: deps.profile });
          problems.push(failure);
        }
        if (cached) prices.set(key, cached.perHour);
      }
    },
    { signal },
  );
  await deps.cache.put(fetched);
  return prices;
}

function byRegion(nodes: readonly ClusterNode[]): Map<string, ClusterNode[]> {
  const map = new Map<string, ClusterNode[]>();
  for (const node of nodes) map.set(node.region, [...(map.get(node.region) ?? []), node]);
  return map;
}

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { DescribeSpotPriceHistoryCommand } from '@aws-sdk/client-ec2';
import { GetProductsCommand, PricingServiceException } from '@aws-sdk/client-pricing';
import { priceOf, runningCost, savingsPercent, withPrices } from '../../src/cluster/cost';
import { OnDemandPriceCache } from '../../src/cluster/priceCache';
import { latestSpotPrices, loadPriceBook, onDemandFilters, parseOnDemandPrice, pricingLocation, type PriceBook } from '../../src/cluster/prices';
import { clusterNode, LAUNCHED, mockedEc2, spotPrice, spotPriceReply } from '../fixtures/ec2';
import { getProductsReply, mockedPricing, priceListItem } from '../fixtures/pricing';

function tempDir(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'research-cloud-prices-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const HOUR = 3_600_000;

describe('on-demand prices from the Pricing API', () => {
  test('parses the hourly USD price out of a PriceList JSON string', () => {
    assert.equal(parseOnDemandPrice(priceListItem('c5.xlarge', '0.1700000000')), 0.17);
  });

  test('skips zero-priced and non-hourly dimensions, and returns nothing for garbage', () => {
    assert.equal(parseOnDemandPrice(priceListItem('c5.xlarge', '0.0000000000', { extraDimensions: [{ unit: 'Hrs', usd: '0.1700000000' }] })), 0.17);
    assert.equal(parseOnDemandPrice(priceListItem('c5.xlarge', '0.0000000000')), undefined);
    assert.equal(parseOnDemandPrice(priceListItem('c5.xlarge', '12.0', { extraDimensions: [] }).replace('"Hrs"', '"Quantity"')), undefined);
    assert.equal(parseOnDemandPrice('{not json'), undefined);
    assert.equal(parseOnDemandPrice('{}'), undefined);
  });

  test("names regions as the Pricing API does, and filters on Linux, shared tenancy, no software, capacity used", () => {
    assert.equal(pricingLocation('us-east-1'), 'US East (N. Virginia)');
    assert.equal(pricingLocation('eu-west-1'), 'EU (Ireland)');
    assert.equal(pricingLocation('sa-east-1'), 'South America (Sao Paulo)');
    assert.equal(pricingLocation('xx-mars-1'), undefined);
    assert.deepEqual(
      onDemandFilters('eu-central-1', 'm6i.large').map((f) => [f.Type, f.Field, f.Value]),
      [
        ['TERM_MATCH', 'instanceType', 'm6i.large'],
        ['TERM_MATCH', 'location', 'EU (Frankfurt)'],
        ['TERM_MATCH', 'operatingSystem', 'Linux'],
        ['TERM_MATCH', 'tenancy', 'Shared'],
        ['TERM_MATCH', 'preInstalledSw', 'NA'],
        ['TERM_MATCH', 'capacitystatus', 'Used'],
      ],
    );
    assert.deepEqual(onDemandFilters('xx-mars-1', 'm6i.large')[1], { Type: 'TERM_MATCH', Field: 'regionCode', Value: 'xx-mars-1' });
  });
});

describe('latestSpotPrices', () => {
  test('keeps the latest price per type and zone, across pages, for Linux/UNIX', async (t) => {
    const { ec2, mock } = mockedEc2(t);
    const now = new Date('2026-03-02T12:00:00Z');
    mock
      .on(DescribeSpotPriceHistoryCommand, { NextToken: undefined })
      .resolves(spotPriceReply([spotPrice('c5.xlarge', 'us-east-1a', '0.0700', new Date(now.getTime() - 2 * HOUR)), spotPrice('c5.xlarge', 'us-east-1b', '0.0650', new Date(now.getTime() - HOUR))], 'more'))
      .on(DescribeSpotPriceHistoryCommand, { NextToken: 'more' })
      .resolves(spotPriceReply([spotPrice('c5.xlarge', 'us-east-1a', '0.0720', new Date(now.getTime() - HOUR)), spotPrice('c5.xlarge', 'us-east-1a', '0.0690', new Date(now.getTime() - 3 * HOUR))]));
    const quotes = await latestSpotPrices(ec2, ['c5.xlarge', 'c5.xlarge'], ['us-east-1a', 'us-east-1b'], { now });
    assert.deepEqual([...quotes.entries()].map(([k, q]) => [k, q.perHour]), [['us-east-1a/c5.xlarge', 0.072], ['us-east-1b/c5.xlarge', 0.065]]);
    const input = mock.commandCalls(DescribeSpotPriceHistoryCommand)[0].args[0].input;
    assert.deepEqual(input.ProductDescriptions, ['Linux/UNIX']);
    assert.deepEqual(input.InstanceTypes, ['c5.xlarge']);
    assert.deepEqual(input.Filters, [{ Name: 'availability-zone', Values: ['us-east-1a', 'us-east-1b'] }]);
    assert.deepEqual(input.StartTime, now);
  });
});

describe('the on-disk price cache', () => {
  test('serves a price fetched less than a day ago as fresh, and an older one as stale', async (t) => {
    const dir = tempDir(t);
    let now = new Date('2026-03-02T12:00:00Z');
    await new OnDemandPriceCache(dir, () => now).put([{ region: 'us-east-1', instanceType: 'c5.xlarge', perHour: 0.17 }]);
    now = new Date(now.getTime() + 23 * HOUR);
    assert.deepEqual(await new OnDemandPriceCache(dir, () => now).get('us-east-1', 'c5.xlarge'), { perHour: 0.17, fresh: true });
    now = new Date(now.getTime() + 2 * HOUR);
    assert.deepEqual(await new OnDemandPriceCache(dir, () => now).get('us-east-1', 'c5.xlarge'), { perHour: 0.17, fresh: false });
    assert.equal(await new OnDemandPriceCache(dir, () => now).get('eu-west-1', 'c5.xlarge'), undefined);
  });

  test('treats a missing or damaged file as empty, and rewrites it whole', async (t) => {
    const dir = tempDir(t);
    assert.equal(await new OnDemandPriceCache(join(dir, 'not-yet')).get('us-east-1', 'c5.xlarge'), undefined);
    writeFileSync(join(dir, 'on-demand-prices.json'), '{"version":1,"entr');
    const cache = new OnDemandPriceCache(dir);
    assert.equal(await cache.get('us-east-1', 'c5.xlarge'), undefined);
    await cache.put([{ region: 'us-east-1', instanceType: 'c5.xlarge', perHour: 0.17 }]);
    assert.equal(JSON.parse(readFileSync(join(dir, 'on-demand-prices.json'), 'utf8')).entries['us-east-1/c5.xlarge'].perHour, 0.17);
  });
});

describe('loadPriceBook', () => {
  const spotNode = clusterNode({ instanceId: 'i-spot', instanceType: 'c5.xlarge', spot: { requestId: 'sir-1', requestType: 'one-time' } });
  const onDemandNode = clusterNode({ instanceId: 'i-od', instanceType: 'm5.large' });
  const now = new Date('2026-03-02T12:00:00Z');

  test('asks the Pricing API only for prices not fresh in the cache, and caches what it gets', async (t) => {
    const dir = tempDir(t);
    const { ec2For, mock: ec2 } = mockedEc2(t);
    const { pricing, mock } = mockedPricing(t);
    ec2.on(DescribeSpotPriceHistoryCommand).resolves(spotPriceReply([spotPrice('c5.xlarge', 'us-east-1a', '0.0680', now)]));
    mock.on(GetProductsCommand).resolves(getProductsReply([priceListItem('c5.xlarge', '0.1700000000')]));
    const cache = new OnDemandPriceCache(dir, () => now);
    await cache.put([{ region: 'us-east-1', instanceType: 'm5.large', perHour: 0.096 }]);
    const { book, problems } = await loadPriceBook({ ec2For, pricing, cache }, [spotNode, onDemandNode], { now });
    assert.deepEqual(problems, []);
    assert.deepEqual([...book.onDemand], [['us-east-1/m5.large', 0.096], ['us-east-1/c5.xlarge', 0.17]]);
    assert.equal(book.spot.get('us-east-1a/c5.xlarge')?.perHour, 0.068);
    assert.deepEqual(mock.commandCalls(GetProductsCommand).map((c) => c.args[0].input.Filters?.[0].Value), ['c5.xlarge']);
    assert.deepEqual(await new OnDemandPriceCache(dir, () => now).get('us-east-1', 'c5.xlarge'), { perHour: 0.17, fresh: true });
  });

  test('falls back on a stale cached price when the Pricing API is denied, and says so once', async (t) => {
    const dir = tempDir(t);
    const { ec2For, mock: ec2 } = mockedEc2(t);
    const { pricing, mock } = mockedPricing(t);
    ec2.on(DescribeSpotPriceHistoryCommand).resolves(spotPriceReply([]));
    mock.on(GetProductsCommand).rejects(new PricingServiceException({ name: 'AccessDeniedException', $fault: 'client', $metadata: { httpStatusCode: 400 }, message: 'User is not authorized' }));
    const old = new Date(now.getTime() - 3 * 24 * HOUR);
    await new OnDemandPriceCache(dir, () => old).put([{ region: 'us-east-1', instanceType: 'm5.large', perHour: 0.096 }]);
    const cache = new OnDemandPriceCache(dir, () => now);
    const { book, problems } = await loadPriceBook({ ec2For, pricing, cache, profile: 'lab' }, [spotNode, onDemandNode], { now });
    assert.equal(book.onDemand.get('us-east-1/m5.large'), 0.096);
    assert.equal(book.onDemand.get('us-east-1/c5.xlarge'), undefined);
    assert.equal(problems.length, 1, 'both calls were denied; it is said once');
    assert.match(problems[0].message, /profile "lab" is not allowed to pricing:GetProducts/);
  });

  test('stops asking the Pricing API once it has failed', async (t) => {
    const { ec2For } = mockedEc2(t);
    const { pricing, mock } = mockedPricing(t);
    mock.on(GetProductsCommand).rejects(new PricingServiceException({ name: 'AccessDeniedException', $fault: 'client', $metadata: { httpStatusCode: 400 }, message: 'denied' }));
    const types = ['m5.large', 'm5.xlarge', 'm5.2xlarge', 'm5.4xlarge', 'm5.8xlarge', 'm5.12xlarge', 'm5.16xlarge', 'm5.24xlarge'];
    const nodes = types.map((instanceType) => clusterNode({ instanceType }));
    const { problems } = await loadPriceBook({ ec2For, pricing, cache: new OnDemandPriceCache(tempDir(t)) }, nodes);
    assert.equal(problems.length, 1);
    assert.equal(mock.commandCalls(GetProductsCommand).length, 4, 'the four calls already in flight, no more');
  });
});

describe('cost', () => {
  const book: PriceBook = {
    spot: new Map([['us-east-1a/c5.xlarge', { instanceType: 'c5.xlarge', availabilityZone: 'us-east-1a', perHour: 0.068, timestamp: LAUNCHED }]]),
    onDemand: new Map([
      ['us-east-1/c5.xlarge', 0.17],
      ['us-east-1/m5.large', 0.096],
    ]),
  };

  test('savings in whole percent', () => {
    assert.equal(savingsPercent(0.068, 0.17), 60);
    assert.equal(savingsPercent(0.1, 0.3), 67);
    assert.equal(savingsPercent(0.1, 0), 0);
  });

  test('prices a spot node at the spot price of its zone, with the on-demand price beside it', () => {
    assert.deepEqual(priceOf(clusterNode({ spot: { requestId: 'sir-1' } }), book), { perHour: 0.068, market: 'spot', onDemandPerHour: 0.17, savingsPercent: 60 });
    assert.deepEqual(priceOf(clusterNode({ instanceType: 'm5.large' }), book), { perHour: 0.096, market: 'on-demand' });
    assert.equal(priceOf(clusterNode({ spot: {}, availabilityZone: 'us-east-1b' }), book), undefined, 'no spot price for that zone');
  });

  test('adds up running nodes per hour and since each started, and says spot makes it an estimate', () => {
    const now = new Date(LAUNCHED.getTime() + 10 * HOUR);
    const nodes = withPrices(
      [
        clusterNode({ instanceId: 'i-1', spot: { requestId: 'sir-1' } }),
        clusterNode({ instanceId: 'i-2', instanceType: 'm5.large', launchTime: new Date(LAUNCHED.getTime() + 5 * HOUR) }),
        clusterNode({ instanceId: 'i-3', instanceType: 'm5.large', state: 'stopped' }),
        clusterNode({ instanceId: 'i-4', instanceType: 'p5.48xlarge' }),
      ],
      book,
    );
    const cost = runningCost(nodes, now);
    assert.equal(cost.perHour.toFixed(4), (0.068 + 0.096).toFixed(4));
    assert.equal(cost.sinceLaunch.toFixed(4), (0.068 * 10 + 0.096 * 5).toFixed(4));
    assert.equal(cost.estimated, true);
    assert.deepEqual(cost.unpriced.map((n) => n.instanceId), ['i-4']);
    assert.deepEqual(cost.notes, [
      'Since launch means since each node last started; stopped nodes and volumes are not counted.',
      'Spot costs are an estimate: the spot price changes over time, and this uses the current price for the whole time.',
      '1 running node has no known price and is not counted.',
    ]);
  });

  test('on-demand nodes alone give an exact figure', () => {
    const cost = runningCost(withPrices([clusterNode({ instanceType: 'm5.large' })], book), new Date(LAUNCHED.getTime() + 2 * HOUR));
    assert.deepEqual([cost.perHour, cost.sinceLaunch.toFixed(3), cost.estimated], [0.096, '0.192', false]);
  });
});

// The cluster features bound to a Connection: what the Cluster view and the CLI call. Each
// method is a few lines over the plain functions of this folder, which take their clients as
// arguments and are tested on their own.

import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { EC2Client } from '@aws-sdk/client-ec2';
import { PricingClient } from '@aws-sdk/client-pricing';
import { SSMClient } from '@aws-sdk/client-ssm';
import type { Connection } from '../aws/connection';
import type { ClusterSpec } from './clusterFile';
import { withPrices } from './cost';
import { discoverNodes, type Ec2ClientFor } from './discovery';
import { groupNodes, type NodeGroup } from './grouping';
import { listIdleGuards, putIdleGuards, removeIdleGuards, type CloudWatchClientFor, type GuardOutcome, type IdleGuard, type IdleGuardSettings } from './idleGuard';
import { interruptionNotices, withScheduledEvents, type InterruptionNotice } from './interruptions';
import { launchNodes, type LaunchClients, type LaunchOptions, type LaunchReport } from './launch';
import { runNodeAction, type ActionOptions, type ActionOutcome, type NodeAction } from './lifecycle';
import type { ClusterNode } from './model';
import { OnDemandPriceCache } from './priceCache';
import { loadPriceBook, PRICING_REGION } from './prices';
import { scaleCluster, type ScaleResult } from './scale';
import { DEFAULT_TAG_KEYS, type TagKeys } from './tags';

export interface ClusterServiceOptions {
  /** Where on-demand prices are kept for a day: the extension's global storage, the CLI's cache. */
  readonly cacheDir: string;
  readonly tagKeys?: TagKeys;
  /** Regions to look in; default: the connection's region. */
  readonly regions?: readonly string[];
}

export interface ClusterSnapshot {
  /** Every node, with its price (when known) and scheduled events. */
  readonly nodes: readonly ClusterNode[];
  readonly groups: readonly NodeGroup[];
  /** Interruptions and events new since the previous snapshot. */
  readonly notices: readonly InterruptionNotice[];
  /** What could not be read (a region, prices, events), as sentences; the rest is still shown. */
  readonly problems: readonly Error[];
  readonly takenAt: Date;
}

type LaunchCallOptions = Omit<LaunchOptions, 'tagKeys' | 'profile'>;

export class ClusterService {
  private previous: readonly ClusterNode[] = [];
  private readonly priceCache: OnDemandPriceCache;

  readonly ec2For: Ec2ClientFor = (region) => this.connection.client(EC2Client, 'ec2', region);
  readonly cloudWatchFor: CloudWatchClientFor = (region) => this.connection.client(CloudWatchClient, 'cloudwatch', region);

  constructor(
    private readonly connection: Connection,
    private readonly options: ClusterServiceOptions,
  ) {
    this.priceCache = new OnDemandPriceCache(options.cacheDir);
  }

  async regions(): Promise<readonly string[]> {
    return this.options.regions?.length ? this.options.regions : [await this.connection.region()];
  }

  /** Discovers the nodes, reads their events and prices, groups them, and diffs with the last snapshot. */
  async snapshot(signal?: AbortSignal): Promise<ClusterSnapshot> {
    const profile = this.connection.profileName;
    const found = await discoverNodes(this.ec2For, { regions: await this.regions(), tagKeys: this.tagKeys, profile, signal });
    const withEvents = await withScheduledEvents(this.ec2For, found.nodes, { profile, signal });
    const pricing = await this.connection.client(PricingClient, 'pricing', PRICING_REGION);
    const prices = await loadPriceBook({ ec2For: this.ec2For, pricing, cache: this.priceCache, profile }, withEvents.nodes, { signal });
    const nodes = withPrices(withEvents.nodes, prices.book);
    const notices = interruptionNotices(this.previous, nodes);
    this.previous = nodes;
    const problems = [...found.problems, ...withEvents.problems].map((p) => p.error).concat(prices.problems);
    return { nodes, groups: groupNodes(nodes), notices, problems, takenAt: new Date() };
  }

  act(action: NodeAction, nodes: readonly ClusterNode[], options: Omit<ActionOptions, 'profile'> = {}): Promise<ActionOutcome[]> {
    return runNodeAction(this.ec2For, action, nodes, { ...options, profile: this.connection.profileName });
  }

  async launch(spec: ClusterSpec, options: LaunchCallOptions = {}): Promise<LaunchReport> {
    return launchNodes(await this.launchClients(spec.region), spec, { ...options, tagKeys: this.tagKeys, profile: this.connection.profileName });
  }

  async scale(group: NodeGroup, spec: ClusterSpec, target: number, options: Omit<LaunchCallOptions, 'count' | 'role'> = {}): Promise<ScaleResult> {
    const clients = await this.launchClients(group.region ?? spec.region);
    return scaleCluster(clients, group, spec, target, { ...options, tagKeys: this.tagKeys, profile: this.connection.profileName });
  }

  guard(nodes: readonly ClusterNode[], settings: IdleGuardSettings, signal?: AbortSignal): Promise<GuardOutcome[]> {
    return putIdleGuards(this.cloudWatchFor, nodes, settings, { profile: this.connection.profileName, signal });
  }

  /** The idle guards of every region in use. */
  async guards(signal?: AbortSignal): Promise<IdleGuard[]> {
    const perRegion = await Promise.all(
      (await this.regions()).map(async (region) => listIdleGuards(await this.cloudWatchFor(region), region, { profile: this.connection.profileName, signal })),
    );
    return perRegion.flat();
  }

  async removeGuards(guards: readonly IdleGuard[], signal?: AbortSignal): Promise<void> {
    for (const region of new Set(guards.map((g) => g.region))) {
      const names = guards.filter((g) => g.region === region).map((g) => g.alarmName);
      await removeIdleGuards(await this.cloudWatchFor(region), names, { profile: this.connection.profileName, signal });
    }
  }

  private get tagKeys(): TagKeys {
    return this.options.tagKeys ?? DEFAULT_TAG_KEYS;
  }

  private async launchClients(region: string | undefined): Promise<LaunchClients> {
    const target = region ?? (await this.connection.region());
    return { ec2: await this.ec2For(target), ssm: await this.connection.client(SSMClient, 'ssm', target) };
  }
}

// Idle guards: a CloudWatch alarm per node that stops it (terminates it, if AWS cannot stop it)
// once its average CPU has stayed below a threshold for a while. The alarms live in CloudWatch,
// so they work with VS Code closed; their names start with a fixed prefix so they can be listed
// and removed.

import {
  DeleteAlarmsCommand,
  DescribeAlarmsCommand,
  PutMetricAlarmCommand,
  type CloudWatchClient,
  type MetricAlarm,
  type PutMetricAlarmCommandInput,
} from '@aws-sdk/client-cloudwatch';
import { explainAwsError, UserError } from '../aws/errors';
import { runPool } from '../core/pool';
import { isCancellation } from '../core/progress';
import { stopOrTerminate } from './lifecycle';
import { nodeLabel, type ClusterNode } from './model';

export const IDLE_ALARM_PREFIX = 'research-cloud-idle-';

/** CPUUtilization of basic monitoring comes every 5 minutes; the alarm counts such periods. */
const PERIOD_SECONDS = 300;

export type CloudWatchClientFor = (region: string) => Promise<CloudWatchClient>;

export interface IdleGuardSettings {
  /** Idle means average CPU below this, in percent. */
  readonly cpuBelowPercent: number;
  /** For this long; a multiple of 5 (rounded up), at most a day. */
  readonly minutes: number;
}

export interface IdleGuard {
  readonly alarmName: string;
  readonly instanceId: string;
  readonly region: string;
  readonly action: 'stop' | 'terminate';
  readonly cpuBelowPercent: number;
  readonly minutes: number;
  /** OK, ALARM (the node was idle) or INSUFFICIENT_DATA. */
  readonly state?: string;
}

export interface GuardOutcome {
  readonly node: ClusterNode;
  readonly status: 'done' | 'skipped' | 'failed';
  readonly action?: 'stop' | 'terminate';
  readonly message?: string;
}

export function idleAlarmName(instanceId: string): string {
  return `${IDLE_ALARM_PREFIX}${instanceId}`;
}

/** How many 5-minute periods the settings mean; throws a UserError for settings CloudWatch would refuse. */
export function idlePeriods(settings: IdleGuardSettings): number {
  const { cpuBelowPercent } = settings;
  if (!(cpuBelowPercent > 0 && cpuBelowPercent <= 100)) {
    throw new UserError(`The idle CPU threshold must be more than 0 and at most 100 percent, not ${cpuBelowPercent}.`, 'InvalidThreshold');
  }
  const periods = Math.ceil(settings.minutes / (PERIOD_SECONDS / 60));
  // CloudWatch refuses alarms of 5-minute periods that look back more than a day.
  if (!(periods >= 1 && periods * PERIOD_SECONDS <= 86_400)) {
    throw new UserError(`The idle time must be between 5 minutes and a day (1,440 minutes), not ${settings.minutes}.`, 'InvalidIdleTime');
  }
  return periods;
}

/** The PutMetricAlarm request of a node's guard. */
export function idleAlarmInput(node: ClusterNode, settings: IdleGuardSettings): PutMetricAlarmCommandInput {
  const { cpuBelowPercent } = settings;
  const periods = idlePeriods(settings);
  const action = stopOrTerminate(node);
  const minutes = (periods * PERIOD_SECONDS) / 60;
  return {
    AlarmName: idleAlarmName(node.instanceId),
    AlarmDescription: `Research Cloud idle guard: ${action}s ${nodeLabel(node)} when its average CPU stays below ${cpuBelowPercent}% for ${minutes} minutes.`,
    Namespace: 'AWS/EC2',
    MetricName: 'CPUUtilization',
    Dimensions: [{ Name: 'InstanceId', Value: node.instanceId }],
    Statistic: 'Average',
    Period: PERIOD_SECONDS,
    EvaluationPeriods: periods,
    DatapointsToAlarm: periods,
    Threshold: cpuBelowPercent,
    ComparisonOperator: 'LessThanThreshold',
    // A stopped node sends no data; that must not count as idle (nor keep the alarm firing).
    TreatMissingData: 'notBreaching',
    ActionsEnabled: true,
    AlarmActions: [`arn:aws:automate:${node.region}:ec2:${action}`],
  };
}

/**
 * Puts (creates or replaces) a guard on each node. ParallelCluster compute nodes are skipped:
 * the cluster powers idle ones down itself (ScaledownIdletime), and stopping one makes it
 * replace the node.
 */
export async function putIdleGuards(
  cwFor: CloudWatchClientFor,
  nodes: readonly ClusterNode[],
  settings: IdleGuardSettings,
  options: { profile?: string; signal?: AbortSignal } = {},
): Promise<GuardOutcome[]> {
  idlePeriods(settings);
  const results = await runPool(
    nodes,
    4,
    async (node): Promise<GuardOutcome> => {
      if (node.cluster?.kind === 'parallelcluster' && node.role === 'compute') {
        return { node, status: 'skipped', message: `${nodeLabel(node)}: not guarded; ParallelCluster already powers down idle compute nodes (ScaledownIdletime).` };
      }
      const input = idleAlarmInput(node, settings);
      try {
        await (await cwFor(node.region)).send(new PutMetricAlarmCommand(input), { abortSignal: options.signal });
        return { node, status: 'done', action: stopOrTerminate(node) };
      } catch (err) {
        if (isCancellation(err)) throw err;
        const error = explainAwsError(err, { operation: `Create the idle guard of ${nodeLabel(node)}`, action: 'cloudwatch:PutMetricAlarm', profile: options.profile });
        return { node, status: 'failed', message: error.message };
      }
    },
    { signal: options.signal },
  );
  return results.map((r, i) => (r?.status === 'fulfilled' ? r.value : { node: nodes[i], status: 'failed', message: r?.reason instanceof Error ? r.reason.message : String(r?.reason) }));
}

/** The guards of a region, from DescribeAlarms by name prefix. */
export async function listIdleGuards(
  cw: CloudWatchClient,
  region: string,
  options: { profile?: string; signal?: AbortSignal } = {},
): Promise<IdleGuard[]> {
  const guards: IdleGuard[] = [];
  let NextToken: string | undefined;
  try {
    do {
      const page = await cw.send(new DescribeAlarmsCommand({ AlarmNamePrefix: IDLE_ALARM_PREFIX, AlarmTypes: ['MetricAlarm'], NextToken }), { abortSignal: options.signal });
      guards.push(...(page.MetricAlarms ?? []).flatMap((alarm) => guardFromAlarm(alarm, region) ?? []));
      NextToken = page.NextToken;
    } while (NextToken);
  } catch (err) {
    throw explainAwsError(err, { operation: `List the idle guards in ${region}`, action: 'cloudwatch:DescribeAlarms', profile: options.profile });
  }
  return guards;
}

/** Reads a guard back from its alarm; undefined for an alarm that only shares the prefix. */
export function guardFromAlarm(alarm: MetricAlarm, region: string): IdleGuard | undefined {
  const name = alarm.AlarmName ?? '';
  const action = /:ec2:(stop|terminate)$/.exec(alarm.AlarmActions?.find((a) => a.includes(':automate:')) ?? '')?.[1] as IdleGuard['action'] | undefined;
  if (!name.startsWith(IDLE_ALARM_PREFIX) || !action || alarm.Threshold === undefined) return undefined;
  return {
    alarmName: name,
    instanceId: name.slice(IDLE_ALARM_PREFIX.length),
    region,
    action,
    cpuBelowPercent: alarm.Threshold,
    minutes: ((alarm.EvaluationPeriods ?? 0) * (alarm.Period ?? PERIOD_SECONDS)) / 60,
    ...(alarm.StateValue && { state: alarm.StateValue }),
  };
}

/** Deletes guards by alarm name, 100 per call (CloudWatch's limit). */
export async function removeIdleGuards(
  cw: CloudWatchClient,
  alarmNames: readonly string[],
  options: { profile?: string; signal?: AbortSignal } = {},
): Promise<void> {
  for (let i = 0; i < alarmNames.length; i += 100) {
    try {
      await cw.send(new DeleteAlarmsCommand({ AlarmNames: alarmNames.slice(i, i + 100) }), { abortSignal: options.signal });
    } catch (err) {
      throw explainAwsError(err, { operation: 'Remove the idle guards', action: 'cloudwatch:DeleteAlarms', profile: options.profile });
    }
  }
}

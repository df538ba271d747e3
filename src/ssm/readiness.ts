// Whether an instance can take a Session Manager session and, when it cannot, what is missing.
// Two calls answer it before StartSession is tried: EC2 DescribeInstances (does the instance
// exist, is it running, has it an instance profile, a public address) and SSM
// DescribeInstanceInformation (has its agent registered, is it online, which version). The
// sentences name the fix and who can make it; Research Cloud never changes IAM itself.
import { DescribeInstancesCommand, EC2Client, type Instance } from '@aws-sdk/client-ec2';
import { DescribeInstanceInformationCommand, SSMClient } from '@aws-sdk/client-ssm';
import type { Connection } from '../aws/connection';
import { errorCode, explainAwsError, UserError } from '../aws/errors';
import { formatDuration } from '../core/format';

/** What the UI shows of an EC2 instance, and what the checks below need of it. */
export interface NodeSummary {
  readonly id: string;
  /** The Name tag. */
  readonly name?: string;
  readonly type?: string;
  readonly availabilityZone?: string;
  /** pending, running, stopping, stopped, shutting-down, terminated. */
  readonly state: string;
  readonly spot: boolean;
  readonly launchTime?: Date;
  readonly instanceProfileArn?: string;
  readonly publicIp?: string;
  readonly privateIp?: string;
}

/** The SSM Agent as Systems Manager last heard from it. */
export interface AgentStatus {
  /** Online, ConnectionLost or Inactive. */
  readonly pingStatus: string;
  readonly lastPing?: Date;
  readonly agentVersion?: string;
  readonly platformName?: string;
}

/** A check that was not made, and why (e.g. the profile may not call it). */
export interface Unchecked {
  readonly unchecked: string;
}

export type SessionPurpose = 'shell' | 'port-forward';

export interface ReadinessFacts {
  readonly target: string;
  readonly region: string;
  readonly purpose: SessionPurpose;
  readonly node: NodeSummary | 'not-found' | Unchecked;
  readonly agent: AgentStatus | 'not-registered' | Unchecked;
  readonly now?: Date;
}

export interface Readiness {
  /** Nothing checked stands in the way; what could not be checked is left to StartSession. */
  readonly ready: boolean;
  /** When not ready: one sentence saying what is wrong. */
  readonly problem?: string;
  /** When not ready: what may be missing, the likeliest first, each with what to do about it. */
  readonly causes: readonly string[];
  /** The facts may be stale (the agent may register any moment), so trying anyway makes sense. */
  readonly mayTryAnyway: boolean;
  /** Worth saying even when ready: checks that were skipped, an agent too old for a feature. */
  readonly notes: readonly string[];
}

/** How long after launch an agent that has not registered yet is still expected to. */
const REGISTRATION_GRACE_MS = 5 * 60_000;
/** Shells since 2.3.68.0; port forwarding, per the Session Manager prerequisites, since 3.0.222.0. */
const MINIMUM_AGENT: Record<SessionPurpose, string> = { shell: '2.3.68.0', 'port-forward': '3.0.222.0' };
const EC2_INSTANCE_ID = /^i-[0-9a-f]{8,17}$/;
/** DescribeInstanceInformation takes at most 50 ids in its InstanceIds filter. */
const AGENT_BATCH = 50;

/** Turns the facts into a verdict with sentences. Pure, so every branch is tested in plain Node. */
export function assessReadiness(facts: ReadinessFacts): Readiness {
  const { target, region, purpose, node, agent } = facts;
  const now = facts.now ?? new Date();
  const notes: string[] = [];
  const blocked = (problem: string, causes: string[], mayTryAnyway: boolean): Readiness => ({ ready: false, problem, causes, mayTryAnyway, notes });

  if (node === 'not-found') {
    return blocked(`There is no instance ${target} in ${region}.`, [
      'It may be in another region: switch region from the Research Cloud status bar item.',
      'It may have been terminated more than an hour ago, after which EC2 no longer lists it.',
    ], false);
  }
  if (isUnchecked(node)) {
    notes.push(`Did not check that ${target} is running: ${node.unchecked}.`);
  } else if (node.state !== 'running') {
    return blocked(`${describeNode(node)} is ${node.state}, not running.`, [stateAdvice(node.state)], false);
  }

  if (isUnchecked(agent)) {
    notes.push(`Did not check its SSM Agent: ${agent.unchecked}.`);
    return { ready: true, causes: [], mayTryAnyway: false, notes };
  }
  const running = isUnchecked(node) ? undefined : node;
  const who = running ? describeNode(running) : target;
  if (agent === 'not-registered') {
    const launchedAgo = running?.launchTime ? now.getTime() - running.launchTime.getTime() : undefined;
    const justStarted = launchedAgo !== undefined && launchedAgo < REGISTRATION_GRACE_MS;
    const problem = justStarted
      ? `${who} started ${formatDuration(launchedAgo / 1000)} ago and its SSM Agent has not registered with Systems Manager yet; it usually does within a few minutes of boot.`
      : `The SSM Agent on ${who} has not registered with Systems Manager, so Session Manager cannot reach it.`;
    return blocked(problem, notRegisteredCauses(running, region), true);
  }
  if (agent.pingStatus === 'ConnectionLost') {
    const since = agent.lastPing ? ` (last heard from ${formatDuration((now.getTime() - agent.lastPing.getTime()) / 1000)} ago)` : '';
    return blocked(`The SSM Agent on ${who} has lost its connection to Systems Manager${since}.`, [
      'The agent may have stopped or the instance may be overloaded (out of memory or CPU). Rebooting the instance restarts the agent; the EC2 serial console or the system log shows why it stopped.',
      networkCause(running, region),
      'The instance profile may have been removed or its role changed, so the agent cannot sign its requests. Ask your administrator to check the role has AmazonSSMManagedInstanceCore; Research Cloud does not change IAM.',
    ], true);
  }
  if (agent.pingStatus !== 'Online') {
    return blocked(`${who} is registered with Systems Manager but ${agent.pingStatus.toLowerCase()}: its agent has not reported for a long time or was deregistered.`, [
      'Restart the SSM Agent on the instance (reboot it), or ask your administrator to register it again.',
    ], true);
  }
  const minimum = MINIMUM_AGENT[purpose];
  if (agent.agentVersion && compareVersions(agent.agentVersion, minimum) < 0) {
    const what = purpose === 'shell' ? 'Session Manager shells need' : 'Port forwarding needs';
    notes.push(`${what} SSM Agent ${minimum} or later; ${who} has ${agent.agentVersion}. Update it with the AWS-UpdateSSMAgent document if the session fails.`);
  }
  return { ready: true, causes: [], mayTryAnyway: false, notes };
}

function notRegisteredCauses(node: NodeSummary | undefined, region: string): string[] {
  const iam = node && !node.instanceProfileArn
    ? 'It has no instance profile. The SSM Agent needs credentials to register: an instance profile whose role has the AmazonSSMManagedInstanceCore policy (or the account\'s Default Host Management Configuration). Ask your administrator to attach one; Research Cloud does not change IAM.'
    : `${node?.instanceProfileArn ? `Its instance profile (${node.instanceProfileArn.replace(/^.*:instance-profile\//, '')})` : 'Its instance profile'} may lack the AmazonSSMManagedInstanceCore policy. Ask your administrator to check the role; Research Cloud does not change IAM.`;
  return [
    iam,
    'The SSM Agent may not be installed or not running. Amazon Linux and Ubuntu images include it; Rocky, Debian, RHEL and most custom images need it installed (in the launch template\'s user data, or in the image) and enabled at boot (`systemctl enable --now amazon-ssm-agent`).',
    networkCause(node, region),
  ];
}

function networkCause(node: NodeSummary | undefined, region: string): string {
  const endpoints = `ssm.${region}.amazonaws.com, ssmmessages.${region}.amazonaws.com and ec2messages.${region}.amazonaws.com`;
  const route = node && !node.publicIp
    ? 'It has no public IP address, so its subnet needs a NAT gateway or interface VPC endpoints for those three services (with private DNS on, and a security group that allows HTTPS from the instance).'
    : 'In a private subnet that means a NAT gateway or interface VPC endpoints for those three services; in a public one, a route to an internet gateway.';
  return `The instance may have no network path to Systems Manager: it needs outbound HTTPS (443) to ${endpoints}. ${route}`;
}

function stateAdvice(state: string): string {
  switch (state) {
    case 'pending':
      return 'It is starting: try again in a minute, once it is running and its SSM Agent has registered.';
    case 'stopping':
    case 'stopped':
      return 'Start it first (EC2 console, or `aws ec2 start-instances`), then wait a minute or two for its SSM Agent to register.';
    default:
      return 'A terminated instance cannot be started again; launch a new one.';
  }
}

/** "analysis-node (i-0123…)" or the id alone. */
export function describeNode(node: NodeSummary): string {
  return node.name ? `${node.name} (${node.id})` : node.id;
}

function isUnchecked(value: unknown): value is Unchecked {
  return typeof value === 'object' && value !== null && 'unchecked' in value;
}

/** Dotted numeric versions, as the agent reports them: 3.0.222.0 < 3.3.987.0. */
export function compareVersions(a: string, b: string): number {
  const x = a.split('.').map(Number);
  const y = b.split('.').map(Number);
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    const d = (x[i] || 0) - (y[i] || 0);
    if (d) return Math.sign(d);
  }
  return 0;
}

export function summarizeInstance(instance: Instance): NodeSummary {
  return {
    id: instance.InstanceId ?? '?',
    name: instance.Tags?.find((t) => t.Key === 'Name')?.Value || undefined,
    type: instance.InstanceType,
    availabilityZone: instance.Placement?.AvailabilityZone,
    state: instance.State?.Name ?? 'unknown',
    spot: instance.InstanceLifecycle === 'spot',
    launchTime: instance.LaunchTime,
    instanceProfileArn: instance.IamInstanceProfile?.Arn,
    publicIp: instance.PublicIpAddress,
    privateIp: instance.PrivateIpAddress,
  };
}

/** Running instances in the connection's region, named ones first, then by id. */
export async function listRunningNodes(connection: Connection, signal?: AbortSignal): Promise<NodeSummary[]> {
  const ec2 = await connection.client(EC2Client, 'ec2');
  const nodes: NodeSummary[] = [];
  let nextToken: string | undefined;
  try {
    do {
      const page = await ec2.send(
        new DescribeInstancesCommand({ Filters: [{ Name: 'instance-state-name', Values: ['running'] }], MaxResults: 1000, NextToken: nextToken }),
        { abortSignal: signal },
      );
      for (const reservation of page.Reservations ?? []) nodes.push(...(reservation.Instances ?? []).map(summarizeInstance));
      nextToken = page.NextToken;
    } while (nextToken);
  } catch (err) {
    throw explainAwsError(err, { operation: `List the running instances in ${await connection.region()}`, action: 'ec2:DescribeInstances', profile: connection.profileName });
  }
  return nodes.sort((a, b) => Number(!a.name) - Number(!b.name) || (a.name ?? '').localeCompare(b.name ?? '') || a.id.localeCompare(b.id));
}

/** The agents of these instances that have registered with Systems Manager, by instance id. */
export async function describeAgents(connection: Connection, ids: readonly string[], signal?: AbortSignal): Promise<Map<string, AgentStatus>> {
  const ssm = await connection.client(SSMClient, 'ssm');
  const agents = new Map<string, AgentStatus>();
  for (let i = 0; i < ids.length; i += AGENT_BATCH) {
    let nextToken: string | undefined;
    do {
      const page = await ssm.send(
        new DescribeInstanceInformationCommand({ Filters: [{ Key: 'InstanceIds', Values: ids.slice(i, i + AGENT_BATCH) }], NextToken: nextToken }),
        { abortSignal: signal },
      );
      for (const info of page.InstanceInformationList ?? []) {
        if (!info.InstanceId) continue;
        agents.set(info.InstanceId, {
          pingStatus: info.PingStatus ?? 'Unknown',
          lastPing: info.LastPingDateTime,
          agentVersion: info.AgentVersion,
          platformName: info.PlatformName,
        });
      }
      nextToken = page.NextToken;
    } while (nextToken);
  }
  return agents;
}

/**
 * Asks EC2 and Systems Manager about the target and judges. A check the profile is not allowed
 * to make is skipped with a note rather than blocking: many policies grant ssm:StartSession
 * without the Describe calls, and StartSession then gives its own answer.
 */
export async function checkReadiness(connection: Connection, target: string, purpose: SessionPurpose, signal?: AbortSignal): Promise<Readiness> {
  const region = await connection.region();
  const profile = connection.profileName;
  const [node, agent] = await Promise.all([
    EC2_INSTANCE_ID.test(target)
      ? describeNodeById(connection, target, signal).catch((err: unknown) => uncheckedIfDenied(err, 'ec2:DescribeInstances', `Check instance ${target}`, profile))
      : { unchecked: 'it is not an EC2 instance' },
    describeAgents(connection, [target], signal).then(
      (agents) => agents.get(target) ?? 'not-registered',
      (err: unknown) => uncheckedIfDenied(err, 'ssm:DescribeInstanceInformation', `Check the SSM Agent of ${target}`, profile),
    ),
  ]);
  return assessReadiness({ target, region, purpose, node, agent });
}

async function describeNodeById(connection: Connection, id: string, signal?: AbortSignal): Promise<NodeSummary | 'not-found'> {
  const ec2 = await connection.client(EC2Client, 'ec2');
  try {
    const reply = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [id] }), { abortSignal: signal });
    const instance = reply.Reservations?.flatMap((r) => r.Instances ?? []).find((i) => i.InstanceId === id);
    return instance ? summarizeInstance(instance) : 'not-found';
  } catch (err) {
    if (errorCode(err) === 'InvalidInstanceID.NotFound') return 'not-found';
    if (errorCode(err) === 'InvalidInstanceID.Malformed') throw new UserError(`${id} is not a valid instance id (i- followed by 8 or 17 hexadecimal digits).`, 'InvalidInstanceID.Malformed', { cause: err });
    throw err;
  }
}

function uncheckedIfDenied(err: unknown, action: string, operation: string, profile: string): Unchecked {
  const code = errorCode(err) ?? '';
  if (['AccessDenied', 'AccessDeniedException', 'UnauthorizedOperation'].includes(code)) {
    return { unchecked: `profile "${profile}" may not call ${action}` };
  }
  throw explainAwsError(err, { operation, action, profile });
}

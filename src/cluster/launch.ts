// Launches a cluster's nodes from a research-cluster.yaml: resolves the AMI (an SSM parameter
// path of a public AMI is looked up each time, so it is the latest image), makes sure the
// placement group exists, and calls RunInstances, moving on to the next subnet or instance type
// when AWS has no capacity. The report lists every attempt and what came of it.

import {
  CreatePlacementGroupCommand,
  DescribeImagesCommand,
  DescribePlacementGroupsCommand,
  RunInstancesCommand,
  type EC2Client,
  type RunInstancesCommandInput,
  type Tag,
} from '@aws-sdk/client-ec2';
import { GetParameterCommand, type SSMClient } from '@aws-sdk/client-ssm';
import { randomUUID } from 'node:crypto';
import { errorCode, explainAwsError, UserError } from '../aws/errors';
import { plural } from '../core/format';
import { isCancellation, throwIfAborted, type ProgressSink } from '../core/progress';
import type { ClusterSpec } from './clusterFile';
import { CAPACITY_CODES, explainEc2Error } from './ec2Errors';
import type { NodeRole } from './model';
import { DEFAULT_TAG_KEYS, type TagKeys } from './tags';

/** Clients of the region the cluster is launched in. */
export interface LaunchClients {
  readonly ec2: EC2Client;
  readonly ssm: SSMClient;
}

export interface LaunchOptions {
  /** Nodes to launch; default: the file's count. */
  readonly count?: number;
  /** Default: compute. */
  readonly role?: NodeRole;
  readonly tagKeys?: TagKeys;
  readonly profile?: string;
  readonly signal?: AbortSignal;
  /** After each attempt: nodes launched of those requested, and what the attempt did. */
  readonly progress?: ProgressSink;
}

export interface LaunchAttempt {
  /** Undefined when the launch template's type is used. */
  readonly instanceType?: string;
  /** Undefined for the default VPC (or the launch template's network settings). */
  readonly subnet?: string;
  readonly requested: number;
  readonly instanceIds: readonly string[];
  readonly code?: string;
  /** What happened, as a sentence. */
  readonly message: string;
}

export interface LaunchReport {
  readonly requested: number;
  readonly instanceIds: readonly string[];
  readonly attempts: readonly LaunchAttempt[];
  /** What was done on the way: the AMI an SSM path resolved to, a placement group created. */
  readonly notes: readonly string[];
  /** An error that ended the attempts early (anything but a lack of capacity). */
  readonly error?: Error;
}

/**
 * Launches the nodes, trying each instance type in each subnet in the file's order until all
 * are running or every combination has been tried. Capacity errors (no capacity, spot price
 * above maxPrice, quotas) move on to the next combination; any other error ends the attempts
 * and is in the report. Errors before the first RunInstances (AMI, placement group) are thrown.
 */
export async function launchNodes(clients: LaunchClients, spec: ClusterSpec, options: LaunchOptions = {}): Promise<LaunchReport> {
  const requested = options.count ?? spec.count;
  const notes: string[] = [];
  const imageId = spec.ami ? await resolveAmi(clients.ssm, spec.ami, options) : undefined;
  if (imageId && imageId !== spec.ami) notes.push(`The AMI ${spec.ami} is ${imageId} today.`);
  const rootDeviceName = spec.rootVolumeGiB && imageId ? await rootDeviceOf(clients.ec2, imageId, options) : undefined;
  if (spec.placementGroup && (await ensurePlacementGroup(clients.ec2, spec.placementGroup, options)) === 'created') {
    notes.push(`Created the placement group ${spec.placementGroup} (cluster strategy).`);
  }

  const attempts: LaunchAttempt[] = [];
  const instanceIds: string[] = [];
  const types = spec.instanceTypes?.length ? spec.instanceTypes : [undefined];
  const subnets = spec.subnets?.length ? spec.subnets : [undefined];
  for (const instanceType of types) {
    for (const subnet of subnets) {
      const count = requested - instanceIds.length;
      if (count <= 0) break;
      throwIfAborted(options.signal);
      const input = runInstancesInput(spec, { imageId, instanceType, subnet, count, rootDeviceName, role: options.role ?? 'compute', tagKeys: options.tagKeys });
      const attempt = await tryRun(clients.ec2, input, options);
      attempts.push(attempt);
      instanceIds.push(...attempt.instanceIds);
      options.progress?.({ bytesDone: 0, itemsDone: instanceIds.length, itemsTotal: requested, message: attempt.message });
      if (attempt.code && !CAPACITY_CODES.has(attempt.code)) {
        return { requested, instanceIds, attempts, notes, error: new UserError(attempt.message, attempt.code) };
      }
    }
  }
  return { requested, instanceIds, attempts, notes };
}

async function tryRun(ec2: EC2Client, input: RunInstancesCommandInput, options: LaunchOptions): Promise<LaunchAttempt> {
  const where = { ...(input.InstanceType && { instanceType: input.InstanceType }), ...(input.SubnetId && { subnet: input.SubnetId }) };
  const what = `${input.InstanceType ?? 'the launch template\'s type'}${input.SubnetId ? ` in ${input.SubnetId}` : ''}`;
  const requested = input.MaxCount!;
  try {
    const reply = await ec2.send(new RunInstancesCommand(input), { abortSignal: options.signal });
    const instanceIds = (reply.Instances ?? []).flatMap((i) => i.InstanceId ?? []);
    const message = `Launched ${instanceIds.length} of ${requested} as ${what}: ${instanceIds.join(', ')}.`;
    return { ...where, requested, instanceIds, message };
  } catch (err) {
    if (isCancellation(err)) throw err;
    const code = errorCode(err);
    const error = explainEc2Error(err, { operation: `Launch ${what}`, action: 'ec2:RunInstances', profile: options.profile });
    const next = code && CAPACITY_CODES.has(code) ? ' Trying the next subnet or instance type.' : '';
    return { ...where, requested, instanceIds: [], ...(code && { code }), message: `${error.message}${next}` };
  }
}

export interface RunTarget {
  readonly imageId?: string;
  readonly instanceType?: string;
  readonly subnet?: string;
  readonly count: number;
  readonly role: NodeRole;
  readonly rootDeviceName?: string;
  readonly tagKeys?: TagKeys;
}

/**
 * The RunInstances request for one attempt. It asks for 1 to `count` instances, so a partial
 * capacity still launches what it can. Spot nodes that are to be stopped or hibernated on
 * interruption need a persistent spot request (AWS's rule); the others get a one-time request.
 */
export function runInstancesInput(spec: ClusterSpec, target: RunTarget): RunInstancesCommandInput {
  const tagKeys = target.tagKeys ?? DEFAULT_TAG_KEYS;
  const tags: Tag[] = Object.entries({
    Name: `${spec.name}-${target.role}`,
    ...spec.tags,
    [tagKeys.cluster]: spec.name,
    [tagKeys.role]: target.role,
  }).map(([Key, Value]) => ({ Key, Value }));
  const template = spec.launchTemplate;
  const behavior = spec.spot?.interruptionBehavior;
  return {
    ClientToken: randomUUID(),
    MinCount: 1,
    MaxCount: target.count,
    ...(target.imageId && { ImageId: target.imageId }),
    ...(target.instanceType && { InstanceType: target.instanceType as RunInstancesCommandInput['InstanceType'] }),
    ...(target.subnet && { SubnetId: target.subnet }),
    ...(spec.securityGroups && { SecurityGroupIds: [...spec.securityGroups] }),
    ...(spec.instanceProfile && { IamInstanceProfile: spec.instanceProfile.startsWith('arn:') ? { Arn: spec.instanceProfile } : { Name: spec.instanceProfile } }),
    ...(spec.placementGroup && { Placement: { GroupName: spec.placementGroup } }),
    ...(spec.spot && {
      InstanceMarketOptions: {
        MarketType: 'spot',
        SpotOptions: {
          SpotInstanceType: behavior === 'terminate' ? 'one-time' : 'persistent',
          InstanceInterruptionBehavior: behavior,
          ...(spec.spot.maxPrice !== undefined && { MaxPrice: String(spec.spot.maxPrice) }),
        },
      },
    }),
    ...(spec.rootVolumeGiB &&
      target.rootDeviceName && {
        BlockDeviceMappings: [{ DeviceName: target.rootDeviceName, Ebs: { VolumeSize: spec.rootVolumeGiB, VolumeType: 'gp3', DeleteOnTermination: true } }],
      }),
    ...(spec.userData && { UserData: Buffer.from(spec.userData).toString('base64') }),
    // IMDSv2 only, as AWS recommends; a launch template keeps its own setting.
    ...(!template && { MetadataOptions: { HttpTokens: 'required', HttpEndpoint: 'enabled' } }),
    ...(template && {
      LaunchTemplate: { ...(template.id ? { LaunchTemplateId: template.id } : { LaunchTemplateName: template.name }), Version: template.version },
    }),
    TagSpecifications: [
      { ResourceType: 'instance', Tags: tags },
      { ResourceType: 'volume', Tags: tags },
    ],
  };
}

/** An AMI id as is; an SSM parameter path (e.g. /aws/service/ami-amazon-linux-latest/…) looked up. */
export async function resolveAmi(ssm: SSMClient, ami: string, options: { profile?: string; signal?: AbortSignal } = {}): Promise<string> {
  if (!ami.startsWith('/')) return ami;
  try {
    const reply = await ssm.send(new GetParameterCommand({ Name: ami }), { abortSignal: options.signal });
    const value = reply.Parameter?.Value;
    if (!value?.startsWith('ami-')) throw new UserError(`The SSM parameter ${ami} does not hold an AMI id.`, 'NotAnAmi');
    return value;
  } catch (err) {
    if (errorCode(err) === 'ParameterNotFound') {
      throw new UserError(
        `Find the AMI ${ami} failed: no such SSM parameter in this region. Check the path; public AMIs are listed with \`aws ssm get-parameters-by-path --path /aws/service/ami-amazon-linux-latest\`.`,
        'ParameterNotFound',
        { cause: err },
      );
    }
    throw explainAwsError(err, { operation: `Find the AMI ${ami}`, action: 'ssm:GetParameter', profile: options.profile });
  }
}

async function rootDeviceOf(ec2: EC2Client, imageId: string, options: LaunchOptions): Promise<string> {
  try {
    const reply = await ec2.send(new DescribeImagesCommand({ ImageIds: [imageId] }), { abortSignal: options.signal });
    const device = reply.Images?.[0]?.RootDeviceName;
    if (!device) throw new UserError(`The AMI ${imageId} was not found in this region, so its root volume cannot be sized.`, 'InvalidAMIID.NotFound');
    return device;
  } catch (err) {
    throw explainEc2Error(err, { operation: `Read the AMI ${imageId}`, action: 'ec2:DescribeImages', profile: options.profile });
  }
}

/** Creates the placement group with the cluster strategy unless it exists (whatever its strategy). */
export async function ensurePlacementGroup(
  ec2: EC2Client,
  name: string,
  options: { profile?: string; signal?: AbortSignal } = {},
): Promise<'existing' | 'created'> {
  try {
    const reply = await ec2.send(new DescribePlacementGroupsCommand({ GroupNames: [name] }), { abortSignal: options.signal });
    if (reply.PlacementGroups?.length) return 'existing';
  } catch (err) {
    if (errorCode(err) !== 'InvalidPlacementGroup.Unknown') {
      throw explainEc2Error(err, { operation: `Find the placement group ${name}`, action: 'ec2:DescribePlacementGroups', profile: options.profile });
    }
  }
  try {
    await ec2.send(new CreatePlacementGroupCommand({ GroupName: name, Strategy: 'cluster' }), { abortSignal: options.signal });
    return 'created';
  } catch (err) {
    throw explainEc2Error(err, { operation: `Create the placement group ${name}`, action: 'ec2:CreatePlacementGroup', profile: options.profile });
  }
}

/** "Launched 4 of 4 nodes: 2 × c6i.4xlarge, 2 × c5.4xlarge." and, if short, why. */
export function launchSummary(report: LaunchReport): string {
  const byType = new Map<string, number>();
  for (const a of report.attempts) {
    const type = a.instanceType ?? "the template's type";
    if (a.instanceIds.length) byType.set(type, (byType.get(type) ?? 0) + a.instanceIds.length);
  }
  const mix = [...byType].map(([type, n]) => `${n} × ${type}`).join(', ');
  const head = `Launched ${report.instanceIds.length} of ${plural(report.requested, 'node')}${mix ? `: ${mix}` : ''}.`;
  if (report.instanceIds.length >= report.requested) return head;
  if (report.error) return `${head} ${report.error.message}`;
  return `${head} Every instance type was tried in every subnet; AWS had no more capacity for them.`;
}

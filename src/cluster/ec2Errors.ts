// EC2's own error codes as sentences. Anything EC2 does not have a special word for (access
// denied, expired credentials, throttling, an unreachable endpoint) goes to the shared
// explainAwsError, which names the IAM action to ask for.

import { errorCode, explainAwsError, UserError, type ErrorContext } from '../aws/errors';
import { isCancellation } from '../core/progress';

/** Codes after which launching the next instance type, or in the next subnet, may succeed. */
export const CAPACITY_CODES: ReadonlySet<string> = new Set([
  'InsufficientInstanceCapacity',
  'InsufficientCapacity',
  'SpotMaxPriceTooLow',
  'MaxSpotInstanceCountExceeded',
  'VcpuLimitExceeded',
  'InstanceLimitExceeded',
  // "Your requested instance type is not supported in your requested Availability Zone."
  'Unsupported',
]);

const WHY: Readonly<Record<string, string>> = {
  UnsupportedOperation:
    'AWS does not allow this on the instance. A spot instance can be stopped only if it was launched from a persistent spot request; a one-time spot instance can only be terminated.',
  IncorrectInstanceState: 'the instance is not in a state that allows this (it may be starting, stopping or already stopped). Refresh and try again.',
  'InvalidInstanceID.NotFound': 'the instance no longer exists (terminated instances disappear after about an hour). Refresh the Cluster view.',
  'InvalidInstanceID.Malformed': 'that is not a valid instance id.',
  OperationNotPermitted: 'the instance is protected: turn off its termination (or stop) protection in the EC2 console first, if you really mean it.',
  InsufficientInstanceCapacity: 'AWS has no spare capacity of this instance type in this Availability Zone right now.',
  InsufficientCapacity: 'AWS has no spare capacity for this request right now.',
  SpotMaxPriceTooLow: 'the spot price of this type is above the maximum price in the cluster file.',
  MaxSpotInstanceCountExceeded: "the account's spot instance quota is used up; ask for a higher quota in Service Quotas.",
  VcpuLimitExceeded: "the account's vCPU quota for this instance family is used up; ask for a higher quota in Service Quotas.",
  InstanceLimitExceeded: "the account's instance quota is used up; ask for a higher quota in Service Quotas.",
  Unsupported: 'this instance type is not offered in this Availability Zone.',
  'InvalidAMIID.NotFound': 'the AMI does not exist in this region, or is not shared with the account.',
  'InvalidAMIID.Malformed': 'the AMI id is not valid (it looks like ami-0123456789abcdef0).',
  'InvalidSubnetID.NotFound': 'the subnet does not exist in this region.',
  'InvalidGroup.NotFound': 'a security group does not exist in this region (or in the subnet\'s VPC).',
  'InvalidLaunchTemplateName.NotFoundException': 'the launch template does not exist in this region.',
  'InvalidLaunchTemplateId.NotFound': 'the launch template does not exist in this region.',
};

/**
 * An EC2 error as a UserError: `<operation> failed: <why>`, with EC2's message kept for codes
 * this file has no sentence for. Cancellation passes through untouched.
 */
export function explainEc2Error(err: unknown, context: ErrorContext): Error {
  if (isCancellation(err) || err instanceof UserError) return err as Error;
  const code = errorCode(err);
  const why = code ? WHY[code] : undefined;
  if (!why) return explainAwsError(err, context);
  return new UserError(`${context.operation} failed: ${why} (${code})`, code, { cause: err });
}

import type { ProfileInfo } from './profiles';

/**
 * Services the extension talks to: `envKey` is the suffix of AWS_ENDPOINT_URL_<KEY>, `configKey`
 * the key inside a profile's `[services]` section, as the AWS SDKs and CLI name them.
 */
export const SERVICES = {
  s3: { envKey: 'S3', configKey: 's3' },
  ec2: { envKey: 'EC2', configKey: 'ec2' },
  ssm: { envKey: 'SSM', configKey: 'ssm' },
  cloudwatch: { envKey: 'CLOUDWATCH', configKey: 'cloudwatch' },
  pricing: { envKey: 'PRICING', configKey: 'pricing' },
  sts: { envKey: 'STS', configKey: 'sts' },
  kms: { envKey: 'KMS', configKey: 'kms' },
} as const;

export type ServiceName = keyof typeof SERVICES;

/**
 * The endpoint for a service, in the precedence the AWS SDKs document for configured endpoints:
 * service env var, global env var, service entry of the profile's services section, the
 * profile's endpoint_url. `override` (an extension setting) comes first because the user set it
 * for this editor on purpose. Returns undefined for the service's normal AWS endpoint.
 */
export function resolveEndpoint(
  service: ServiceName,
  profile: ProfileInfo | undefined,
  env: NodeJS.ProcessEnv,
  override?: string,
): string | undefined {
  if (override) return override;
  if (isTrue(env.AWS_IGNORE_CONFIGURED_ENDPOINT_URLS)) return undefined;
  const { envKey, configKey } = SERVICES[service];
  return (
    nonEmpty(env[`AWS_ENDPOINT_URL_${envKey}`]) ??
    nonEmpty(env.AWS_ENDPOINT_URL) ??
    nonEmpty(profile?.serviceEndpoints[configKey]) ??
    nonEmpty(profile?.endpointUrl)
  );
}

/** True when the endpoint is AWS's own (or none was configured, which means AWS). */
export function isAwsEndpoint(endpoint: string | undefined): boolean {
  if (!endpoint) return true;
  try {
    const host = new URL(endpoint).hostname;
    return host.endsWith('.amazonaws.com') || host.endsWith('.amazonaws.com.cn') || host.endsWith('.api.aws');
  } catch {
    return false;
  }
}

function nonEmpty(value: string | undefined): string | undefined {
  return value && value.trim() ? value.trim() : undefined;
}

function isTrue(value: string | undefined): boolean {
  return value?.toLowerCase() === 'true';
}

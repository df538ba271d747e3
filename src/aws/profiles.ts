import { loadSharedConfigFiles } from '@smithy/shared-ini-file-loader';

/** What the shared config and credentials files say about one profile. */
export interface ProfileInfo {
  readonly name: string;
  readonly region?: string;
  /** `endpoint_url` set directly in the profile, for every service. */
  readonly endpointUrl?: string;
  /** Per-service `endpoint_url`s from the profile's `services = NAME` section, keyed by service key (s3, ec2…). */
  readonly serviceEndpoints: Readonly<Record<string, string>>;
  /** How the profile gets its credentials, for showing in a picker and for error hints. */
  readonly kind: 'static' | 'sso' | 'assume-role' | 'process' | 'web-identity' | 'other';
}

export type SharedFiles = Awaited<ReturnType<typeof loadSharedConfigFiles>>;

/** Where the shared files are: AWS_CONFIG_FILE and AWS_SHARED_CREDENTIALS_FILE, else ~/.aws. */
export interface SharedFilePaths {
  readonly configFilepath?: string;
  readonly filepath?: string;
}

export function sharedFilePaths(env: NodeJS.ProcessEnv): SharedFilePaths {
  return { configFilepath: env.AWS_CONFIG_FILE || undefined, filepath: env.AWS_SHARED_CREDENTIALS_FILE || undefined };
}

/**
 * Reads the shared config and credentials files. `ignoreCache` so a profile added while VS Code
 * runs shows up without a reload.
 */
export function readSharedFiles(paths: SharedFilePaths = sharedFilePaths(process.env)): Promise<SharedFiles> {
  return loadSharedConfigFiles({ ...paths, ignoreCache: true });
}

export function listProfiles(files: SharedFiles): ProfileInfo[] {
  const names = new Set([...Object.keys(files.configFile), ...Object.keys(files.credentialsFile)]);
  return [...names]
    .filter((name) => !/^(services|sso-session)\./.test(name)) // those sections are not profiles
    .sort((a, b) => (a === 'default' ? -1 : b === 'default' ? 1 : a.localeCompare(b)))
    .map((name) => describeProfile(files, name));
}

export function describeProfile(files: SharedFiles, name: string): ProfileInfo {
  // The credentials file wins for keys it sets, as the CLI and SDK do.
  const section = { ...files.configFile[name], ...files.credentialsFile[name] } as Record<string, string | undefined>;
  const services = section.services ? files.configFile[`services.${section.services}`] ?? {} : {};
  const serviceEndpoints: Record<string, string> = {};
  for (const [key, value] of Object.entries(services)) {
    const match = /^([\w-]+)\.endpoint_url$/.exec(key);
    if (match && value) serviceEndpoints[match[1]] = value;
  }
  return {
    name,
    region: section.region,
    endpointUrl: section.endpoint_url,
    serviceEndpoints,
    kind: profileKind(section),
  };
}

function profileKind(section: Record<string, string | undefined>): ProfileInfo['kind'] {
  if (section.sso_session || section.sso_start_url) return 'sso';
  if (section.role_arn && section.web_identity_token_file) return 'web-identity';
  if (section.role_arn) return 'assume-role';
  if (section.credential_process) return 'process';
  if (section.aws_access_key_id) return 'static';
  return 'other';
}

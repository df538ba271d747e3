import { S3Client } from '@aws-sdk/client-s3';
import { fromIni, fromNodeProviderChain } from '@aws-sdk/credential-providers';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import type { AwsCredentialIdentityProvider } from '@smithy/types';
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { isAwsEndpoint, resolveEndpoint, type ServiceName } from './endpoints';
import { describeProfile, readSharedFiles, sharedFilePaths, type ProfileInfo } from './profiles';

/** What the user chose, from the extension's settings and state or the CLI's flags. */
export interface ConnectionOptions {
  /** A profile picked explicitly; otherwise AWS_PROFILE, then `default`, as the CLI does. */
  readonly profile?: string;
  /** A region picked explicitly; otherwise AWS_REGION, AWS_DEFAULT_REGION, the profile's region. */
  readonly region?: string;
  /** Endpoint of an S3-compatible store (Ceph, MinIO…), over the AWS conventions. */
  readonly s3Endpoint?: string;
  /** Path-style bucket addressing; undefined means: on for non-AWS endpoints, off for AWS. */
  readonly s3ForcePathStyle?: boolean;
  /** Sockets per host for the shared keep-alive agents. */
  readonly maxSockets?: number;
}

export const DEFAULT_REGION = 'us-east-1';

/**
 * One way to make an AWS client. Resolves profile, region, endpoints and credentials from the
 * shared files and environment the way the AWS CLI does, and creates each client on first use:
 * constructing a Connection does no I/O, so extension activation makes no network call.
 */
export class Connection {
  private profileInfo?: Promise<ProfileInfo>;
  private credentials?: AwsCredentialIdentityProvider;
  private readonly clients = new Map<string, unknown>();
  private readonly requestHandler: NodeHttpHandler;

  constructor(
    readonly options: ConnectionOptions = {},
    private readonly env: NodeJS.ProcessEnv = process.env,
  ) {
    const maxSockets = options.maxSockets ?? 64;
    this.requestHandler = new NodeHttpHandler({
      httpAgent: new HttpAgent({ keepAlive: true, maxSockets }),
      httpsAgent: new HttpsAgent({ keepAlive: true, maxSockets }),
      connectionTimeout: 10_000,
      requestTimeout: 120_000,
    });
  }

  get profileName(): string {
    return this.options.profile || this.env.AWS_PROFILE || this.env.AWS_DEFAULT_PROFILE || 'default';
  }

  profile(): Promise<ProfileInfo> {
    this.profileInfo ??= readSharedFiles(sharedFilePaths(this.env)).then((files) => describeProfile(files, this.profileName));
    return this.profileInfo;
  }

  async region(): Promise<string> {
    return (
      this.options.region ||
      this.env.AWS_REGION ||
      this.env.AWS_DEFAULT_REGION ||
      (await this.profile()).region ||
      DEFAULT_REGION
    );
  }

  async endpoint(service: ServiceName): Promise<string | undefined> {
    return resolveEndpoint(service, await this.profile(), this.env, service === 's3' ? this.options.s3Endpoint : undefined);
  }

  /** True when S3 is served by something other than AWS, which changes checksum and addressing defaults. */
  async isS3Compatible(): Promise<boolean> {
    return !isAwsEndpoint(await this.endpoint('s3'));
  }

  async s3(region?: string): Promise<S3Client> {
    const endpoint = await this.endpoint('s3');
    const compatible = !isAwsEndpoint(endpoint);
    return this.cached(`s3:${region ?? ''}`, async () =>
      new S3Client({
        ...(await this.baseConfig('s3', region)),
        forcePathStyle: this.options.s3ForcePathStyle ?? compatible,
        // A bucket in another region answers with a redirect; follow it instead of failing.
        followRegionRedirects: true,
        // Streaming aws-chunked checksums break S3-compatible stores (Ceph answers 411, others
        // store the framing as data), so only send checksums where a request requires one.
        ...(compatible && {
          requestChecksumCalculation: 'WHEN_REQUIRED' as const,
          responseChecksumValidation: 'WHEN_REQUIRED' as const,
        }),
      }),
    );
  }

  /**
   * Any other modular v3 client, made the same way: `connection.client(EC2Client, 'ec2')`.
   * Later features use this rather than constructing clients themselves.
   */
  async client<C>(
    ctor: new (config: ClientBaseConfig) => C,
    service: ServiceName,
    region?: string,
  ): Promise<C> {
    return this.cached(`${service}:${region ?? ''}`, async () => new ctor(await this.baseConfig(service, region)));
  }

  /** Credentials for callers that sign requests themselves (presigning is done by the SDK too). */
  credentialProvider(): AwsCredentialIdentityProvider {
    this.credentials ??= this.makeCredentialProvider();
    return this.credentials;
  }

  private makeCredentialProvider(): AwsCredentialIdentityProvider {
    const paths = sharedFilePaths(this.env);
    // An explicit profile must not be shadowed by AWS_ACCESS_KEY_ID in the environment, so it
    // goes straight to the shared files (static keys, SSO, assume-role, credential_process).
    if (this.options.profile) return fromIni({ profile: this.options.profile, ...paths });
    // Keys in this connection's environment come first, as in the SDK's chain; read them here
    // because the chain itself only looks at process.env.
    const { AWS_ACCESS_KEY_ID: accessKeyId, AWS_SECRET_ACCESS_KEY: secretAccessKey, AWS_SESSION_TOKEN: sessionToken } = this.env;
    if (accessKeyId && secretAccessKey) {
      const identity = { accessKeyId, secretAccessKey, ...(sessionToken && { sessionToken }) };
      return async () => identity;
    }
    return fromNodeProviderChain({ profile: this.profileName, ...paths });
  }

  /** Closes the keep-alive sockets; the connection is not used after this. */
  dispose(): void {
    for (const client of this.clients.values()) {
      void (client as Promise<{ destroy?: () => void }>).then((c) => c.destroy?.(), () => undefined);
    }
    this.clients.clear();
    this.requestHandler.destroy();
  }

  private async baseConfig(service: ServiceName, region?: string): Promise<ClientBaseConfig> {
    const endpoint = await this.endpoint(service);
    return {
      region: region ?? (await this.region()),
      credentials: this.credentialProvider(),
      requestHandler: this.requestHandler,
      // Endpoints were resolved above for this connection's profile; left to itself the SDK
      // would look again in the profile process.env names and could send to another endpoint.
      ignoreConfiguredEndpointUrls: true,
      ...(endpoint && { endpoint }),
    };
  }

  private async cached<C>(key: string, make: () => Promise<C>): Promise<C> {
    let client = this.clients.get(key) as Promise<C> | undefined;
    if (!client) {
      client = make();
      this.clients.set(key, client);
      client.catch(() => this.clients.delete(key));
    }
    return client;
  }
}

export interface ClientBaseConfig {
  region: string;
  credentials: AwsCredentialIdentityProvider;
  requestHandler: NodeHttpHandler;
  ignoreConfiguredEndpointUrls: boolean;
  endpoint?: string;
}

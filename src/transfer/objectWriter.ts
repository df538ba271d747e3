import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@smithy/types';
import http from 'node:http';
import https from 'node:https';
import { AbortWatch } from '../core/abortWatch';
import { crc32c, crc32cBase64, md5 } from './checksums';
import { canonicalQuery, RequestSigner, rfc3986 } from './sigv4';

/**
 * How the engine proves each object arrived intact. `crc32c`: AWS S3 verifies the
 * x-amz-checksum-crc32c header of every request and keeps the checksum. `md5`: for
 * S3-compatible stores, which ignore the x-amz-checksum headers but check Content-MD5 and
 * return the MD5 as ETag.
 */
export type ChecksumMode = 'crc32c' | 'md5';

export interface ObjectWriterOptions {
  readonly credentials: AwsCredentialIdentityProvider;
  readonly region: string;
  /** Custom endpoint (S3-compatible store); undefined for AWS's regional endpoint. */
  readonly endpoint?: string;
  readonly forcePathStyle: boolean;
  readonly checksum: ChecksumMode;
  /** Sockets per host; the pool of requests in flight never exceeds it. */
  readonly maxSockets: number;
  /** Milliseconds without progress on a socket before the request fails as a timeout. */
  readonly idleTimeoutMs?: number;
}

export interface PutRequest {
  readonly bucket: string;
  readonly key: string;
  readonly body: Buffer;
  /** Extra headers: content-type, storage class, encryption, x-amz-meta-*… */
  readonly headers?: Record<string, string>;
  readonly signal?: AbortSignal;
  /** The body's MD5 and CRC32C when the reader has computed them already (in a worker thread). */
  readonly md5?: Buffer;
  readonly crc32c?: number;
}

export interface PartRequest extends PutRequest {
  readonly uploadId: string;
  readonly partNumber: number;
}

/** What the engine keeps of a stored object or part, to verify it and to complete uploads. */
export interface WriteResult {
  readonly etag: string;
  readonly md5: Buffer;
  readonly crc32c?: number;
}

/**
 * PutObject and UploadPart, the two requests that carry data, sent without the SDK's middleware
 * stack: the SDK costs about 1.2 ms of CPU per request here, its signer plus node:http about
 * 0.2 ms, and that difference decides how many small files a two-core machine can send per
 * second. Requests are signed with the SDK's own SigV4 signer; everything else (create,
 * complete, list, abort) goes through the SDK client.
 */
export class ObjectWriter {
  private readonly signer: RequestSigner;
  private readonly agent: http.Agent;
  private readonly base: URL;
  private readonly secure: boolean;
  /** Requests in flight by the signal that cancels them (not node:http's signal option: a listener each). */
  private readonly inFlight = new AbortWatch<http.ClientRequest>((req, reason) =>
    req.destroy(Object.assign(new Error('The operation was aborted', { cause: reason }), { name: 'AbortError' })),
  );

  constructor(private readonly options: ObjectWriterOptions) {
    this.base = new URL(options.endpoint ?? `https://s3.${options.region}.amazonaws.com`);
    this.secure = this.base.protocol === 'https:';
    const agentOptions = { keepAlive: true, maxSockets: options.maxSockets, maxFreeSockets: options.maxSockets };
    this.agent = this.secure ? new https.Agent(agentOptions) : new http.Agent(agentOptions);
    this.signer = new RequestSigner(memoizeCredentials(options.credentials), options.region);
  }

  putObject(request: PutRequest): Promise<WriteResult> {
    return this.send(request, {});
  }

  uploadPart(request: PartRequest): Promise<WriteResult> {
    return this.send(request, { partNumber: String(request.partNumber), uploadId: request.uploadId });
  }

  destroy(): void {
    this.agent.destroy();
  }

  private async send(request: PutRequest, query: Record<string, string>): Promise<WriteResult> {
    const { body } = request;
    const digest = request.md5 ?? md5(body);
    const crc = this.options.checksum === 'crc32c' ? (request.crc32c ?? crc32c(body)) : undefined;
    const { hostname, port, path } = this.address(request.bucket, request.key);
    const headers: Record<string, string> = {
      ...request.headers,
      host: port ? `${hostname}:${port}` : hostname,
      'content-length': String(body.length),
      'content-md5': digest.toString('base64'),
      ...(crc !== undefined && { 'x-amz-checksum-crc32c': crc32cBase64(crc) }),
    };
    // The body is not hashed a second time for the signature: Content-MD5 is a signed header,
    // so a body changed on the way (even over plain HTTP) no longer matches it and is refused.
    // Hashing it anyway cost about a fifth of the CPU of a big upload.
    const signed = await this.signer.sign({ method: 'PUT', path, query, headers, payloadHash: 'UNSIGNED-PAYLOAD' });
    const search = canonicalQuery(query);
    const reply = await this.request(
      { method: 'PUT', hostname, port, path: search ? `${path}?${search}` : path, headers: signed, agent: this.agent },
      body,
      request.signal,
    );
    const etag = reply.headers.etag;
    if (typeof etag !== 'string') throw s3Error(200, 'MissingETag', 'The server stored the data but returned no ETag.');
    return { etag, md5: digest, crc32c: crc };
  }

  private address(bucket: string, key: string): { hostname: string; port?: number; path: string } {
    const port = this.base.port ? Number(this.base.port) : undefined;
    const basePath = this.base.pathname.replace(/\/$/, '');
    // Dotted bucket names break TLS wildcard certificates in virtual-hosted form.
    const pathStyle = this.options.forcePathStyle || (this.secure && bucket.includes('.'));
    return pathStyle
      ? { hostname: this.base.hostname, port, path: `${basePath}/${bucket}/${objectPath(key)}` }
      : { hostname: `${bucket}.${this.base.hostname}`, port, path: `${basePath}/${objectPath(key)}` };
  }

  private request(options: http.RequestOptions, body: Buffer, signal?: AbortSignal): Promise<http.IncomingMessage> {
    const transport = this.secure ? https : http;
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise<http.IncomingMessage>((resolve, reject) => {
      const req = transport.request(options, (res) => {
        const status = res.statusCode ?? 0;
        if (status >= 200 && status < 300) {
          res.resume();
          res.on('end', () => resolve(res));
          res.on('error', reject);
          return;
        }
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => reject(parseS3Error(status, Buffer.concat(chunks).toString('utf8'), res.headers)));
        res.on('error', reject);
      });
      req.setTimeout(this.options.idleTimeoutMs ?? 60_000, () => {
        req.destroy(Object.assign(new Error('The S3 request made no progress for too long.'), { name: 'TimeoutError' }));
      });
      req.on('error', reject);
      this.inFlight.add(signal, req);
      req.on('close', () => this.inFlight.delete(signal, req));
      req.end(body);
    });
  }
}

/** Encodes a key for the request path: each segment escaped by RFC 3986, slashes kept. */
export function objectPath(key: string): string {
  // Most keys need no escaping at all; testing for that is cheaper than escaping every segment.
  return SAFE_KEY.test(key) ? key : key.split('/').map(rfc3986).join('/');
}

const SAFE_KEY = /^[A-Za-z0-9\-._~/]*$/;

/**
 * An error shaped like the SDK's (name = S3 error code, $metadata.httpStatusCode), so the same
 * retry rules and explanations apply to both paths.
 */
export function parseS3Error(status: number, body: string, headers: http.IncomingHttpHeaders): Error {
  const code = /<Code>([^<]+)<\/Code>/.exec(body)?.[1] ?? (status === 503 ? 'SlowDown' : status === 403 ? 'AccessDenied' : status === 404 ? 'NotFound' : `Http${status}`);
  const message = /<Message>([^<]*)<\/Message>/.exec(body)?.[1] || `S3 answered HTTP ${status} (${code}).`;
  const err = s3Error(status, code, message);
  const requestId = headers['x-amz-request-id'];
  if (typeof requestId === 'string') Object.assign(err, { $metadata: { httpStatusCode: status, requestId } });
  return err;
}

function s3Error(status: number, code: string, message: string): Error {
  return Object.assign(new Error(unescapeXml(message)), {
    name: code,
    $fault: status >= 500 ? 'server' : 'client',
    $metadata: { httpStatusCode: status },
  });
}

function unescapeXml(text: string): string {
  return text.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&amp;/g, '&');
}

/**
 * Calls the provider once and again only when the credentials are within five minutes of
 * expiring, so temporary credentials (SSO, assumed roles) are refreshed during a long upload.
 */
export function memoizeCredentials(provider: AwsCredentialIdentityProvider): AwsCredentialIdentityProvider {
  let refreshing: Promise<AwsCredentialIdentity> | undefined;
  const fresh = (identity: AwsCredentialIdentity) => !identity.expiration || identity.expiration.getTime() - Date.now() >= 5 * 60_000;
  // The last credentials obtained, and a settled promise of them: a fresh one is handed out
  // as is, with no new promise per request.
  let known: { identity: AwsCredentialIdentity; promise: Promise<AwsCredentialIdentity> } | undefined;
  return () => {
    if (known && fresh(known.identity)) return known.promise;
    // Every request that finds the credentials stale waits for one refresh, not one each.
    refreshing ??= Promise.resolve(provider())
      .then((identity) => {
        known = { identity, promise: Promise.resolve(identity) };
        return identity;
      })
      .finally(() => (refreshing = undefined));
    return refreshing;
  };
}

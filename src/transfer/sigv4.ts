import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@smithy/types';
import { createHash, createHmac, createSecretKey, type KeyObject } from 'node:crypto';

export interface SignableRequest {
  readonly method: string;
  /** The path, each segment already escaped once (RFC 3986), as it goes on the wire. */
  readonly path: string;
  /** Query parameters, unescaped. */
  readonly query: Readonly<Record<string, string>>;
  /** Lower-case names; `host` included. Every one of them is signed. */
  readonly headers: Readonly<Record<string, string>>;
  /** The x-amz-content-sha256 value: a hex SHA-256 or UNSIGNED-PAYLOAD. */
  readonly payloadHash: string;
}

/**
 * AWS Signature Version 4 for the engine's PutObject and UploadPart, the requests sent by the
 * thousand: the SDK's signer (@smithy/signature-v4) took a tenth of the sending thread on
 * small files, mostly deriving the signing key again (an HMAC even on a cache hit) and
 * checking headers this engine never sends. This one keeps the day's key and signs the
 * headers it is given. Tests check it against the SDK's signer, byte for byte.
 */
export class RequestSigner {
  private key?: { readonly scope: string; readonly identity: AwsCredentialIdentity; readonly secret: KeyObject };
  /** The x-amz-date of the current second: formatting a date costs more than signing with it. */
  private clock = { second: NaN, amzDate: '' };

  constructor(
    private readonly credentials: AwsCredentialIdentityProvider,
    private readonly region: string,
    private readonly service = 's3',
  ) {}

  /** The headers to send: the request's, with x-amz-date, the session token and Authorization. */
  async sign(request: SignableRequest, now = Date.now()): Promise<Record<string, string>> {
    const identity = await this.credentials();
    const amzDate = this.amzDate(now);
    const day = amzDate.slice(0, 8);
    const headers: Record<string, string> = { ...request.headers, 'x-amz-date': amzDate, 'x-amz-content-sha256': request.payloadHash };
    if (identity.sessionToken) headers['x-amz-security-token'] = identity.sessionToken;
    const names = Object.keys(headers).sort();
    const signedHeaders = names.join(';');
    let canonicalHeaders = '';
    for (const name of names) canonicalHeaders += `${name}:${canonicalValue(headers[name])}\n`;
    const canonicalRequest = `${request.method}\n${request.path}\n${canonicalQuery(request.query)}\n${canonicalHeaders}\n${signedHeaders}\n${request.payloadHash}`;
    const scope = `${day}/${this.region}/${this.service}/aws4_request`;
    const stringToSign = `AWS4-HMAC-SHA256\n${amzDate}\n${scope}\n${createHash('sha256').update(canonicalRequest).digest('hex')}`;
    const signature = createHmac('sha256', this.signingKey(scope, day, identity)).update(stringToSign).digest('hex');
    headers.authorization = `AWS4-HMAC-SHA256 Credential=${identity.accessKeyId}/${scope}, SignedHeaders=${signedHeaders}, Signature=${signature}`;
    return headers;
  }

  private amzDate(now: number): string {
    const second = Math.floor(now / 1000);
    if (second !== this.clock.second) this.clock = { second, amzDate: new Date(now).toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '') };
    return this.clock.amzDate;
  }

  /** The key for a day, region and service; derived again when any of them or the credentials change. */
  private signingKey(scope: string, day: string, identity: AwsCredentialIdentity): KeyObject {
    if (this.key?.scope === scope && sameCredentials(this.key.identity, identity)) return this.key.secret;
    const hmac = (key: string | Buffer, data: string) => createHmac('sha256', key).update(data).digest();
    const secret = createSecretKey(hmac(hmac(hmac(hmac(`AWS4${identity.secretAccessKey}`, day), this.region), this.service), 'aws4_request'));
    this.key = { scope, identity, secret };
    return secret;
  }
}

function sameCredentials(a: AwsCredentialIdentity, b: AwsCredentialIdentity): boolean {
  return a === b || (a.accessKeyId === b.accessKeyId && a.secretAccessKey === b.secretAccessKey && a.sessionToken === b.sessionToken);
}

/** A header value trimmed, each run of white space made one space (as the SDK does); most values need neither. */
function canonicalValue(value: string): string {
  return NOT_CANONICAL.test(value) ? value.trim().replace(/\s+/g, ' ') : value;
}

/** White space at either end, two in a row, or any but a plain space. */
const NOT_CANONICAL = /^\s|\s$|\s\s|[^\S ]/;

/** The query as SigV4 signs it: escaped, sorted by name; S3 takes it in that form on the wire too. */
export function canonicalQuery(query: Readonly<Record<string, string>>): string {
  const entries = Object.entries(query);
  if (!entries.length) return '';
  return entries
    .map(([name, value]) => [rfc3986(name), rfc3986(value)])
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, value]) => `${name}=${value}`)
    .join('&');
}

/** Escapes all but the unreserved characters, as SigV4 and S3 paths want. */
export function rfc3986(text: string): string {
  return encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

import { isCancellation } from '../core/progress';

/** What was being done when an AWS call failed, so the sentence can name it. */
export interface ErrorContext {
  /** What failed, as a phrase: "List s3://bucket/prefix/". */
  readonly operation: string;
  /** The IAM action the call needs, e.g. "s3:ListBucket", named when access is denied. */
  readonly action?: string;
  /** The resource the action is on, e.g. "arn:aws:s3:::bucket". */
  readonly resource?: string;
  /** The profile in use, for the commands the user can run to fix credentials. */
  readonly profile?: string;
  /** The endpoint in use, named when it cannot be reached. */
  readonly endpoint?: string;
}

/** An error whose message is a sentence for the user: what failed, why, and what to do. */
export class UserError extends Error {
  constructor(
    message: string,
    /** The AWS error code or Node error code behind it, for logs and tests. */
    readonly code: string | undefined,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'UserError';
  }
}

interface AwsLikeError {
  name?: string;
  code?: string;
  Code?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
  $fault?: string;
}

const THROTTLING = new Set(['SlowDown', 'Throttling', 'ThrottlingException', 'TooManyRequestsException', 'RequestLimitExceeded']);
const EXPIRED = new Set(['ExpiredToken', 'ExpiredTokenException', 'RequestExpired', 'TokenRefreshRequired']);
const BAD_KEYS = new Set(['InvalidAccessKeyId', 'SignatureDoesNotMatch', 'UnrecognizedClientException', 'InvalidClientTokenId', 'AuthFailure']);
const DENIED = new Set(['AccessDenied', 'AccessDeniedException', 'UnauthorizedOperation', 'Forbidden', 'AllAccessDisabled']);
const UNREACHABLE = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNRESET', 'TimeoutError']);

/** The error code of an AWS SDK or Node network error, if it has one. */
export function errorCode(err: unknown): string | undefined {
  if (!err || typeof err !== 'object') return undefined;
  const e = err as AwsLikeError;
  const status = e.$metadata?.httpStatusCode;
  // The SDK names an S3 error with no body (HEAD requests) after its status code; use the S3 word.
  if (e.name === 'NotFound' || (status === 404 && e.name === 'Unknown')) return 'NotFound';
  if (status === 403 && (e.name === 'Unknown' || e.name === '403')) return 'AccessDenied';
  return e.Code ?? (e.name && e.name !== 'Error' ? e.name : undefined) ?? e.code;
}

/** True for errors worth retrying: throttling, 5xx, dropped connections. */
export function isTransient(err: unknown): boolean {
  const code = errorCode(err) ?? '';
  const status = (err as AwsLikeError | undefined)?.$metadata?.httpStatusCode ?? 0;
  return (
    THROTTLING.has(code) ||
    UNREACHABLE.has(code) ||
    status >= 500 ||
    code === 'RequestTimeout' ||
    code === 'EPIPE' ||
    code === 'ERR_STREAM_PREMATURE_CLOSE'
  );
}

/**
 * True for errors every other request with the same credentials would meet too (access denied,
 * bad or expired credentials), so a job stops at the first one instead of failing each item.
 * SignatureDoesNotMatch is left out: some S3-compatible stores answer it for one key with
 * unusual characters.
 */
export function isCredentialOrAccessError(err: unknown): boolean {
  const code = errorCode(err) ?? '';
  return (
    DENIED.has(code) ||
    EXPIRED.has(code) ||
    (BAD_KEYS.has(code) && code !== 'SignatureDoesNotMatch') ||
    code === 'CredentialsProviderError' ||
    code === 'TokenProviderError'
  );
}

/**
 * Turns an AWS SDK error into a sentence a researcher can act on. Cancellation passes through
 * untouched; so does an error that is already a UserError.
 */
export function explainAwsError(err: unknown, context: ErrorContext): Error {
  if (isCancellation(err) || err instanceof UserError) return err as Error;
  const code = errorCode(err);
  const message = (err as AwsLikeError | undefined)?.message ?? String(err);
  const profile = context.profile ?? 'default';
  const what = context.operation;
  const make = (why: string) => new UserError(`${what} failed: ${why}`, code, { cause: err });

  if (isSsoExpiry(err)) {
    return make(`the SSO session of profile "${profile}" has expired or was never started. Run \`aws sso login --profile ${profile}\` in a terminal, then try again.`);
  }
  if (code === 'CredentialsProviderError') {
    return make(`no AWS credentials were found for profile "${profile}". Set them up with \`aws configure --profile ${profile}\`, or pick another profile from the status bar.`);
  }
  if (code && EXPIRED.has(code)) {
    return make(`the credentials of profile "${profile}" have expired (${code}). Refresh them (for SSO: \`aws sso login --profile ${profile}\`) and try again.`);
  }
  if (code && BAD_KEYS.has(code)) {
    return make(`the credentials of profile "${profile}" were not accepted (${code}). Check the access key and secret key, or pick another profile.`);
  }
  if (code && DENIED.has(code)) {
    const denied = deniedActionAndResource(message) ?? { action: context.action, resource: context.resource };
    const clause = denied.action ? ` to ${denied.action}${denied.resource ? ` on ${denied.resource}` : ''}` : '';
    return make(`access denied: profile "${profile}" is not allowed${clause}. Ask your administrator for that permission; Research Cloud never changes IAM policies.`);
  }
  if (code === 'NoSuchBucket') return make('the bucket does not exist. Check its name, or remove it from the tree.');
  if (code === 'NoSuchKey' || code === 'NotFound') return make('the object does not exist (it may have been deleted or moved). Refresh the tree.');
  if (code === 'PermanentRedirect' || code === 'AuthorizationHeaderMalformed' || code === 'IllegalLocationConstraintException') {
    return make(`the bucket is in another region than the one in use. Switch region from the status bar. (${code})`);
  }
  if (code && THROTTLING.has(code)) return make(`the service is throttling requests (${code}). Wait a moment and try again, or lower the concurrency.`);
  if (code && UNREACHABLE.has(code)) {
    const where = context.endpoint ?? 'the AWS endpoint';
    return make(`cannot reach ${where} (${code}). Check the network or VPN, and the endpoint setting if you use an S3-compatible store.`);
  }
  if (code === 'BucketAlreadyExists') return make('that bucket name is taken by another account; bucket names are global. Choose another name.');
  if (code === 'BucketAlreadyOwnedByYou') return make('you already own a bucket of that name.');
  if (code === 'InvalidBucketName') return make('the bucket name is not valid: use 3–63 lowercase letters, digits, dots or hyphens, starting and ending with a letter or digit.');
  return make(`${message}${code && !message.includes(code) ? ` (${code})` : ''}`);
}

function isSsoExpiry(err: unknown): boolean {
  const e = err as AwsLikeError | undefined;
  if (!e) return false;
  const name = e.name ?? '';
  const text = e.message ?? '';
  return (
    (name === 'CredentialsProviderError' || name === 'TokenProviderError' || name === 'UnauthorizedException') &&
    /\bSSO (session|token)|token is expired|aws sso login/i.test(text)
  );
}

/** AWS often says "…is not authorized to perform: s3:ListBucket on resource: \"arn:…\"…". */
function deniedActionAndResource(message: string): { action: string; resource?: string } | undefined {
  const match = /not authorized to perform:?\s*([\w-]+:[\w*-]+)(?:\s+on resource:?\s*(?:"([^"]+)"|(\S+)))?/i.exec(message);
  return match ? { action: match[1], resource: (match[2] ?? match[3])?.replace(/[.,]$/, '') } : undefined;
}

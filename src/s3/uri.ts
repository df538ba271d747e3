/** A bucket, optionally narrowed to a prefix or naming one object. */
export interface S3Location {
  readonly bucket: string;
  /** Key or prefix inside the bucket; '' for the whole bucket. */
  readonly key: string;
}

const BUCKET_NAME = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

/**
 * Parses what a user types when adding a bucket: `my-bucket`, `my-bucket/some/prefix/`,
 * `s3://my-bucket/some/prefix/` or an `arn:aws:s3:::my-bucket/prefix` ARN.
 */
export function parseS3Location(input: string): S3Location {
  let text = input.trim();
  if (/^s3:\/\//i.test(text)) text = text.slice(5);
  else if (/^arn:aws[\w-]*:s3:::/.test(text)) text = text.replace(/^arn:aws[\w-]*:s3:::/, '');
  const slash = text.indexOf('/');
  const bucket = slash === -1 ? text : text.slice(0, slash);
  const key = slash === -1 ? '' : text.slice(slash + 1);
  const problem = bucketNameProblem(bucket);
  if (problem) throw new Error(`"${input.trim()}" is not a bucket or s3:// URI: ${problem}`);
  return { bucket, key };
}

/** Why a bucket name is invalid by S3's naming rules, or undefined when it is valid. */
export function bucketNameProblem(name: string): string | undefined {
  if (!name) return 'the bucket name is empty.';
  if (!BUCKET_NAME.test(name)) {
    return 'bucket names are 3–63 characters of lowercase letters, digits, dots and hyphens, starting and ending with a letter or digit.';
  }
  if (name.includes('..')) return 'bucket names cannot contain two dots in a row.';
  if (/^\d+\.\d+\.\d+\.\d+$/.test(name)) return 'bucket names cannot look like an IP address.';
  return undefined;
}

export function formatS3Uri(bucket: string, key = ''): string {
  return `s3://${bucket}/${key}`;
}

/** The ARN IAM uses for a bucket or an object, for naming a denied resource. */
export function s3Arn(bucket: string, key?: string): string {
  return key ? `arn:aws:s3:::${bucket}/${key}` : `arn:aws:s3:::${bucket}`;
}

/** The last path segment of a key or prefix: `a/b/c.txt` → `c.txt`, `a/b/` → `b`. */
export function baseName(keyOrPrefix: string): string {
  const trimmed = keyOrPrefix.endsWith('/') ? keyOrPrefix.slice(0, -1) : keyOrPrefix;
  return trimmed.slice(trimmed.lastIndexOf('/') + 1);
}

/** The prefix a key or prefix lives in: `a/b/c.txt` → `a/b/`, `a/b/` → `a/`, `c` → ``. */
export function parentPrefix(keyOrPrefix: string): string {
  const trimmed = keyOrPrefix.endsWith('/') ? keyOrPrefix.slice(0, -1) : keyOrPrefix;
  return trimmed.slice(0, trimmed.lastIndexOf('/') + 1);
}

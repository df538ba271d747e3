import * as path from 'node:path';

/**
 * Why an S3 key cannot be saved under the destination folder. The message is a clause that
 * completes "Download s3://bucket/key refused: …".
 */
export class UnsafeKeyError extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'UnsafeKeyError';
  }
}

/** Longest file or folder name most local filesystems accept, in bytes. */
const MAX_NAME_BYTES = 255;
const WINDOWS_INVALID_CHARACTERS = /[<>:"|?*\\\u0000-\u001f]/;
const WINDOWS_RESERVED_NAMES = /^(con|prn|aux|nul|com[0-9¹²³]|lpt[0-9¹²³])(\.|$)/i;

/**
 * Where an object found under a selected S3 folder is saved: the folder keeps its name and its
 * structure, so `data/run1/` + `data/run1/x/a.fastq` saves to `<destination>/run1/x/a.fastq`.
 * `prefix` is the folder's prefix ending in '/', or '' for a whole bucket (then the folder is
 * named after the bucket). Throws UnsafeKeyError for a key that cannot be saved safely.
 */
export function localPathUnderFolder(
  destination: string,
  bucket: string,
  prefix: string,
  key: string,
  platform: NodeJS.Platform = process.platform,
): string {
  if (!key.startsWith(prefix)) throw new UnsafeKeyError(`the key is not under the folder "${prefix}".`);
  const folderName = nameSegments(prefix).at(-1) ?? bucket;
  return joinInside(destination, [folderName, ...nameSegments(key.slice(prefix.length))], platform);
}

/** Where a single selected object is saved: `<destination>/<its name>`, whatever its folder in S3. */
export function localPathForObject(destination: string, key: string, platform: NodeJS.Platform = process.platform): string {
  const name = nameSegments(key).at(-1);
  if (name === undefined) throw new UnsafeKeyError('the key has no name to save it under.');
  return joinInside(destination, [name], platform);
}

/**
 * The names along a key. Empty segments (`a//b`, a leading '/') and '.' add no level, so they
 * are dropped rather than refused: `/a//./b` is saved as `a/b`.
 */
function nameSegments(text: string): string[] {
  return text.split('/').filter((segment) => segment !== '' && segment !== '.');
}

function joinInside(destination: string, segments: string[], platform: NodeJS.Platform): string {
  for (const segment of segments) checkName(segment, platform);
  const root = path.resolve(destination);
  const target = path.join(root, ...segments);
  // The checks above should make this impossible; it guards the one promise that matters.
  const relative = path.relative(root, target);
  if (relative.startsWith('..') || path.isAbsolute(relative)) {
    throw new UnsafeKeyError('the key would be saved outside the destination folder.');
  }
  return target;
}

function checkName(name: string, platform: NodeJS.Platform): void {
  if (name === '..') {
    throw new UnsafeKeyError('the key contains a ".." segment, which would save it outside the destination folder.');
  }
  if (name.includes('\0')) throw new UnsafeKeyError('the key contains a NUL character, which no local filesystem accepts.');
  if (Buffer.byteLength(name) > MAX_NAME_BYTES) {
    throw new UnsafeKeyError(`the name "${name.slice(0, 40)}…" is longer than the ${MAX_NAME_BYTES} bytes a local file name may have.`);
  }
  if (platform === 'win32') checkWindowsName(name);
}

function checkWindowsName(name: string): void {
  if (WINDOWS_INVALID_CHARACTERS.test(name)) {
    throw new UnsafeKeyError(`the name "${name}" contains a character Windows does not allow in file names (< > : " | ? * \\ or a control character).`);
  }
  if (WINDOWS_RESERVED_NAMES.test(name)) throw new UnsafeKeyError(`"${name}" is a reserved device name on Windows.`);
  if (/[. ]$/.test(name)) throw new UnsafeKeyError(`the name "${name}" ends with a dot or space, which Windows drops.`);
}

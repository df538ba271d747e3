import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { ExistingFilePolicy } from '../s3/download';
import { parseS3Location, type S3Location } from '../s3/uri';
import { STORAGE_CLASSES, type Encryption, type StorageClass } from '../transfer/objectHeaders';
import { MiB } from '../transfer/plan';
import type { SyncComparison } from '../transfer/sync';
import type { EngineOptions } from '../transfer/uploadJob';
import type { UploadRequest } from '../transfer/uploadService';
import { UsageError } from './exitCodes';

/** How to reach S3: the same profiles and endpoints as the extension, chosen by flags instead of settings. */
export interface ConnectionFlags {
  readonly profile?: string;
  readonly region?: string;
  /** Endpoint of an S3-compatible store; otherwise the AWS conventions decide. */
  readonly endpoint?: string;
  /** Forces path-style addressing; absent means on for S3-compatible endpoints, off for AWS. */
  readonly pathStyle?: boolean;
}

export interface UploadInvocation {
  readonly command: 'upload' | 'sync';
  /** The whole job, sources made absolute so a resume from another directory finds them. */
  readonly request: UploadRequest;
  readonly connection: ConnectionFlags;
  readonly dryRun: boolean;
  readonly yes: boolean;
  readonly json: boolean;
  readonly verbose: boolean;
}

export interface DownloadInvocation {
  readonly command: 'download';
  readonly source: S3Location;
  readonly destination: string;
  readonly connection: ConnectionFlags;
  readonly concurrency?: number;
  readonly partSize?: number;
  readonly ifExists: ExistingFilePolicy;
  readonly json: boolean;
}

export interface JobInvocation {
  readonly command: 'resume' | 'discard';
  readonly jobId: string;
  readonly connection: ConnectionFlags;
  readonly yes: boolean;
  readonly json: boolean;
  readonly verbose: boolean;
}

export interface JobsInvocation {
  readonly command: 'jobs';
  readonly json: boolean;
}

export interface CleanupInvocation {
  readonly command: 'cleanup';
  readonly location: S3Location;
  readonly connection: ConnectionFlags;
  readonly dryRun: boolean;
  readonly yes: boolean;
  readonly json: boolean;
}

export type Invocation =
  | UploadInvocation
  | DownloadInvocation
  | JobInvocation
  | JobsInvocation
  | CleanupInvocation
  | { readonly command: 'help' }
  | { readonly command: 'version' };

type OptionSpec = { readonly type: 'string' | 'boolean'; readonly multiple?: boolean; readonly short?: string };
type OptionSpecs = Readonly<Record<string, OptionSpec>>;
type Values = Record<string, string | boolean | Array<string | boolean> | undefined>;

const HELP: OptionSpecs = { help: { type: 'boolean', short: 'h' } };
const JSON_OUTPUT: OptionSpecs = { json: { type: 'boolean' } };
const CONNECTION: OptionSpecs = {
  profile: { type: 'string' },
  region: { type: 'string' },
  endpoint: { type: 'string' },
  'path-style': { type: 'boolean' },
};
const UPLOAD: OptionSpecs = {
  ...HELP,
  ...CONNECTION,
  ...JSON_OUTPUT,
  'dry-run': { type: 'boolean' },
  yes: { type: 'boolean' },
  verbose: { type: 'boolean' },
  'storage-class': { type: 'string' },
  sse: { type: 'string' },
  'sse-kms-key-id': { type: 'string' },
  'no-content-type': { type: 'boolean' },
  gzip: { type: 'boolean' },
  'hashed-prefixes': { type: 'boolean' },
  exclude: { type: 'string', multiple: true },
  'follow-symlinks': { type: 'boolean' },
  'part-size': { type: 'string' },
  concurrency: { type: 'string' },
  'max-concurrency': { type: 'string' },
  memory: { type: 'string' },
};

const OPTIONS = {
  upload: UPLOAD,
  sync: { ...UPLOAD, compare: { type: 'string' }, delete: { type: 'boolean' } },
  download: { ...HELP, ...CONNECTION, ...JSON_OUTPUT, concurrency: { type: 'string' }, 'part-size': { type: 'string' }, 'if-exists': { type: 'string' } },
  jobs: { ...HELP, ...JSON_OUTPUT },
  resume: { ...HELP, ...CONNECTION, ...JSON_OUTPUT, yes: { type: 'boolean' }, verbose: { type: 'boolean' } },
  discard: { ...HELP, ...CONNECTION, ...JSON_OUTPUT },
  cleanup: { ...HELP, ...CONNECTION, ...JSON_OUTPUT, 'dry-run': { type: 'boolean' }, yes: { type: 'boolean' } },
} satisfies Record<string, OptionSpecs>;

type CommandName = keyof typeof OPTIONS;

const SYNC_COMPARISONS = ['size-and-mtime', 'size-and-time', 'checksum'] as const satisfies readonly SyncComparison[];
/** The engine's default ceiling on requests in flight; a pinned concurrency above it raises it. */
const DEFAULT_MAX_CONCURRENCY = 64;
const LARGEST_PART_MIB = 5120;
const SMALLEST_UPLOAD_PART_MIB = 5;
const MOST_REQUESTS_IN_FLIGHT = 1000;
const SMALLEST_MEMORY_MIB = 16;

/** Turns the words after `research-cloud` into what to do, or throws a UsageError that says what is wrong. */
export function parseCommandLine(argv: readonly string[]): Invocation {
  const [command, ...rest] = argv;
  if (command === undefined) throw new UsageError('Give a command.');
  if (command === 'help' || command === '--help' || command === '-h') return { command: 'help' };
  if (command === 'version' || command === '--version' || command === '-V') return { command: 'version' };
  if (!(command in OPTIONS)) {
    throw new UsageError(command.startsWith('-') ? `Give a command before the options (${command}).` : `There is no command "${command}".`);
  }
  const name = command as CommandName;
  const { values, positionals } = parse(name, rest);
  if (values.help) return { command: 'help' };
  switch (name) {
    case 'upload':
    case 'sync':
      return uploadInvocation(name, values, positionals);
    case 'download':
      return downloadInvocation(values, positionals);
    case 'jobs':
      expectPositionals('jobs', positionals, 0, 'research-cloud jobs');
      return { command: 'jobs', json: flag(values, 'json') };
    case 'resume':
    case 'discard':
      expectPositionals(name, positionals, 1, `research-cloud ${name} <job-id>`);
      return {
        command: name,
        jobId: jobId(positionals[0]),
        connection: connectionFlags(values),
        yes: flag(values, 'yes'),
        json: flag(values, 'json'),
        verbose: flag(values, 'verbose'),
      };
    case 'cleanup':
      expectPositionals('cleanup', positionals, 1, 'research-cloud cleanup s3://bucket[/prefix]');
      return {
        command: 'cleanup',
        location: s3Location(positionals[0]),
        connection: connectionFlags(values),
        dryRun: flag(values, 'dry-run'),
        yes: flag(values, 'yes'),
        json: flag(values, 'json'),
      };
  }
}

function parse(command: CommandName, args: readonly string[]): { values: Values; positionals: string[] } {
  try {
    const { values, positionals } = parseArgs({ args: [...args], options: OPTIONS[command], allowPositionals: true, strict: true });
    return { values: values as Values, positionals };
  } catch (err) {
    throw new UsageError(parseErrorSentence(command, err));
  }
}

/** node:util's messages, shortened to what the user typed and what to do. */
function parseErrorSentence(command: CommandName, err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  const option = /'(-[^' ]+)/.exec(message)?.[1] ?? '';
  switch ((err as NodeJS.ErrnoException).code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return `"research-cloud ${command}" has no option ${option}.`;
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
      return /does not take/.test(message) ? `${option} takes no value.` : `${option} needs a value.`;
    default:
      return message;
  }
}

function uploadInvocation(command: 'upload' | 'sync', values: Values, positionals: string[]): UploadInvocation {
  const example = `research-cloud ${command} ./run42 s3://my-bucket/raw/`;
  if (positionals.length < 2) throw new UsageError(`${command} needs one or more local folders or files, then an s3:// destination, e.g. ${example}`);
  const destination = positionals[positionals.length - 1];
  const sources = positionals.slice(0, -1);
  if (!isS3Uri(destination)) {
    const hint = isS3Uri(positionals[0]) ? ' To copy from S3 to this machine, use research-cloud download.' : '';
    throw new UsageError(`The last argument of ${command} must be an s3:// destination, not "${destination}".${hint}`);
  }
  const remoteSource = sources.find(isS3Uri);
  if (remoteSource) throw new UsageError(`${command} sends local files to S3; "${remoteSource}" is not a local path.`);
  const location = s3Location(destination);
  const sync = command === 'sync' ? syncOptions(values) : undefined;
  const exclude = list(values, 'exclude');
  const request: UploadRequest = {
    sources: sources.map((source) => resolve(source)),
    bucket: location.bucket,
    prefix: asPrefix(location.key),
    scan: { ...(flag(values, 'follow-symlinks') && { followSymlinks: true }), ...(exclude.length && { exclude }) },
    engine: engineOptions(values),
    ...(sync && { sync }),
  };
  return {
    command,
    request,
    connection: connectionFlags(values),
    dryRun: flag(values, 'dry-run'),
    yes: flag(values, 'yes'),
    json: flag(values, 'json'),
    verbose: flag(values, 'verbose'),
  };
}

function syncOptions(values: Values): NonNullable<UploadRequest['sync']> {
  // Sync finds a file's object by its key and compares sizes: spread keys or gzipped bodies
  // never match, so every run would send everything again (and --delete would remove it).
  if (flag(values, 'hashed-prefixes')) throw new UsageError('sync finds each file\'s object by its path, so it cannot use --hashed-prefixes; use upload for that.');
  if (flag(values, 'gzip')) throw new UsageError('sync compares sizes, and a gzipped object never has the size of its file; use upload --gzip instead.');
  // Without --compare the engine's default applies, as in the extension.
  const compare = choice(values, 'compare', SYNC_COMPARISONS);
  return { ...(compare && { compare }), deleteExtra: flag(values, 'delete') };
}

function engineOptions(values: Values): EngineOptions {
  const partSize = integer(values, 'part-size', SMALLEST_UPLOAD_PART_MIB, LARGEST_PART_MIB);
  const concurrency = integer(values, 'concurrency', 1, MOST_REQUESTS_IN_FLIGHT);
  const maxConcurrency = integer(values, 'max-concurrency', 1, MOST_REQUESTS_IN_FLIGHT);
  const memory = integer(values, 'memory', SMALLEST_MEMORY_MIB, 1024 * 1024);
  if (concurrency !== undefined && maxConcurrency !== undefined && concurrency > maxConcurrency) {
    throw new UsageError(`--concurrency ${concurrency} is more than --max-concurrency ${maxConcurrency}.`);
  }
  // The engine clamps a pinned concurrency to the ceiling, which defaults to 64: raise it instead.
  const ceiling = maxConcurrency ?? (concurrency !== undefined && concurrency > DEFAULT_MAX_CONCURRENCY ? concurrency : undefined);
  const storageClass = storageClassOption(values);
  const encryption = encryptionOption(values);
  return {
    ...(storageClass && { storageClass }),
    ...(encryption && { encryption }),
    ...(flag(values, 'no-content-type') && { contentTypeFromName: false }),
    ...(flag(values, 'gzip') && { gzip: true }),
    ...(flag(values, 'hashed-prefixes') && { hashedPrefixes: true }),
    ...(partSize !== undefined && { partSize: partSize * MiB }),
    ...(concurrency !== undefined && { concurrency }),
    ...(ceiling !== undefined && { maxConcurrency: ceiling }),
    ...(memory !== undefined && { memoryBudget: memory * MiB }),
  };
}

function storageClassOption(values: Values): StorageClass | undefined {
  const raw = text(values, 'storage-class');
  if (raw === undefined) return undefined;
  const upper = raw.toUpperCase();
  if (!(STORAGE_CLASSES as readonly string[]).includes(upper)) {
    throw new UsageError(`--storage-class must be one of ${STORAGE_CLASSES.join(', ')}, not "${raw}".`);
  }
  return upper as StorageClass;
}

function encryptionOption(values: Values): Encryption | undefined {
  const raw = text(values, 'sse');
  const keyId = text(values, 'sse-kms-key-id');
  const type = raw === undefined ? undefined : raw.toUpperCase() === 'AES256' ? 'AES256' : raw.toLowerCase() === 'aws:kms' ? 'aws:kms' : undefined;
  if (raw !== undefined && !type) throw new UsageError(`--sse must be AES256 or aws:kms, not "${raw}".`);
  if (keyId !== undefined) {
    // A key id only means something with KMS; giving one says which encryption is wanted.
    if (type === 'AES256') throw new UsageError('--sse-kms-key-id goes with --sse aws:kms, not AES256.');
    return { type: 'aws:kms', keyId };
  }
  return type && { type };
}

function downloadInvocation(values: Values, positionals: string[]): DownloadInvocation {
  const usage = 'research-cloud download s3://bucket/prefix/ ./local-folder';
  expectPositionals('download', positionals, 2, usage);
  const [source, destination] = positionals;
  if (!isS3Uri(source)) throw new UsageError(`download copies from S3 to a local folder: the first argument must be an s3:// URI, e.g. ${usage}`);
  if (isS3Uri(destination)) throw new UsageError(`download saves into a local folder; "${destination}" is not a local path.`);
  const partSize = integer(values, 'part-size', 1, LARGEST_PART_MIB);
  const concurrency = integer(values, 'concurrency', 1, MOST_REQUESTS_IN_FLIGHT);
  return {
    command: 'download',
    source: s3Location(source),
    destination: resolve(destination),
    connection: connectionFlags(values),
    ...(concurrency !== undefined && { concurrency }),
    ...(partSize !== undefined && { partSize: partSize * MiB }),
    ifExists: choice(values, 'if-exists', ['skip', 'overwrite', 'fail'] as const) ?? 'skip',
    json: flag(values, 'json'),
  };
}

function connectionFlags(values: Values): ConnectionFlags {
  const profile = text(values, 'profile');
  const region = text(values, 'region');
  const endpoint = text(values, 'endpoint');
  if (profile !== undefined && !profile.trim()) throw new UsageError('--profile needs a profile name.');
  if (region !== undefined && !/^[a-z0-9][a-z0-9-]*$/.test(region)) throw new UsageError(`--region takes a region code such as eu-west-1, not "${region}".`);
  if (endpoint !== undefined) checkEndpoint(endpoint);
  return {
    ...(profile !== undefined && { profile }),
    ...(region !== undefined && { region }),
    ...(endpoint !== undefined && { endpoint }),
    ...(flag(values, 'path-style') && { pathStyle: true }),
  };
}

function checkEndpoint(endpoint: string): void {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    throw new UsageError(`--endpoint takes a URL such as https://s3.example.edu, not "${endpoint}".`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UsageError(`--endpoint must be an http:// or https:// URL, not "${endpoint}".`);
  // The endpoint is repeated in resume hints and logs, so it must never carry a secret.
  if (url.username || url.password) throw new UsageError('--endpoint must not hold credentials; put them in a profile or in AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY.');
}

/** The flags that recreate a connection, for the exact `research-cloud resume` line to print. */
export function connectionArguments(flags: ConnectionFlags): string[] {
  return [
    ...(flags.profile !== undefined ? ['--profile', flags.profile] : []),
    ...(flags.region !== undefined ? ['--region', flags.region] : []),
    ...(flags.endpoint !== undefined ? ['--endpoint', flags.endpoint] : []),
    ...(flags.pathStyle ? ['--path-style'] : []),
  ];
}

/** A command line to copy and paste: words with shell metacharacters are single-quoted. */
export function shellCommand(words: readonly string[]): string {
  return words.map((word) => (/^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`)).join(' ');
}

function isS3Uri(argument: string): boolean {
  return /^s3:\/\//i.test(argument);
}

function s3Location(argument: string): S3Location {
  if (!isS3Uri(argument)) throw new UsageError(`Expected an s3:// URI such as s3://my-bucket/prefix/, not "${argument}".`);
  try {
    return parseS3Location(argument);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

/** Keys are made as prefix + path, so a prefix names a folder: `raw` and `raw/` both mean `raw/`. */
function asPrefix(key: string): string {
  const trimmed = key.replace(/^\/+/, '');
  return trimmed && !trimmed.endsWith('/') ? `${trimmed}/` : trimmed;
}

function jobId(argument: string): string {
  // Ids name files in the jobs directory: nothing that could step outside it.
  if (!/^[A-Za-z0-9][\w.-]*$/.test(argument) || argument.includes('..')) {
    throw new UsageError(`"${argument}" is not a job id; research-cloud jobs lists them.`);
  }
  return argument;
}

function expectPositionals(command: string, positionals: readonly string[], count: number, usage: string): void {
  if (positionals.length === count) return;
  const what = count === 0 ? 'takes no arguments' : `takes ${count === 1 ? 'one argument' : `${count} arguments`}`;
  throw new UsageError(`${command} ${what}, not ${positionals.length}: ${usage}`);
}

function integer(values: Values, name: string, min: number, max: number): number | undefined {
  const raw = text(values, name);
  if (raw === undefined) return undefined;
  if (!/^\d+$/.test(raw.trim())) throw new UsageError(`--${name} takes a whole number, not "${raw}".`);
  const value = Number(raw);
  if (value < min || value > max) {
    throw new UsageError(`--${name} must be from ${min.toLocaleString('en-US')} to ${max.toLocaleString('en-US')}, not ${value.toLocaleString('en-US')}.`);
  }
  return value;
}

function choice<T extends string>(values: Values, name: string, allowed: readonly T[]): T | undefined {
  const raw = text(values, name);
  if (raw === undefined) return undefined;
  if (!(allowed as readonly string[]).includes(raw)) throw new UsageError(`--${name} must be ${allowed.join(' or ')}, not "${raw}".`);
  return raw as T;
}

function text(values: Values, name: string): string | undefined {
  const value = values[name];
  return typeof value === 'string' ? value : undefined;
}

function flag(values: Values, name: string): boolean {
  return values[name] === true;
}

function list(values: Values, name: string): string[] {
  const value = values[name];
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}

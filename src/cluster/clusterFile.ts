// research-cluster.yaml: parsed with `yaml`, checked against media/research-cluster.schema.json
// (the same schema editors use to complete and check the file), and every problem turned into
// a sentence that names the key's path and line.

import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv';
import { isMap, isScalar, LineCounter, parseDocument, type Document } from 'yaml';
import schema from '../../media/research-cluster.schema.json';
import type { InterruptionBehavior } from './model';

export const CLUSTER_FILE_NAME = 'research-cluster.yaml';

/** A valid cluster file, with the schema's defaults filled in. */
export interface ClusterSpec {
  readonly name: string;
  readonly region?: string;
  /** An AMI id or an SSM parameter path (starts with `/`). */
  readonly ami?: string;
  readonly instanceTypes?: readonly string[];
  readonly subnets?: readonly string[];
  readonly securityGroups?: readonly string[];
  readonly instanceProfile?: string;
  readonly placementGroup?: string;
  readonly count: number;
  readonly spot?: { readonly maxPrice?: number; readonly interruptionBehavior: InterruptionBehavior };
  readonly rootVolumeGiB?: number;
  readonly userData?: string;
  readonly tags?: Readonly<Record<string, string>>;
  readonly launchTemplate?: { readonly id?: string; readonly name?: string; readonly version: string };
}

export interface ClusterFileProblem {
  /** `spot.interruptionBehavior`, `instanceTypes[1]`; empty for the file as a whole. */
  readonly path: string;
  readonly line?: number;
  /** A sentence naming the path and line. */
  readonly message: string;
}

export type ClusterFileResult = { readonly ok: true; readonly spec: ClusterSpec } | { readonly ok: false; readonly problems: ClusterFileProblem[] };

let validator: ValidateFunction | undefined;

function validate(): ValidateFunction {
  if (!validator) {
    const ajv = new Ajv({ allErrors: true, verbose: true, useDefaults: true });
    // Messages VS Code's JSON and YAML validators show too; declared so strict mode accepts them.
    ajv.addKeyword('errorMessage');
    ajv.addKeyword('patternErrorMessage');
    validator = ajv.compile(schema);
  }
  return validator;
}

export function parseClusterFile(text: string): ClusterFileResult {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const lineAt = (offset: number) => lineCounter.linePos(offset).line;
  if (doc.errors.length) {
    return {
      ok: false,
      problems: doc.errors.map((e) => {
        const line = lineAt(e.pos[0]);
        return { path: '', line, message: `Line ${line}: The file is not valid YAML: ${trimDot(e.message)}.` };
      }),
    };
  }
  const data: unknown = doc.toJS() ?? {};
  const check = validate();
  if (check(data)) return { ok: true, spec: data as ClusterSpec };
  const errors = withoutBranchDetails(check.errors ?? []);
  const problems = errors.map((e) => problem(e, doc, lineAt));
  return { ok: false, problems: problems.sort((a, b) => (a.line ?? 0) - (b.line ?? 0)) };
}

/**
 * When an anyOf or oneOf fails, Ajv also reports why each branch failed; its own errorMessage
 * says it better, so the branches' errors are dropped. A bad tag key is reported twice (its
 * pattern, then "property name must be valid"); the second adds nothing.
 */
function withoutBranchDetails(errors: readonly ErrorObject[]): ErrorObject[] {
  const branches = errors.filter((e) => e.keyword === 'anyOf' || e.keyword === 'oneOf').map((e) => `${e.schemaPath}/`);
  return errors.filter((e) => e.keyword !== 'propertyNames' && !branches.some((prefix) => e.schemaPath.startsWith(prefix)));
}

function problem(error: ErrorObject, doc: Document, lineAt: (offset: number) => number): ClusterFileProblem {
  const segments = pathSegments(error.instancePath);
  const key = error.keyword === 'required' ? (error.params.missingProperty as string) : error.keyword === 'additionalProperties' ? (error.params.additionalProperty as string) : error.propertyName;
  // A missing key has no line of its own: point at the mapping it belongs in.
  const offset = nodeOffset(doc, segments, error.keyword === 'required' ? undefined : key);
  const line = offset === undefined ? undefined : lineAt(offset);
  const path = formatPath(error.keyword === 'required' ? [...segments, key!] : segments);
  const sentence = sentenceFor(error, formatPath(segments), key);
  const message = `${line ? `Line ${line}: ` : ''}${sentence}${sentence.endsWith('?') ? '' : '.'}`;
  return { path, ...(line && { line }), message };
}

const YAML_TYPES: Readonly<Record<string, string>> = {
  object: 'a mapping (key: value lines)',
  array: 'a list',
  string: 'text',
  integer: 'a whole number',
  number: 'a number',
  boolean: 'true or false',
};

function sentenceFor(error: ErrorObject, path: string, key: string | undefined): string {
  const subject = path || 'The file';
  const params = error.params as Record<string, unknown>;
  const parent = (error.parentSchema ?? {}) as { errorMessage?: string; patternErrorMessage?: string; properties?: Record<string, unknown> };
  switch (error.keyword) {
    case 'required':
      return `${path ? `${path}.` : ''}${key} is required`;
    case 'additionalProperties': {
      const known = Object.keys(parent.properties ?? {});
      const near = known.find((k) => k.toLowerCase() === key!.toLowerCase() || editDistance(k.toLowerCase(), key!.toLowerCase()) <= 2);
      return `${subject} has an unknown key "${key}"${near ? `; did you mean "${near}"?` : ` (known keys: ${known.join(', ')})`}`;
    }
    case 'type': {
      const expected = String(params.type);
      const quote = expected === 'string' && (typeof error.data === 'number' || typeof error.data === 'boolean') ? '; put it in quotes' : '';
      return `${subject} must be ${YAML_TYPES[expected] ?? expected}, not ${show(error.data)}${quote}`;
    }
    case 'enum':
      return `${subject} must be one of ${(params.allowedValues as unknown[]).join(', ')}, not ${show(error.data)}`;
    case 'pattern':
      return key ? `The key "${key}" in ${subject} is not allowed: ${trimDot(parent.patternErrorMessage ?? 'it has the wrong form')}` : `${subject} is not valid: ${show(error.data)}. ${trimDot(parent.patternErrorMessage ?? `It must match ${params.pattern}`)}`;
    case 'minimum':
      return `${subject} must be at least ${params.limit}, not ${show(error.data)}`;
    case 'maximum':
      return `${subject} must be at most ${params.limit}, not ${show(error.data)}`;
    case 'exclusiveMinimum':
      return `${subject} must be more than ${params.limit}, not ${show(error.data)}`;
    case 'minItems':
      return `${subject} must list at least ${params.limit} item${params.limit === 1 ? '' : 's'}`;
    case 'uniqueItems':
      return `${subject} lists ${show((error.data as unknown[])[params.j as number])} twice`;
    case 'minLength':
      return `${subject} must be at least ${params.limit} characters long`;
    case 'maxLength':
      return key ? `The key "${key}" in ${subject} is longer than ${params.limit} characters` : `${subject} must be at most ${params.limit} characters long`;
    case 'dependencies':
      return `${params.property} needs ${params.missingProperty} too: the root volume's device name comes from the AMI`;
    case 'anyOf':
    case 'oneOf':
      return path ? `In ${path}, ${lowerFirst(trimDot(parent.errorMessage ?? 'match one of the allowed forms'))}` : trimDot(parent.errorMessage ?? 'The file does not match any allowed form');
    default:
      return `${subject} ${error.message ?? 'is not valid'}`;
  }
}

/** `/instanceTypes/1` → ['instanceTypes', 1]; JSON Pointer escapes undone. */
function pathSegments(pointer: string): (string | number)[] {
  if (!pointer) return [];
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((s) => (/^\d+$/.test(s) ? Number(s) : s));
}

/** `instanceTypes[1]`, `tags.Project`, `tags["my key"]`. */
function formatPath(segments: readonly (string | number)[]): string {
  return segments.reduce<string>((path, s) => {
    if (typeof s === 'number') return `${path}[${s}]`;
    if (!/^[A-Za-z_][\w-]*$/.test(s)) return `${path}[${JSON.stringify(s)}]`;
    return path ? `${path}.${s}` : s;
  }, '');
}

/** Where the value at `segments` starts, or the key `key` inside it. */
function nodeOffset(doc: Document, segments: readonly (string | number)[], key?: string): number | undefined {
  const node = segments.length ? doc.getIn(segments, true) : doc.contents;
  if (key !== undefined && isMap(node)) {
    const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === key);
    if (pair && isScalar(pair.key)) return pair.key.range?.[0];
  }
  const range = (node as { range?: [number, number, number] } | null | undefined)?.range;
  return range?.[0];
}

function show(value: unknown): string {
  if (value === null || value === undefined) return 'empty';
  if (typeof value === 'string') return JSON.stringify(value);
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  return String(value);
}

function lowerFirst(text: string): string {
  return text.charAt(0).toLowerCase() + text.slice(1);
}

function trimDot(text: string): string {
  return text.replace(/\.$/, '');
}

/** Levenshtein distance, for "did you mean" on misspelt keys; keys are short. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length];
}

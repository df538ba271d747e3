// A fast S3-compatible sink for ranking upload clients (aws-cli, rclone, the AWS SDK, our engine)
// on a target that is not the bottleneck (shared/TESTING.md, "Peers to measure against"). It
// counts request bodies and throws them away, keeping only object metadata in memory so that
// listings, HEAD and the sync checks of the peers work. Path-style requests only (use an
// endpoint of 127.0.0.1, not localhost: aws-cli and the SDK address a bucket on a host name as
// bucket.host). Signatures are accepted without being checked.

import { createHash, randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';

const XMLNS = 'http://s3.amazonaws.com/doc/2006-03-01/';
const OWNER = '<Owner><ID>s3-sink</ID><DisplayName>s3-sink</DisplayName></Owner>';
/** AWS refuses a completed upload with a part under this size, the last part excepted. */
const MIN_PART_SIZE = 5 * 2 ** 20;
const MAX_PART_NUMBER = 10_000;
const MAX_LIST = 1000;
/** A CompleteMultipartUpload naming 10,000 parts is about 1 MB of XML. */
const MAX_XML_BODY = 16 * 2 ** 20;
/** An aws-chunked size or trailer line is short; a longer one means the framing is broken. */
const MAX_CHUNK_LINE = 4096;
const ZEROS = Buffer.alloc(2 ** 20);
const CHECKSUM_HEADER = /^x-amz-checksum-(crc32|crc32c|crc64nvme|sha1|sha256)$/;
/** Object headers kept from a PUT or CreateMultipartUpload and returned by HEAD and GET. */
const KEPT_HEADERS = new Set(['cache-control', 'content-disposition', 'content-language', 'expires']);
/** Query parameters that select nothing: they do not change which operation a request is. */
const NEUTRAL_PARAM = /^(x-|response-|versionid$)/i;
const LIST_PARAMS = new Set(['prefix', 'delimiter', 'marker', 'max-keys', 'encoding-type', 'list-type',
  'continuation-token', 'fetch-owner', 'start-after']);

/**
 * @typedef {object} S3SinkOptions
 * @property {number} [port] Port on 127.0.0.1; default: a free one.
 * @property {number} [latencyMs] Delay added before every response, to emulate a WAN.
 * @property {boolean} [verifyMd5] Compute the MD5 of every PUT and part body: the ETag is then the
 *   true MD5 and a Content-MD5 that does not match is refused (BadDigest). Off by default: it
 *   takes the sink from about 0.8 to 2.1 s of CPU per GB received here, CPU the client under test
 *   would miss on two cores. Off, the ETag is the Content-MD5 the client sent, else random hex
 *   (see putEtag).
 * @property {(line: string) => void} [log] Receives one line per request; default: silent.
 */

/**
 * Starts the sink on 127.0.0.1.
 * @param {S3SinkOptions} [options]
 */
export async function startS3Sink({ port = 0, latencyMs = 0, verifyMd5 = false, log } = {}) {
  const store = createStore();
  const counters = newCounters();
  const stats = liveStats(counters, store);
  const context = { store, counters, verifyMd5 };
  const server = createServer({ requestTimeout: 0 }, (req, res) => {
    serve(context, req, res, { latencyMs, log }).catch((error) => {
      // Only a bug gets here: every S3 failure is answered as an S3 error inside serve().
      log?.(`s3-sink: ${error.stack}`);
      res.destroy();
    });
  });
  // Clients keep connections for a minute or so; Node's default 5 s would close them under the
  // client between two requests, and the client would see a reset that no real S3 causes.
  server.keepAliveTimeout = 65_000;
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  let stopped;
  return {
    endpoint: `http://127.0.0.1:${server.address().port}`,
    stats,
    /** Forgets every object and multipart upload (buckets stay, empty) and zeroes the counters. */
    reset() {
      store.clear();
      Object.assign(counters, newCounters(), { concurrentRequests: counters.concurrentRequests });
    },
    /** Closes the listener and every connection; idempotent. */
    stop: () => (stopped ??= new Promise((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    })),
  };
}

/**
 * The S3 operation a path-style request is, by the AWS API's names (e.g. `PUT ?partNumber&uploadId`
 * is UploadPart); a request that is none of those the sink knows is named `METHOD ?params`.
 * @param {string} method
 * @param {string} url The request target, path and query, as received.
 * @param {Record<string, string | string[] | undefined>} [headers]
 */
export function s3Operation(method, url, headers = {}) {
  return operationOf(method, splitUrl(url), headers);
}

function operationOf(method, { bucket, key, query }, headers) {
  const params = [...query.keys()].filter((name) => !NEUTRAL_PARAM.test(name)).sort();
  const has = (name) => params.includes(name);
  const copy = headers['x-amz-copy-source'] !== undefined;
  const name = !bucket ? serviceOperation(method)
    : !key ? bucketOperation(method, params, has, query)
      : objectOperation(method, params, has, copy);
  return name ?? `${method} ?${params.join('&')}`;
}

function serviceOperation(method) {
  return method === 'GET' ? 'ListBuckets' : undefined;
}

function bucketOperation(method, params, has, query) {
  switch (method) {
    case 'GET':
      if (has('location')) return 'GetBucketLocation';
      if (has('uploads')) return 'ListMultipartUploads';
      if (has('versions')) return 'ListObjectVersions';
      if (params.every((p) => LIST_PARAMS.has(p))) return query.get('list-type') === '2' ? 'ListObjectsV2' : 'ListObjects';
      return undefined;
    case 'HEAD': return 'HeadBucket';
    case 'PUT': return params.length === 0 ? 'CreateBucket' : undefined;
    case 'POST': return has('delete') ? 'DeleteObjects' : undefined;
    case 'DELETE': return params.length === 0 ? 'DeleteBucket' : undefined;
    default: return undefined;
  }
}

function objectOperation(method, params, has, copy) {
  const plain = params.length === 0 || (params.length === 1 && has('partNumber') && method !== 'PUT');
  switch (method) {
    case 'PUT':
      if (has('uploadId') && has('partNumber')) return copy ? 'UploadPartCopy' : 'UploadPart';
      return params.length === 0 ? (copy ? 'CopyObject' : 'PutObject') : undefined;
    case 'POST':
      if (has('uploads')) return 'CreateMultipartUpload';
      return has('uploadId') ? 'CompleteMultipartUpload' : undefined;
    case 'GET':
      if (has('uploadId')) return 'ListParts';
      return plain ? 'GetObject' : undefined;
    case 'HEAD': return plain ? 'HeadObject' : undefined;
    case 'DELETE':
      if (has('uploadId')) return 'AbortMultipartUpload';
      return params.length === 0 ? 'DeleteObject' : undefined;
    default: return undefined;
  }
}

/** Bucket and key still percent-encoded: naming the operation needs only whether they are empty. */
function splitUrl(url) {
  const q = url.indexOf('?');
  const path = q === -1 ? url : url.slice(0, q);
  const query = new URLSearchParams(q === -1 ? '' : url.slice(q + 1));
  const slash = path.indexOf('/', 1);
  return {
    bucket: slash === -1 ? path.slice(1) : path.slice(1, slash),
    key: slash === -1 ? '' : path.slice(slash + 1),
    query,
  };
}

/** The body of an S3 error, also used by the fault proxy. */
export function s3ErrorXml(code, message, resource = '', requestId = '') {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${escapeXml(message)}</Message>`
    + `<Resource>${escapeXml(resource)}</Resource><RequestId>${requestId}</RequestId></Error>`;
}

class S3Error extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

const noSuchBucket = () => new S3Error(404, 'NoSuchBucket', 'The specified bucket does not exist');
const noSuchKey = () => new S3Error(404, 'NoSuchKey', 'The specified key does not exist.');
const noSuchUpload = () => new S3Error(404, 'NoSuchUpload', 'The specified upload does not exist.');
const malformedXml = () => new S3Error(400, 'MalformedXML', 'The XML you provided was not well-formed.');

// ---------------------------------------------------------------------------------------------
// Serving one request

let nextRequestId = 1;

async function serve(context, req, res, { latencyMs, log }) {
  const started = performance.now();
  const { counters } = context;
  counters.concurrentRequests += 1;
  counters.maxConcurrentRequests = Math.max(counters.maxConcurrentRequests, counters.concurrentRequests);
  res.once('close', () => { counters.concurrentRequests -= 1; });

  const target = splitUrl(req.url);
  const operation = operationOf(req.method, target, req.headers);
  counters.requests[operation] = (counters.requests[operation] ?? 0) + 1;
  const requestId = (nextRequestId++).toString(16).padStart(16, '0').toUpperCase();

  let reply;
  try {
    reply = await handle(context, operation, target, req);
  } catch (error) {
    if (error instanceof ClientGone) return;
    if (!(error instanceof S3Error)) throw error;
    counters.errors[error.code] = (counters.errors[error.code] ?? 0) + 1;
    reply = errorReply(error, req, requestId);
  }
  // A request whose body the handler did not need (an error answered early, or a body on a GET)
  // must still be read to its end, or the next request on the connection would be parsed from it.
  req.resume();
  if (latencyMs > 0) await sleep(latencyMs);
  if (res.destroyed) return;
  // An explicit length, as S3 sends: without one Node would frame even empty answers as chunked.
  const length = reply.zeros === undefined ? Buffer.byteLength(reply.body ?? '') : undefined;
  res.writeHead(reply.status, { 'x-amz-request-id': requestId, 'content-length': length, ...reply.headers });
  if (reply.zeros) writeZeros(res, reply.zeros);
  else res.end(reply.body);
  log?.(`${reply.status} ${operation} ${req.method} ${req.url} ${Math.round(performance.now() - started)}ms`);
}

function errorReply(error, req, requestId) {
  const body = req.method === 'HEAD' ? undefined : s3ErrorXml(error.code, error.message, req.url.split('?')[0], requestId);
  return { status: error.status, headers: { 'content-type': 'application/xml' }, body };
}

/** Decodes bucket and key, finds the bucket when the operation needs one, and runs the handler. */
async function handle(context, operation, { bucket: rawBucket, key: rawKey, query }, req) {
  const handler = HANDLERS[operation];
  if (!handler) throw new S3Error(501, 'NotImplemented', `${operation} is not implemented by the sink`);
  let name;
  let key;
  try {
    name = decodeURIComponent(rawBucket);
    key = decodeURIComponent(rawKey);
  } catch {
    throw new S3Error(400, 'InvalidURI', 'Could not parse the specified URI.');
  }
  const bucket = name ? context.store.buckets.get(name) : undefined;
  if (name && !bucket && operation !== 'CreateBucket') throw noSuchBucket();
  return handler({ ...context, req, name, bucket, key, query, headers: req.headers });
}

/** Handlers answer `{ status, headers, body }` or `{ status, headers, zeros: byteCount }`. */
const HANDLERS = {
  ListBuckets: listBuckets,
  CreateBucket: createBucket,
  HeadBucket: () => ({ status: 200, headers: { 'x-amz-bucket-region': 'us-east-1' } }),
  GetBucketLocation: () => xmlReply('LocationConstraint', ''),
  ListObjects: (c) => listObjects(c, 1),
  ListObjectsV2: (c) => listObjects(c, 2),
  ListMultipartUploads: listMultipartUploads,
  DeleteObjects: deleteObjects,
  PutObject: putObject,
  CreateMultipartUpload: createMultipartUpload,
  UploadPart: uploadPart,
  CompleteMultipartUpload: completeMultipartUpload,
  AbortMultipartUpload: abortMultipartUpload,
  ListParts: listParts,
  HeadObject: headObject,
  GetObject: getObject,
  DeleteObject: deleteObject,
};

// ---------------------------------------------------------------------------------------------
// The store: buckets of object records, and the open multipart uploads. No data is kept.

function createStore() {
  return {
    /** @type {Map<string, { created: Date, objects: Map<string, object>, sorted: string[] | null }>} */
    buckets: new Map(),
    /** @type {Map<string, { bucket: string, key: string, initiated: Date, attributes: object, parts: Map<number, object> }>} */
    uploads: new Map(),
    clear() {
      for (const bucket of this.buckets.values()) {
        bucket.objects.clear();
        bucket.sorted = null;
      }
      this.uploads.clear();
    },
  };
}

function setObject(bucket, record) {
  if (!bucket.objects.has(record.key)) bucket.sorted = null;
  bucket.objects.set(record.key, record);
}

function removeObject(bucket, key) {
  if (bucket.objects.delete(key)) bucket.sorted = null;
}

/** Sorted once per change, not per listing: rclone and aws-cli list whole buckets page by page. */
function sortedKeys(bucket) {
  // JS compares UTF-16 code units and S3 UTF-8 bytes: the orders differ only above U+D7FF.
  bucket.sorted ??= [...bucket.objects.keys()].sort();
  return bucket.sorted;
}

function newCounters() {
  return {
    /** @type {Record<string, number>} */
    requests: {},
    /** @type {Record<string, number>} */
    errors: {},
    bytesReceived: 0,
    concurrentRequests: 0,
    maxConcurrentRequests: 0,
  };
}

/**
 * The stats object handed out: counters that update in place, plus what is read off the store.
 * @param {ReturnType<typeof newCounters>} counters
 * @param {ReturnType<typeof createStore>} store
 */
function liveStats(counters, store) {
  const buckets = () => [...store.buckets.values()];
  return {
    /** Requests by S3 operation name (see s3Operation). */
    get requests() { return counters.requests; },
    /** S3 error codes answered, by code. */
    get errors() { return counters.errors; },
    /** Payload bytes of PutObject and UploadPart bodies received, aws-chunked framing excluded. */
    get bytesReceived() { return counters.bytesReceived; },
    get objects() { return buckets().reduce((sum, b) => sum + b.objects.size, 0); },
    get objectBytes() {
      return buckets().reduce((sum, b) => [...b.objects.values()].reduce((total, o) => total + o.size, sum), 0);
    },
    get openMultipartUploads() { return store.uploads.size; },
    get concurrentRequests() { return counters.concurrentRequests; },
    get maxConcurrentRequests() { return counters.maxConcurrentRequests; },
  };
}

// ---------------------------------------------------------------------------------------------
// Buckets

function listBuckets({ store }) {
  const buckets = [...store.buckets].sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([name, b]) => `<Bucket><Name>${escapeXml(name)}</Name><CreationDate>${b.created.toISOString()}</CreationDate></Bucket>`);
  return xmlReply('ListAllMyBucketsResult', `${OWNER}<Buckets>${buckets.join('')}</Buckets>`);
}

/** Creating a bucket that exists succeeds, as in us-east-1. */
async function createBucket({ store, name, req }) {
  await readXml(req); // the optional CreateBucketConfiguration: any region is fine
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(name)) throw new S3Error(400, 'InvalidBucketName', 'The specified bucket is not valid.');
  if (!store.buckets.has(name)) store.buckets.set(name, { created: new Date(), objects: new Map(), sorted: null });
  return { status: 200, headers: { location: `/${name}` } };
}

/** ListObjects (v1) and ListObjectsV2, with prefix, delimiter, paging and encoding-type=url. */
function listObjects({ bucket, name, query }, version) {
  const prefix = query.get('prefix') ?? '';
  const delimiter = query.get('delimiter') ?? '';
  const maxKeys = pageSize(query, 'max-keys');
  const token = query.get('continuation-token');
  const startAfter = query.get('start-after') ?? '';
  const marker = version === 1 ? query.get('marker') ?? '' : token !== null ? decodeToken(token) : startAfter;
  const page = listPage(bucket, { prefix, delimiter, after: marker, maxKeys });

  // aws-cli asks for url encoding and decodes with unquote_plus: '+' must go out as %2B.
  const encode = query.get('encoding-type') === 'url' ? encodeURIComponent : (s) => s;
  const text = (tag, value) => `<${tag}>${escapeXml(encode(value))}</${tag}>`;
  const parts = [
    `<Name>${escapeXml(name)}</Name>`, text('Prefix', prefix),
    delimiter ? text('Delimiter', delimiter) : '',
    `<MaxKeys>${maxKeys}</MaxKeys>`,
    encode === encodeURIComponent ? '<EncodingType>url</EncodingType>' : '',
    `<IsTruncated>${page.truncated}</IsTruncated>`,
  ];
  if (version === 1) {
    parts.push(text('Marker', marker), page.truncated ? text('NextMarker', page.last) : '');
  } else {
    parts.push(`<KeyCount>${page.objects.length + page.prefixes.length}</KeyCount>`,
      token !== null ? `<ContinuationToken>${escapeXml(token)}</ContinuationToken>` : '',
      page.truncated ? `<NextContinuationToken>${encodeToken(page.last)}</NextContinuationToken>` : '',
      startAfter ? text('StartAfter', startAfter) : '');
  }
  const owner = version === 1 || query.get('fetch-owner') === 'true' ? OWNER : '';
  for (const o of page.objects) {
    parts.push(`<Contents>${text('Key', o.key)}<LastModified>${o.lastModified.toISOString()}</LastModified>`
      + `<ETag>&quot;${o.etag}&quot;</ETag><Size>${o.size}</Size>${owner}<StorageClass>${o.storageClass}</StorageClass>`
      + `${checksumAlgorithmXml(o.checksums)}</Contents>`);
  }
  for (const p of page.prefixes) parts.push(`<CommonPrefixes>${text('Prefix', p)}</CommonPrefixes>`);
  return xmlReply('ListBucketResult', parts.join(''));
}

/**
 * One page of keys after `after` under `prefix`; with a delimiter, keys that go on past it are
 * rolled up into common prefixes, each counted once against maxKeys like a key.
 */
function listPage(bucket, { prefix, delimiter, after, maxKeys }) {
  const keys = sortedKeys(bucket);
  let i = lowerBound(keys, prefix);
  if (after) i = Math.max(i, upperBound(keys, after));
  const objects = [];
  const prefixes = [];
  // A page that ended on a common prefix resumes after every key under it.
  let lastPrefix = after;
  let last;
  for (; i < keys.length && keys[i].startsWith(prefix); i++) {
    const key = keys[i];
    const cut = delimiter ? key.indexOf(delimiter, prefix.length) : -1;
    const common = cut === -1 ? undefined : key.slice(0, cut + delimiter.length);
    if (common !== undefined && common === lastPrefix) continue;
    if (objects.length + prefixes.length === maxKeys) return { objects, prefixes, truncated: true, last };
    if (common === undefined) {
      objects.push(bucket.objects.get(key));
      last = key;
    } else {
      prefixes.push(common);
      lastPrefix = last = common;
    }
  }
  return { objects, prefixes, truncated: false, last };
}

/** A max-keys style parameter: at most 1,000, as on S3, which caps larger asks silently. */
function pageSize(query, name) {
  const asked = Number(query.get(name) ?? MAX_LIST);
  return Number.isInteger(asked) && asked >= 0 ? Math.min(asked, MAX_LIST) : MAX_LIST;
}

const encodeToken = (key) => Buffer.from(key).toString('base64url');
const decodeToken = (token) => Buffer.from(token, 'base64url').toString();

/** First index whose key is >= target. */
function lowerBound(keys, target) {
  let lo = 0;
  let hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (keys[mid] < target) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** First index whose key is > target. */
function upperBound(keys, target) {
  const i = lowerBound(keys, target);
  return keys[i] === target ? i + 1 : i;
}

function listMultipartUploads({ store, name, query }) {
  const prefix = query.get('prefix') ?? '';
  const keyMarker = query.get('key-marker') ?? '';
  const idMarker = query.get('upload-id-marker') ?? '';
  const max = pageSize(query, 'max-uploads');
  const after = (u) => u.key > keyMarker || (u.key === keyMarker && idMarker !== '' && u.id > idMarker);
  const all = [...store.uploads.entries()]
    .map(([id, u]) => ({ id, ...u }))
    .filter((u) => u.bucket === name && u.key.startsWith(prefix) && after(u))
    .sort((a, b) => (a.key === b.key ? (a.id < b.id ? -1 : 1) : a.key < b.key ? -1 : 1));
  const page = all.slice(0, max);
  const truncated = all.length > page.length;
  const lastUpload = page.at(-1);
  const uploads = page.map((u) => `<Upload><Key>${escapeXml(u.key)}</Key><UploadId>${u.id}</UploadId>`
    + `<Initiator><ID>s3-sink</ID><DisplayName>s3-sink</DisplayName></Initiator>${OWNER}`
    + `<StorageClass>${u.attributes.storageClass}</StorageClass><Initiated>${u.initiated.toISOString()}</Initiated></Upload>`);
  return xmlReply('ListMultipartUploadsResult', `<Bucket>${escapeXml(name)}</Bucket>`
    + `<KeyMarker>${escapeXml(keyMarker)}</KeyMarker><UploadIdMarker>${escapeXml(idMarker)}</UploadIdMarker>`
    + (truncated ? `<NextKeyMarker>${escapeXml(lastUpload.key)}</NextKeyMarker><NextUploadIdMarker>${lastUpload.id}</NextUploadIdMarker>` : '')
    + `<Prefix>${escapeXml(prefix)}</Prefix><MaxUploads>${max}</MaxUploads><IsTruncated>${truncated}</IsTruncated>${uploads.join('')}`);
}

async function deleteObjects({ bucket, req }) {
  const xml = await readXml(req);
  const keys = xmlElements(xml, 'Object').map((o) => unescapeXml(xmlElements(o, 'Key')[0] ?? ''));
  if (keys.length === 0 || keys.length > MAX_LIST) throw malformedXml();
  for (const key of keys) removeObject(bucket, key);
  const quiet = /<Quiet>\s*true\s*<\/Quiet>/i.test(xml);
  const deleted = quiet ? '' : keys.map((key) => `<Deleted><Key>${escapeXml(key)}</Key></Deleted>`).join('');
  return xmlReply('DeleteResult', deleted);
}

// ---------------------------------------------------------------------------------------------
// Objects

async function putObject(context) {
  const { bucket, key, headers } = context;
  const body = await readPayload(context);
  const record = {
    key,
    size: body.bytes,
    etag: putEtag(context, body),
    lastModified: new Date(),
    ...objectAttributes(headers),
    checksums: { ...checksumHeaders(headers), ...body.trailers },
  };
  setObject(bucket, record);
  return { status: 200, headers: { etag: `"${record.etag}"`, ...record.checksums } };
}

/**
 * The ETag of a PUT or part: the true MD5 with verifyMd5; else the Content-MD5 the client sent,
 * taken on trust (rclone sends it and checks the ETag against it, and against the md5-of-md5s of a
 * multipart upload); else random hex, like the ETag of an SSE-KMS object on AWS, which clients
 * must not take for an MD5.
 */
function putEtag({ verifyMd5, headers }, body) {
  const sent = headers['content-md5'];
  const claimed = sent === undefined ? undefined : Buffer.from(sent, 'base64');
  if (claimed && claimed.length !== 16) throw new S3Error(400, 'InvalidDigest', 'The Content-MD5 you specified was invalid.');
  if (verifyMd5) {
    if (claimed && !claimed.equals(body.md5)) throw new S3Error(400, 'BadDigest', 'The Content-MD5 you specified did not match what we received.');
    return body.md5.toString('hex');
  }
  return claimed ? claimed.toString('hex') : randomUUID().replaceAll('-', '');
}

/** What a PUT or CreateMultipartUpload sets on the object besides its bytes. */
function objectAttributes(headers) {
  const kept = {};
  for (const [name, value] of Object.entries(headers)) {
    if (KEPT_HEADERS.has(name) || name.startsWith('x-amz-meta-')) kept[name] = value;
  }
  // aws-chunked is how the body was framed on the wire, not an encoding of the object.
  const encoding = headers['content-encoding']?.split(',').map((e) => e.trim()).filter((e) => e && e !== 'aws-chunked').join(', ');
  if (encoding) kept['content-encoding'] = encoding;
  return {
    contentType: headers['content-type'] ?? 'binary/octet-stream',
    storageClass: headers['x-amz-storage-class'] ?? 'STANDARD',
    headers: kept,
  };
}

function checksumHeaders(headers) {
  const found = {};
  for (const [name, value] of Object.entries(headers)) if (CHECKSUM_HEADER.test(name)) found[name] = value;
  return found;
}

function createMultipartUpload({ store, name, key, headers }) {
  const id = randomUUID().replaceAll('-', '');
  store.uploads.set(id, { bucket: name, key, initiated: new Date(), attributes: objectAttributes(headers), parts: new Map() });
  // lib-storage names a checksum algorithm here by default; S3 echoes it.
  const echoed = {};
  for (const h of ['x-amz-checksum-algorithm', 'x-amz-checksum-type']) if (headers[h]) echoed[h] = headers[h];
  return {
    ...xmlReply('InitiateMultipartUploadResult',
      `<Bucket>${escapeXml(name)}</Bucket><Key>${escapeXml(key)}</Key><UploadId>${id}</UploadId>`),
    headers: { 'content-type': 'application/xml', ...echoed },
  };
}

/** The open upload named by ?uploadId, for the bucket and key of the request. */
function openUpload({ store, name, key, query }) {
  const upload = store.uploads.get(query.get('uploadId'));
  if (!upload || upload.bucket !== name || upload.key !== key) throw noSuchUpload();
  return upload;
}

async function uploadPart(context) {
  const upload = openUpload(context);
  const number = Number(context.query.get('partNumber'));
  if (!Number.isInteger(number) || number < 1 || number > MAX_PART_NUMBER) {
    throw new S3Error(400, 'InvalidArgument', `Part number must be an integer between 1 and ${MAX_PART_NUMBER}, inclusive`);
  }
  const body = await readPayload(context);
  // A part re-sent (a retry) replaces the earlier one, as on S3.
  const part = {
    size: body.bytes,
    etag: putEtag(context, body),
    lastModified: new Date(),
    checksums: { ...checksumHeaders(context.headers), ...body.trailers },
  };
  upload.parts.set(number, part);
  return { status: 200, headers: { etag: `"${part.etag}"`, ...part.checksums } };
}

/** Checks the part list as AWS does, then stores the object with the ETag md5-of-part-md5s-N. */
async function completeMultipartUpload(context) {
  const { store, bucket, name, key, query, headers, req } = context;
  const upload = openUpload(context);
  const parts = checkCompleteParts(upload, parseCompleteParts(await readXml(req)));
  const md5s = Buffer.concat(parts.map((p) => Buffer.from(p.etag, 'hex')));
  const record = {
    key,
    size: parts.reduce((sum, p) => sum + p.size, 0),
    etag: `${createHash('md5').update(md5s).digest('hex')}-${parts.length}`,
    lastModified: new Date(),
    ...upload.attributes,
    // A full-object checksum, if the client sent one here; per-part checksums do not add up to it.
    checksums: checksumHeaders(headers),
  };
  setObject(bucket, record);
  store.uploads.delete(query.get('uploadId'));
  return xmlReply('CompleteMultipartUploadResult', `<Location>http://${escapeXml(headers.host ?? '')}/${escapeXml(name)}/${escapeXml(key)}</Location>`
    + `<Bucket>${escapeXml(name)}</Bucket><Key>${escapeXml(key)}</Key><ETag>&quot;${record.etag}&quot;</ETag>`);
}

/** The uploaded parts that a completion lists: in ascending order, each as uploaded, all but the last large enough. */
function checkCompleteParts(upload, listed) {
  if (listed.some((p, i) => i > 0 && p.number <= listed[i - 1].number)) {
    throw new S3Error(400, 'InvalidPartOrder', 'The list of parts was not in ascending order. The parts list must be specified in order by part number.');
  }
  const parts = listed.map(({ number, etag }) => {
    const part = upload.parts.get(number);
    if (!part || part.etag !== etag) {
      throw new S3Error(400, 'InvalidPart', 'One or more of the specified parts could not be found. The part might not have been uploaded, or the specified entity tag might not have matched the part\'s entity tag.');
    }
    return part;
  });
  if (parts.slice(0, -1).some((p) => p.size < MIN_PART_SIZE)) {
    throw new S3Error(400, 'EntityTooSmall', 'Your proposed upload is smaller than the minimum allowed object size.');
  }
  return parts;
}

/** `<Part><PartNumber>n</PartNumber><ETag>"…"</ETag>…</Part>` in order, ETags unquoted. */
function parseCompleteParts(xml) {
  const parts = xmlElements(xml, 'Part').map((part) => ({
    number: Number(xmlElements(part, 'PartNumber')[0]),
    etag: unescapeXml(xmlElements(part, 'ETag')[0] ?? '').trim().replace(/^"|"$/g, ''),
  }));
  if (parts.length === 0 || parts.some((p) => !Number.isInteger(p.number))) throw malformedXml();
  return parts;
}

function abortMultipartUpload(context) {
  openUpload(context);
  context.store.uploads.delete(context.query.get('uploadId'));
  return { status: 204, headers: {} };
}

function listParts(context) {
  const { name, key, query } = context;
  const upload = openUpload(context);
  const marker = Number(query.get('part-number-marker') ?? 0) || 0;
  const max = pageSize(query, 'max-parts');
  const all = [...upload.parts.keys()].filter((n) => n > marker).sort((a, b) => a - b);
  const page = all.slice(0, max);
  const truncated = all.length > page.length;
  const parts = page.map((n) => {
    const p = upload.parts.get(n);
    return `<Part><PartNumber>${n}</PartNumber><LastModified>${p.lastModified.toISOString()}</LastModified>`
      + `<ETag>&quot;${p.etag}&quot;</ETag><Size>${p.size}</Size>${checksumsXml(p.checksums)}</Part>`;
  });
  return xmlReply('ListPartsResult', `<Bucket>${escapeXml(name)}</Bucket><Key>${escapeXml(key)}</Key>`
    + `<UploadId>${query.get('uploadId')}</UploadId><PartNumberMarker>${marker}</PartNumberMarker>`
    + `<NextPartNumberMarker>${page.at(-1) ?? marker}</NextPartNumberMarker><MaxParts>${max}</MaxParts>`
    + `<IsTruncated>${truncated}</IsTruncated>${OWNER}<StorageClass>${upload.attributes.storageClass}</StorageClass>${parts.join('')}`);
}

function headObject({ bucket, key, headers }) {
  const record = bucket.objects.get(key);
  if (!record) throw noSuchKey();
  // Checksums only when asked for, as on S3.
  const checksums = headers['x-amz-checksum-mode']?.toUpperCase() === 'ENABLED' ? record.checksums : {};
  return { status: 200, headers: { ...objectHeaders(record), 'content-length': record.size, ...checksums } };
}

/**
 * Zero bytes of the stored size (or of one Range). Never with checksums: the SDK validates those
 * against the bytes it gets, and these zeros are not what was uploaded.
 */
function getObject({ bucket, key, headers }) {
  const record = bucket.objects.get(key);
  if (!record) throw noSuchKey();
  const range = parseRange(headers.range, record.size);
  if (!range) return { status: 200, headers: { ...objectHeaders(record), 'content-length': record.size }, zeros: record.size };
  const length = range.end - range.start + 1;
  return {
    status: 206,
    headers: { ...objectHeaders(record), 'content-length': length, 'content-range': `bytes ${range.start}-${range.end}/${record.size}` },
    zeros: length,
  };
}

/** `bytes=a-b`, `bytes=a-` or `bytes=-n`; undefined for no (or a multi-range) header. */
function parseRange(header, size) {
  const match = /^bytes=(\d*)-(\d*)$/.exec(header ?? '');
  if (!match || (match[1] === '' && match[2] === '')) return undefined;
  const [start, end] = match[1] === ''
    ? [Math.max(size - Number(match[2]), 0), size - 1]
    : [Number(match[1]), Math.min(match[2] === '' ? size - 1 : Number(match[2]), size - 1)];
  if (start > end || start >= size) throw new S3Error(416, 'InvalidRange', 'The requested range is not satisfiable');
  return { start, end };
}

function objectHeaders(record) {
  return {
    etag: `"${record.etag}"`,
    'last-modified': record.lastModified.toUTCString(),
    'content-type': record.contentType,
    'accept-ranges': 'bytes',
    ...(record.storageClass !== 'STANDARD' && { 'x-amz-storage-class': record.storageClass }),
    ...record.headers,
  };
}

/** Writes zeros with backpressure, so a multi-GB GET holds one 1 MiB buffer, not the whole body. */
function writeZeros(res, count) {
  let left = count;
  const pump = () => {
    while (left > 0) {
      const chunk = ZEROS.subarray(0, Math.min(left, ZEROS.length));
      left -= chunk.length;
      if (!res.write(chunk)) return void res.once('drain', pump);
    }
    res.end();
  };
  pump();
}

function deleteObject({ bucket, key }) {
  removeObject(bucket, key);
  return { status: 204, headers: {} };
}

// ---------------------------------------------------------------------------------------------
// Request bodies

/** The request's client went away before its body ended: there is no one to answer. */
class ClientGone extends Error {}

/**
 * Reads a PUT or part body, counting payload bytes (and hashing them with verifyMd5) without
 * keeping them. An aws-chunked body, which the SDK sends by default for streams, is unframed:
 * only the payload counts, and its trailing checksums are returned.
 */
function readPayload({ req, headers, counters, verifyMd5 }) {
  return new Promise((resolve, reject) => {
    const hash = verifyMd5 ? createHash('md5') : undefined;
    let bytes = 0;
    const onPayload = (chunk) => {
      bytes += chunk.length;
      counters.bytesReceived += chunk.length;
      hash?.update(chunk);
    };
    const decoder = isAwsChunked(headers) ? new AwsChunkedDecoder(onPayload) : undefined;
    const fail = (error) => {
      req.removeAllListeners('data');
      reject(error);
    };
    req.on('data', (chunk) => {
      try {
        if (decoder) decoder.write(chunk);
        else onPayload(chunk);
      } catch (error) {
        fail(error);
      }
    });
    req.once('end', () => {
      try {
        decoder?.end();
        checkDecodedLength(headers, decoder, bytes);
        resolve({ bytes, md5: hash?.digest(), trailers: decoder?.trailers ?? {} });
      } catch (error) {
        fail(error);
      }
    });
    req.once('close', () => { if (!req.complete) fail(new ClientGone()); });
  });
}

function isAwsChunked(headers) {
  return /(^|,)\s*aws-chunked\s*(,|$)/i.test(headers['content-encoding'] ?? '')
    || (headers['x-amz-content-sha256'] ?? '').startsWith('STREAMING-');
}

function checkDecodedLength(headers, decoder, bytes) {
  const declared = headers['x-amz-decoded-content-length'];
  if (decoder && declared !== undefined && Number(declared) !== bytes) {
    throw new S3Error(400, 'IncompleteBody', 'You did not provide the number of bytes specified by the x-amz-decoded-content-length HTTP header.');
  }
}

/**
 * Unframes aws-chunked: chunks of `hex-size[;chunk-signature=…]\r\n<bytes>\r\n`, a last chunk of
 * size 0, then trailer lines (`x-amz-checksum-crc32:…`) and an empty line. Signatures are not
 * checked. Payload slices go to onPayload as they arrive, uncopied.
 */
class AwsChunkedDecoder {
  constructor(onPayload) {
    this.onPayload = onPayload;
    /** @type {'size' | 'data' | 'data-end' | 'trailer' | 'done'} */
    this.state = 'size';
    this.line = '';
    this.remaining = 0;
    /** @type {Record<string, string>} */
    this.trailers = {};
  }

  write(chunk) {
    let i = 0;
    while (i < chunk.length) {
      if (this.state === 'data') {
        const n = Math.min(this.remaining, chunk.length - i);
        this.onPayload(chunk.subarray(i, i + n));
        i += n;
        this.remaining -= n;
        if (this.remaining === 0) this.state = 'data-end';
        continue;
      }
      const newline = chunk.indexOf(10, i);
      const end = newline === -1 ? chunk.length : newline + 1;
      this.line += chunk.toString('latin1', i, end);
      i = end;
      if (this.line.length > MAX_CHUNK_LINE) throw badChunk('line too long');
      if (newline !== -1) {
        const line = this.line.replace(/\r?\n$/, '');
        this.line = '';
        this.onLine(line);
      }
    }
  }

  onLine(line) {
    switch (this.state) {
      case 'size': {
        const size = /^[0-9a-f]+(?=;|$)/i.exec(line);
        if (!size) throw badChunk(`bad chunk size line '${line.slice(0, 80)}'`);
        this.remaining = parseInt(size[0], 16);
        this.state = this.remaining === 0 ? 'trailer' : 'data';
        return;
      }
      case 'data-end':
        if (line !== '') throw badChunk('chunk longer than its size');
        this.state = 'size';
        return;
      case 'trailer': {
        if (line === '') {
          this.state = 'done';
          return;
        }
        const colon = line.indexOf(':');
        const name = line.slice(0, colon).trim().toLowerCase();
        if (colon > 0 && CHECKSUM_HEADER.test(name)) this.trailers[name] = line.slice(colon + 1).trim();
        return;
      }
      default:
        throw badChunk('data after the last chunk');
    }
  }

  end() {
    if (this.state !== 'done') throw badChunk('body ended inside a chunk');
  }
}

function badChunk(detail) {
  return new S3Error(400, 'IncompleteBody', `Malformed aws-chunked body: ${detail}`);
}

/** Small XML bodies (CompleteMultipartUpload, DeleteObjects, CreateBucket) as text. */
function readXml(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (chunk) => {
      size += chunk.length;
      if (size > MAX_XML_BODY) {
        req.removeAllListeners('data');
        reject(new S3Error(400, 'MaxMessageLengthExceeded', 'Your request was too big.'));
      } else chunks.push(chunk);
    });
    req.once('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.once('close', () => { if (!req.complete) reject(new ClientGone()); });
  });
}

// ---------------------------------------------------------------------------------------------
// XML

function xmlReply(root, inner) {
  return {
    status: 200,
    headers: { 'content-type': 'application/xml' },
    body: `<?xml version="1.0" encoding="UTF-8"?>\n<${root} xmlns="${XMLNS}">${inner}</${root}>`,
  };
}

/** The inner text of each `<name>…</name>`; enough for the flat bodies clients send. */
function xmlElements(xml, name) {
  const pattern = new RegExp(`<${name}(?:\\s[^>]*)?>([\\s\\S]*?)</${name}>`, 'g');
  return [...xml.matchAll(pattern)].map((m) => m[1]);
}

function checksumsXml(checksums) {
  return Object.entries(checksums)
    .map(([header, value]) => {
      const tag = `Checksum${header.slice('x-amz-checksum-'.length).toUpperCase()}`;
      return `<${tag}>${escapeXml(value)}</${tag}>`;
    })
    .join('');
}

function checksumAlgorithmXml(checksums) {
  const header = Object.keys(checksums)[0];
  return header ? `<ChecksumAlgorithm>${header.slice('x-amz-checksum-'.length).toUpperCase()}</ChecksumAlgorithm>` : '';
}

const XML_ESCAPES = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' };
const XML_UNESCAPES = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

function escapeXml(text) {
  return String(text).replace(/[&<>"']/g, (c) => XML_ESCAPES[c]);
}

function unescapeXml(text) {
  return text.replace(/&(amp|lt|gt|quot|apos|#x[0-9a-f]+|#\d+);/gi, (_, e) => {
    if (e[0] !== '#') return XML_UNESCAPES[e.toLowerCase()];
    return String.fromCodePoint(e[1].toLowerCase() === 'x' ? parseInt(e.slice(2), 16) : Number(e.slice(1)));
  });
}

// A local CloudWatch endpoint serving known series, for the end-to-end tests, the benchmark and
// the demo. It speaks what @aws-sdk/client-cloudwatch 3.1164 sends: awsJson1_0 (POST /,
// `Content-Type: application/x-amz-json-1.0`, `X-Amz-Target: GraniteServiceVersion20100801.<Op>`,
// timestamps as epoch seconds), and answers GetMetricData (metric stats and the Metric Math the
// extension uses), ListMetrics, DescribeAlarms (by AlarmNamePrefix or AlarmNames, too),
// DescribeAlarmsForMetric, PutMetricAlarm and DeleteAlarms (which change the alarms the others
// see; `alarms` is that list). Signatures are not checked. Run directly (`node test/harness/cloudwatch-server.mjs`) it prints its endpoint.

import http from 'node:http';

const TARGET_PREFIX = 'GraniteServiceVersion20100801.';
const MAX_QUERIES = 500;
const ID_PATTERN = /^[a-z][a-zA-Z0-9_]*$/;

/**
 * @typedef {{ Name: string, Value?: string }} Dimension
 * @typedef {{ Namespace: string, MetricName: string, Dimensions?: Dimension[] }} Metric
 * @typedef {(metric: Metric, stat: string, timestamp: number, period: number) => number | null} SeriesFn
 */

/**
 * The series the tests check against, a pure function of the timestamp (epoch seconds):
 * CPUUtilization is the minute of the hour plus 0.5 (so a hovered value can be checked against
 * the hovered time), NetworkIn 100,000 bytes/s and NetworkOut 50,000 bytes/s (as Sums per
 * period); every other metric has no data.
 * @type {SeriesFn}
 */
export function knownSeries(metric, _stat, timestamp, period) {
  switch (metric.MetricName) {
    case 'CPUUtilization':
      return Math.floor(timestamp / 60) % 60 + 0.5;
    case 'NetworkIn':
      return 100_000 * period;
    case 'NetworkOut':
      return 50_000 * period;
    default:
      return null;
  }
}

/**
 * @param {{ series?: SeriesFn, metrics?: Metric[], alarms?: object[], port?: number }} [options]
 *   `metrics` is what ListMetrics finds; `alarms` are MetricAlarms as DescribeAlarms returns them.
 */
export async function startCloudWatchServer({ series = knownSeries, metrics = [], alarms = [], port = 0 } = {}) {
  /** @type {Array<{ operation: string, body: any }>} */
  const requests = [];
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const operation = String(req.headers['x-amz-target'] ?? '').replace(TARGET_PREFIX, '');
      const reply = (status, body) => {
        res.writeHead(status, {
          'Content-Type': 'application/x-amz-json-1.0',
          // awsQueryCompatible clients read the query-protocol error code from here.
          ...(status >= 400 && { 'x-amzn-query-error': `${body.__type};Sender` }),
        });
        res.end(JSON.stringify(body));
      };
      let body;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
      } catch {
        return reply(400, { __type: 'SerializationException', message: 'Body is not JSON.' });
      }
      requests.push({ operation, body });
      try {
        reply(200, handle(operation, body, { series, metrics, alarms }));
      } catch (err) {
        reply(400, { __type: err.code ?? 'InvalidParameterValue', message: err.message });
      }
    });
  });
  await new Promise((resolve) => server.listen(port, '127.0.0.1', resolve));
  const { port: bound } = /** @type {import('node:net').AddressInfo} */ (server.address());
  return {
    endpoint: `http://127.0.0.1:${bound}`,
    region: 'us-east-1',
    requests,
    /** The MetricAlarms DescribeAlarms returns; PutMetricAlarm and DeleteAlarms change it. */
    alarms,
    stop: () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve(undefined)); }),
  };
}

function handle(operation, body, world) {
  switch (operation) {
    case 'GetMetricData':
      return getMetricData(body, world.series);
    case 'ListMetrics':
      return { Metrics: world.metrics.filter((m) => matchesFilter(m, body)) };
    case 'DescribeAlarms': {
      const names = body.AlarmNames ?? [];
      const prefix = body.AlarmNamePrefix ?? '';
      const types = body.AlarmTypes ?? ['MetricAlarm'];
      const metricAlarms = types.includes('MetricAlarm')
        ? world.alarms.filter((a) => (!names.length || names.includes(a.AlarmName)) && String(a.AlarmName ?? '').startsWith(prefix))
        : [];
      return { MetricAlarms: metricAlarms, CompositeAlarms: [] };
    }
    case 'PutMetricAlarm':
      return putMetricAlarm(body, world.alarms);
    case 'DeleteAlarms': {
      // CloudWatch ignores names it does not have.
      for (const name of body.AlarmNames ?? []) {
        const at = world.alarms.findIndex((a) => a.AlarmName === name);
        if (at >= 0) world.alarms.splice(at, 1);
      }
      return {};
    }
    case 'DescribeAlarmsForMetric':
      return { MetricAlarms: world.alarms.filter((a) => a.Namespace === body.Namespace && a.MetricName === body.MetricName && sameDimensions(a.Dimensions ?? [], body.Dimensions ?? [])) };
    default:
      throw Object.assign(new Error(`${operation} is not served here.`), { code: 'InvalidAction' });
  }
}

/** Creates or replaces the alarm, as CloudWatch does; its state starts as INSUFFICIENT_DATA. */
function putMetricAlarm(body, alarms) {
  for (const key of ['AlarmName', 'EvaluationPeriods', 'ComparisonOperator']) {
    if (body[key] === undefined) throw validation(`1 validation error detected: Value null at '${key.charAt(0).toLowerCase()}${key.slice(1)}' failed to satisfy constraint: Member must not be null`);
  }
  const now = Date.now() / 1000;
  const alarm = {
    ...body,
    AlarmArn: `arn:aws:cloudwatch:us-east-1:123456789012:alarm:${body.AlarmName}`,
    StateValue: 'INSUFFICIENT_DATA',
    StateReason: 'Unchecked: Initial alarm creation',
    StateUpdatedTimestamp: now,
    AlarmConfigurationUpdatedTimestamp: now,
  };
  delete alarm.Tags;
  const at = alarms.findIndex((a) => a.AlarmName === body.AlarmName);
  if (at >= 0) alarms[at] = alarm;
  else alarms.push(alarm);
  return {};
}

function getMetricData(body, series) {
  const queries = body.MetricDataQueries ?? [];
  if (queries.length > MAX_QUERIES) throw validation(`The collection MetricDataQueries must not have a size greater than ${MAX_QUERIES}.`);
  for (const [i, q] of queries.entries()) {
    if (!ID_PATTERN.test(q.Id ?? '')) throw validation(`The value ${q.Id} for parameter MetricDataQueries.member.${i + 1}.Id is not matching the expected pattern ^[a-z][a-zA-Z_0-9]*$.`);
  }
  const start = body.StartTime;
  const end = body.EndTime;
  const ascending = body.ScanBy === 'TimestampAscending';
  /** @type {Map<string, Map<number, number>>} */
  const values = new Map();
  for (const q of queries.filter((q) => q.MetricStat)) {
    const { Metric, Period, Stat } = q.MetricStat;
    const points = new Map();
    for (let t = Math.ceil(start / Period) * Period; t < end; t += Period) {
      const v = series(Metric, Stat, t, Period);
      if (v !== null) points.set(t, v);
    }
    values.set(q.Id, points);
  }
  for (const q of queries.filter((q) => q.Expression)) values.set(q.Id, evaluate(q.Expression, values));
  const results = queries.filter((q) => q.ReturnData !== false).map((q) => {
    const points = [...values.get(q.Id)].sort(([a], [b]) => (ascending ? a - b : b - a));
    return { Id: q.Id, Label: q.Label ?? q.Id, Timestamps: points.map(([t]) => t), Values: points.map(([, v]) => v), StatusCode: 'Complete' };
  });
  return { MetricDataResults: results, Messages: [] };
}

/** The Metric Math the extension sends: SUM or AVG of METRICS("fragment") or of [id, ...]. */
function evaluate(expression, values) {
  const match = /^(SUM|AVG)\((?:METRICS\("([^"]*)"\)|\[([^\]]*)\])\)$/.exec(expression.replace(/\s+/g, ''));
  if (!match) throw validation(`Unsupported expression here: ${expression}`);
  const [, op, fragment, list] = match;
  const ids = fragment !== undefined ? [...values.keys()].filter((id) => id.includes(fragment)) : list.split(',');
  /** @type {Map<number, number[]>} */
  const byTime = new Map();
  for (const id of ids) {
    for (const [t, v] of values.get(id) ?? []) byTime.set(t, [...(byTime.get(t) ?? []), v]);
  }
  return new Map([...byTime].map(([t, vs]) => [t, vs.reduce((a, b) => a + b, 0) / (op === 'AVG' ? vs.length : 1)]));
}

function matchesFilter(metric, filter) {
  if (filter.Namespace && metric.Namespace !== filter.Namespace) return false;
  if (filter.MetricName && metric.MetricName !== filter.MetricName) return false;
  return (filter.Dimensions ?? []).every((f) => (metric.Dimensions ?? []).some((d) => d.Name === f.Name && (f.Value === undefined || d.Value === f.Value)));
}

function sameDimensions(a, b) {
  const key = (ds) => ds.map((d) => `${d.Name}=${d.Value}`).sort().join('&');
  return key(a) === key(b);
}

function validation(message) {
  return Object.assign(new Error(message), { code: 'ValidationError' });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  // No top-level await: tests load this file through tsx as CommonJS.
  void startCloudWatchServer({ port: Number(process.env.PORT ?? 0) }).then((server) => {
    console.log(`CloudWatch endpoint: ${server.endpoint} (AWS_ENDPOINT_URL_CLOUDWATCH=${server.endpoint})`);
  });
}

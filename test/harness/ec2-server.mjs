// A local EC2 endpoint for tests and the demo, in the wire format @aws-sdk/client-ec2 speaks:
// the ec2 query protocol, i.e. POST / with a form-encoded body (`Action=DescribeInstances&
// Version=2016-11-15&InstanceId.1=…&Filter.1.Name=…&Filter.1.Value.1=…`) and XML replies whose
// element names are the lower-camel `xmlName`s of the client's schemas (reservationSet,
// instancesSet, instanceState, tagSet…), every list member an <item>. Errors are
// <Response><Errors><Error><Code/><Message/></Error></Errors><RequestID/></Response>.
// It checks no signatures.
//
//   const ec2 = await startEc2Server();              // one running instance, SAMPLE_INSTANCE_ID
//   const ec2 = await startEc2Server({ instances: [instance({ id: 'i-0abc…', state: 'stopped', lifecycle: 'spot' })] });
//   // AWS_ENDPOINT_URL_EC2=ec2.endpoint, AWS_REGION=ec2.region, any keys
//   ec2.instances.get(id).state = 'stopped';        // tests change the fleet as they go
//   await ec2.stop();
//
// With `cluster`, it also holds an AWS ParallelCluster cluster (tags as ParallelCluster sets
// them): an on-demand head node and three spot compute nodes, two from one-time spot requests
// (AWS refuses to stop those: UnsupportedOperation) and one from a persistent request with the
// stop interruption behaviour. Start, stop, reboot and terminate change states as EC2 does,
// through pending/stopping/shutting-down for `transitionMs`; `ec2.interrupt(id)` plays a spot
// interruption. Spot prices and spot requests are answered too. For tests and `npm run demo`:
//
//   const ec2 = await startEc2Server({ port: 0, cluster: { name: 'genomics' } });
//   ec2.cluster.compute  // [{ id, requestType }…], ec2.cluster.head
//
// New actions are one more entry in ACTIONS: a function from the request's parameters and the
// server's state to the XML inside the response element.
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';

export const SAMPLE_INSTANCE_ID = 'i-0123456789abcdef0';
const REGION = 'us-east-1';
const OWNER = '123456789012';

/** EC2's state codes, by name (the low byte of instanceState.code). */
const STATE_CODES = { pending: 0, running: 16, 'shutting-down': 32, terminated: 48, stopping: 64, stopped: 80 };

/**
 * @typedef {object} LocalInstance
 * @property {string} id
 * @property {keyof typeof STATE_CODES} state
 * @property {string} type
 * @property {string} availabilityZone
 * @property {Record<string, string>} tags
 * @property {'spot' | undefined} lifecycle  undefined for on-demand, as EC2 leaves the field out
 * @property {Date} launchTime
 * @property {string} imageId
 * @property {string | undefined} privateIpAddress
 * @property {string | undefined} publicIpAddress
 * @property {string | undefined} instanceProfileArn
 * @property {string} [spotRequestId]  the spot request of a spot instance
 * @property {{ code: string, message: string }} [stateReason]  why it last stopped or terminated
 * @property {{ id: string, code: string, description: string, notBefore: Date }[]} [events]  scheduled events
 */

/**
 * @typedef {object} LocalSpotRequest
 * @property {string} id
 * @property {'one-time' | 'persistent'} type
 * @property {'terminate' | 'stop' | 'hibernate'} interruptionBehavior
 * @property {'open' | 'active' | 'closed' | 'cancelled'} state
 * @property {string} instanceId
 * @property {string} maxPrice
 * @property {Date} createTime
 */

/**
 * What the actions read and change.
 * @typedef {object} World
 * @property {Map<string, LocalInstance>} fleet
 * @property {Map<string, LocalSpotRequest>} spotRequests
 * @property {(instance: LocalInstance, state: keyof typeof STATE_CODES) => void} settle  moves to `state` after the transition time
 * @property {Set<string>} noCapacity  instance types RunInstances has no capacity for
 */

/**
 * An instance with sensible defaults: a running on-demand node with an instance profile.
 * @param {Partial<LocalInstance>} [fields]
 * @returns {LocalInstance}
 */
export function instance(fields = {}) {
  return {
    id: SAMPLE_INSTANCE_ID,
    state: 'running',
    type: 't3.large',
    availabilityZone: `${REGION}a`,
    tags: { Name: 'analysis-node' },
    lifecycle: undefined,
    launchTime: new Date(Date.now() - 3_600_000),
    imageId: 'ami-0123456789abcdef0',
    privateIpAddress: '10.0.1.23',
    publicIpAddress: undefined,
    instanceProfileArn: `arn:aws:iam::${OWNER}:instance-profile/research-node`,
    ...fields,
  };
}

/**
 * @param {object} [options]
 * @param {LocalInstance[]} [options.instances]  default: one running instance
 * @param {{ name?: string }} [options.cluster]  add a ParallelCluster cluster (see the top of the file)
 * @param {number} [options.port]  default: any free port
 * @param {number} [options.transitionMs]  how long pending, stopping and shutting-down last
 * @param {string[]} [options.noCapacityFor]  instance types RunInstances answers InsufficientInstanceCapacity for
 * @param {(line: string) => void} [options.log]
 */
export async function startEc2Server({ instances = [instance()], cluster, port: wantedPort = 0, transitionMs = 500, noCapacityFor = [], log = () => undefined } = {}) {
  const sample = cluster ? sampleCluster(cluster.name) : undefined;
  /** @type {Map<string, LocalInstance>} */
  const fleet = new Map([...instances, ...(sample?.instances ?? [])].map((i) => [i.id, i]));
  /** @type {Map<string, LocalSpotRequest>} */
  const spotRequests = new Map((sample?.spotRequests ?? []).map((r) => [r.id, r]));
  const timers = new Set();
  /** @type {World} */
  const world = {
    fleet,
    spotRequests,
    noCapacity: new Set(noCapacityFor),
    settle(target, state) {
      const timer = setTimeout(() => {
        timers.delete(timer);
        target.state = state;
      }, transitionMs);
      timers.add(timer);
    },
  };
  /** Actions in the order they were called, with their parameters. */
  const calls = [];
  const server = createServer((req, res) => void handle(req, res));
  await new Promise((resolve) => server.listen(wantedPort, '127.0.0.1', resolve));
  const { port } = /** @type {import('node:net').AddressInfo} */ (server.address());

  async function handle(req, res) {
    const chunks = [];
    for await (const chunk of req) chunks.push(chunk);
    const params = Object.fromEntries(new URLSearchParams(Buffer.concat(chunks).toString()));
    const action = params.Action ?? '';
    calls.push({ action, params });
    log(`ec2: ${action}`);
    const run = ACTIONS[action];
    if (!run) return fail(res, 400, 'InvalidAction', `The action ${action} is not valid for this web service.`);
    try {
      const body = run(params, world);
      const requestId = randomUUID();
      res.writeHead(200, { 'content-type': 'text/xml;charset=UTF-8' });
      res.end(`<?xml version="1.0" encoding="UTF-8"?>\n<${action}Response xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>${requestId}</requestId>${body}</${action}Response>`);
    } catch (err) {
      if (!(err instanceof Ec2Error)) throw err;
      fail(res, 400, err.code, err.message);
    }
  }

  return {
    endpoint: `http://127.0.0.1:${port}`,
    region: REGION,
    accessKeyId: 'LOCALEC2KEY',
    secretAccessKey: 'local-ec2-secret',
    /** The fleet, by instance id; change it to change what the next call sees. */
    instances: fleet,
    spotRequests,
    /** Instance types RunInstances answers InsufficientInstanceCapacity for; change it as tests go. */
    noCapacity: world.noCapacity,
    /** The ids of the sample cluster's nodes, when `cluster` was given. */
    cluster: sample && { name: sample.name, head: sample.head, compute: sample.compute },
    calls,
    /**
     * A spot interruption, as AWS does it: a node of a persistent request with the stop
     * behaviour is stopped, any other is terminated, with the state reason EC2 gives.
     * @param {string} id
     */
    interrupt(id) {
      const target = fleet.get(id);
      const request = target?.spotRequestId && spotRequests.get(target.spotRequestId);
      if (!target || !request) throw new Error(`${id} is not a spot instance of this server`);
      const stops = request.type === 'persistent' && request.interruptionBehavior === 'stop';
      const code = stops ? 'Server.SpotInstanceShutdown' : 'Server.SpotInstanceTermination';
      target.stateReason = { code, message: `${code}: Spot instance ${stops ? 'shutdown' : 'termination'}` };
      target.state = stops ? 'stopping' : 'shutting-down';
      world.settle(target, stops ? 'stopped' : 'terminated');
    },
    async stop() {
      for (const timer of timers) clearTimeout(timer);
      const closed = new Promise((resolve) => server.close(() => resolve(undefined)));
      server.closeAllConnections(); // the SDK's keep-alive sockets would hold close() open
      await closed;
    },
  };
}

/** @type {Record<string, (params: Record<string, string>, world: World) => string>} */
const ACTIONS = {
  DescribeInstances(params, { fleet }) {
    const ids = listParam(params, 'InstanceId');
    for (const id of ids) {
      if (!/^i-[0-9a-f]{8,17}$/.test(id)) throw new Ec2Error('InvalidInstanceID.Malformed', `Invalid id: "${id}"`);
    }
    const missing = ids.filter((id) => !fleet.has(id));
    if (missing.length) throw new Ec2Error('InvalidInstanceID.NotFound', `The instance IDs '${missing.join(', ')}' do not exist`);
    const filters = filtersParam(params);
    const matching = [...fleet.values()].filter((i) => (!ids.length || ids.includes(i.id)) && filters.every((f) => f.matches(i)));
    // One reservation per instance, as separate RunInstances calls make.
    return element('reservationSet', matching.map((i) => item(
      element('reservationId', `r-${i.id.slice(2)}`) + element('ownerId', OWNER) + element('groupSet', '') +
      element('instancesSet', item(instanceXml(i))),
    )).join(''));
  },

  StopInstances(params, world) {
    const targets = instancesParam(params, world.fleet);
    // EC2 refuses the whole call for one instance it cannot stop.
    for (const i of targets) {
      const request = i.spotRequestId && world.spotRequests.get(i.spotRequestId);
      if (request && request.type === 'one-time') {
        throw new Ec2Error('UnsupportedOperation', `You can't stop the Spot Instance '${i.id}' because it is associated with a one-time Spot Instance request. You can only stop Spot Instances associated with persistent Spot Instance requests.`);
      }
      if (!['running', 'stopping', 'stopped'].includes(i.state)) {
        throw new Ec2Error('IncorrectInstanceState', `The instance '${i.id}' is not in a state from which it can be stopped.`);
      }
    }
    return stateChanges('instancesSet', targets, (i) => {
      if (i.state !== 'running') return;
      i.state = 'stopping';
      i.stateReason = { code: 'Client.UserInitiatedShutdown', message: 'Client.UserInitiatedShutdown: User initiated shutdown' };
      world.settle(i, 'stopped');
    });
  },

  StartInstances(params, world) {
    const targets = instancesParam(params, world.fleet);
    for (const i of targets) {
      if (!['stopped', 'pending', 'running'].includes(i.state)) {
        throw new Ec2Error('IncorrectInstanceState', `The instance '${i.id}' is not in a state from which it can be started.`);
      }
    }
    return stateChanges('instancesSet', targets, (i) => {
      if (i.state !== 'stopped') return;
      i.state = 'pending';
      i.stateReason = undefined;
      i.launchTime = new Date();
      world.settle(i, 'running');
    });
  },

  TerminateInstances(params, world) {
    const targets = instancesParam(params, world.fleet);
    return stateChanges('instancesSet', targets, (i) => {
      if (i.state === 'terminated' || i.state === 'shutting-down') return;
      i.state = 'shutting-down';
      i.stateReason = { code: 'Client.UserInitiatedShutdown', message: 'Client.UserInitiatedShutdown: User initiated shutdown' };
      const request = i.spotRequestId && world.spotRequests.get(i.spotRequestId);
      if (request && request.type === 'one-time') request.state = 'closed';
      world.settle(i, 'terminated');
    });
  },

  RunInstances(params, world) {
    const type = params.InstanceType ?? 't3.large';
    const imageId = params.ImageId;
    if (!imageId) throw new Ec2Error('MissingParameter', 'The request must contain the parameter ImageId');
    if (!/^ami-[0-9a-f]{8,17}$/.test(imageId)) throw new Ec2Error('InvalidAMIID.Malformed', `Invalid id: "${imageId}"`);
    const min = Number(params.MinCount);
    const max = Number(params.MaxCount);
    if (!(min >= 1 && max >= min)) throw new Ec2Error('InvalidParameterValue', 'MinCount and MaxCount must be at least 1, MinCount at most MaxCount.');
    const zone = params['Placement.AvailabilityZone'] ?? `${REGION}a`;
    if (world.noCapacity.has(type)) {
      throw new Ec2Error('InsufficientInstanceCapacity', `We currently do not have sufficient ${type} capacity in the Availability Zone you requested (${zone}). Our system will be working on provisioning additional capacity.`);
    }
    /** @type {Record<string, string>} */
    const tags = {};
    for (let n = 1; params[`TagSpecification.${n}.ResourceType`] !== undefined; n++) {
      if (params[`TagSpecification.${n}.ResourceType`] !== 'instance') continue;
      for (let m = 1; params[`TagSpecification.${n}.Tag.${m}.Key`] !== undefined; m++) {
        tags[params[`TagSpecification.${n}.Tag.${m}.Key`]] = params[`TagSpecification.${n}.Tag.${m}.Value`] ?? '';
      }
    }
    const spot = params['InstanceMarketOptions.MarketType'] === 'spot';
    const launched = [];
    for (let n = 0; n < max; n++) {
      const id = `i-0${randomUUID().replace(/-/g, '').slice(0, 16)}`;
      const node = instance({
        id, type, imageId, availabilityZone: zone, state: 'pending', launchTime: new Date(), tags: { ...tags },
        privateIpAddress: `10.0.2.${10 + world.fleet.size}`, instanceProfileArn: undefined,
        ...(spot && { lifecycle: /** @type {const} */ ('spot') }),
      });
      if (spot) {
        const requestId = `sir-${randomUUID().replace(/-/g, '').slice(0, 8)}`;
        const behavior = /** @type {LocalSpotRequest['interruptionBehavior']} */ (params['InstanceMarketOptions.SpotOptions.InstanceInterruptionBehavior'] ?? 'terminate');
        world.spotRequests.set(requestId, {
          id: requestId, type: params['InstanceMarketOptions.SpotOptions.SpotInstanceType'] === 'persistent' ? 'persistent' : 'one-time',
          interruptionBehavior: behavior, state: 'active', instanceId: id, maxPrice: params['InstanceMarketOptions.SpotOptions.MaxPrice'] ?? '1.000000', createTime: new Date(),
        });
        node.spotRequestId = requestId;
      }
      world.fleet.set(id, node);
      world.settle(node, 'running');
      launched.push(node);
    }
    return element('reservationId', `r-${launched[0].id.slice(2)}`) + element('ownerId', OWNER) + element('groupSet', '') +
      element('instancesSet', launched.map((i) => item(instanceXml(i))).join(''));
  },

  RebootInstances(params, world) {
    for (const i of instancesParam(params, world.fleet)) {
      if (i.state !== 'running') throw new Ec2Error('IncorrectInstanceState', `The instance '${i.id}' is not in a state from which it can be rebooted.`);
    }
    return element('return', 'true');
  },

  DescribeInstanceStatus(params, { fleet }) {
    const ids = listParam(params, 'InstanceId');
    const all = params.IncludeAllInstances === 'true';
    const matching = [...fleet.values()].filter((i) => (!ids.length || ids.includes(i.id)) && (all || i.state === 'running'));
    const ok = element('status', 'ok') + element('details', item(element('name', 'reachability') + element('status', 'passed')));
    return element('instanceStatusSet', matching.map((i) => item(
      element('instanceId', i.id) + element('availabilityZone', i.availabilityZone) +
      element('instanceState', element('code', String(STATE_CODES[i.state])) + element('name', i.state)) +
      element('eventsSet', (i.events ?? []).map((e) => item(
        element('instanceEventId', e.id) + leaf('code', e.code) + leaf('description', e.description) + element('notBefore', e.notBefore.toISOString()),
      )).join('')) +
      element('instanceStatus', ok) + element('systemStatus', ok),
    )).join(''));
  },

  DescribeSpotInstanceRequests(params, { spotRequests }) {
    const ids = [...listParam(params, 'SpotInstanceRequestId')];
    for (let n = 1; params[`Filter.${n}.Name`] !== undefined; n++) {
      if (params[`Filter.${n}.Name`] !== 'spot-instance-request-id') throw new Ec2Error('InvalidParameterValue', `The filter '${params[`Filter.${n}.Name`]}' is invalid`);
      ids.push(...listParam(params, `Filter.${n}.Value`));
    }
    const matching = [...spotRequests.values()].filter((r) => !ids.length || ids.includes(r.id));
    return element('spotInstanceRequestSet', matching.map((r) => item(
      element('spotInstanceRequestId', r.id) + element('spotPrice', r.maxPrice) + element('type', r.type) + element('state', r.state) +
      element('status', element('code', r.state === 'active' ? 'fulfilled' : r.state) + element('updateTime', r.createTime.toISOString())) +
      element('instanceId', r.instanceId) + element('createTime', r.createTime.toISOString()) +
      element('productDescription', 'Linux/UNIX') + element('instanceInterruptionBehavior', r.interruptionBehavior),
    )).join(''));
  },

  CancelSpotInstanceRequests(params, { spotRequests }) {
    const ids = listParam(params, 'SpotInstanceRequestId');
    return element('spotInstanceRequestSet', ids.map((id) => {
      const request = spotRequests.get(id);
      if (!request) throw new Ec2Error('InvalidSpotInstanceRequestID.NotFound', `The spot instance request ID '${id}' does not exist`);
      request.state = 'cancelled';
      return item(element('spotInstanceRequestId', id) + element('state', 'cancelled'));
    }).join(''));
  },

  DescribeSpotPriceHistory(params) {
    const types = listParam(params, 'InstanceType');
    const products = listParam(params, 'ProductDescription');
    let zones = [];
    for (let n = 1; params[`Filter.${n}.Name`] !== undefined; n++) {
      if (params[`Filter.${n}.Name`] !== 'availability-zone') throw new Ec2Error('InvalidParameterValue', `The filter '${params[`Filter.${n}.Name`]}' is invalid`);
      zones = listParam(params, `Filter.${n}.Value`);
    }
    const matching = SPOT_PRICES.filter((p) =>
      (!types.length || types.includes(p.type)) && (!zones.length || zones.includes(p.zone)) && (!products.length || products.includes('Linux/UNIX')));
    const now = Date.now();
    // Each price twice, an hour apart and a little different, as the history has it.
    return element('spotPriceHistorySet', matching.flatMap((p) => [[p.price, 0], [p.price * 1.04, 1]].map(([price, hoursAgo]) => item(
      element('instanceType', p.type) + element('productDescription', 'Linux/UNIX') + element('spotPrice', price.toFixed(6)) +
      element('timestamp', new Date(now - hoursAgo * 3_600_000).toISOString()) + element('availabilityZone', p.zone),
    ))).join('')) + element('nextToken', '');
  },
};

/** Spot prices the server knows, per type and zone (Linux/UNIX, USD per hour). */
const SPOT_PRICES = ['a', 'b', 'c'].flatMap((az, n) => [
  { type: 'c5.2xlarge', zone: `${REGION}${az}`, price: 0.1290 + n * 0.004 },
  { type: 'm5.xlarge', zone: `${REGION}${az}`, price: 0.0712 + n * 0.002 },
  { type: 't3.large', zone: `${REGION}${az}`, price: 0.0301 + n * 0.001 },
]);

/**
 * An AWS ParallelCluster cluster as ParallelCluster tags it: an on-demand head node and three
 * spot compute nodes in queue `spot`, the third from a persistent request that stops on interruption.
 * @param {string} [name]
 */
export function sampleCluster(name = 'genomics') {
  const tags = (nodeType, extra = {}) => ({ 'parallelcluster:cluster-name': name, 'parallelcluster:node-type': nodeType, 'parallelcluster:version': '3.13.0', ...extra });
  const hoursAgo = (h) => new Date(Date.now() - h * 3_600_000);
  const head = instance({
    id: 'i-0a1b2c3d4e5f60001', type: 'm5.xlarge', availabilityZone: `${REGION}a`, privateIpAddress: '10.0.0.10',
    launchTime: hoursAgo(30), tags: { Name: 'HeadNode', ...tags('HeadNode') },
  });
  const compute = [
    { id: 'i-0a1b2c3d4e5f60011', request: 'sir-0a1b2c3d', type: /** @type {const} */ ('one-time'), behavior: /** @type {const} */ ('terminate'), az: 'a', ip: '10.0.0.21', hours: 6 },
    { id: 'i-0a1b2c3d4e5f60012', request: 'sir-0a1b2c3e', type: /** @type {const} */ ('one-time'), behavior: /** @type {const} */ ('terminate'), az: 'b', ip: '10.0.1.22', hours: 4 },
    { id: 'i-0a1b2c3d4e5f60013', request: 'sir-0a1b2c3f', type: /** @type {const} */ ('persistent'), behavior: /** @type {const} */ ('stop'), az: 'a', ip: '10.0.0.23', hours: 2 },
  ];
  const instances = [head, ...compute.map((c, n) => instance({
    id: c.id, type: 'c5.2xlarge', availabilityZone: `${REGION}${c.az}`, privateIpAddress: c.ip, lifecycle: 'spot', spotRequestId: c.request,
    launchTime: hoursAgo(c.hours), tags: { Name: `spot-dy-c5-${n + 1}`, ...tags('Compute', { 'parallelcluster:queue-name': 'spot', 'parallelcluster:compute-resource-name': 'c5' }) },
  }))];
  /** @type {LocalSpotRequest[]} */
  const spotRequests = compute.map((c) => ({
    id: c.request, type: c.type, interruptionBehavior: c.behavior, state: 'active', instanceId: c.id, maxPrice: '0.340000', createTime: hoursAgo(c.hours),
  }));
  return { name, instances, spotRequests, head: head.id, compute: compute.map((c) => ({ id: c.id, requestType: c.type })) };
}

/**
 * The instances named by `InstanceId.N`, all of which must exist, as EC2 requires.
 * @param {Record<string, string>} params
 * @param {Map<string, LocalInstance>} fleet
 */
function instancesParam(params, fleet) {
  const ids = listParam(params, 'InstanceId');
  if (!ids.length) throw new Ec2Error('MissingParameter', 'The request must contain the parameter InstanceId');
  const missing = ids.filter((id) => !fleet.has(id));
  if (missing.length) throw new Ec2Error('InvalidInstanceID.NotFound', `The instance IDs '${missing.join(', ')}' do not exist`);
  return ids.map((id) => /** @type {LocalInstance} */ (fleet.get(id)));
}

/**
 * The state-change list of Start/Stop/TerminateInstances, applying `change` to each instance in between.
 * @param {string} setName
 * @param {LocalInstance[]} targets
 * @param {(i: LocalInstance) => void} change
 */
function stateChanges(setName, targets, change) {
  const state = (name) => element('code', String(STATE_CODES[name])) + element('name', name);
  return element(setName, targets.map((i) => {
    const previous = i.state;
    change(i);
    return item(element('instanceId', i.id) + element('currentState', state(i.state)) + element('previousState', state(previous)));
  }).join(''));
}

/** @param {LocalInstance} i */
function instanceXml(i) {
  return [
    element('instanceId', i.id),
    element('imageId', i.imageId),
    element('instanceState', element('code', String(STATE_CODES[i.state])) + element('name', i.state)),
    element('instanceType', i.type),
    element('launchTime', i.launchTime.toISOString()),
    element('placement', element('availabilityZone', i.availabilityZone) + element('tenancy', 'default')),
    i.privateIpAddress && element('privateIpAddress', i.privateIpAddress),
    i.publicIpAddress && element('ipAddress', i.publicIpAddress),
    i.instanceProfileArn && element('iamInstanceProfile', element('arn', i.instanceProfileArn) + element('id', 'AIPA0123456789EXAMPLE')),
    i.lifecycle && element('instanceLifecycle', i.lifecycle),
    i.spotRequestId && element('spotInstanceRequestId', i.spotRequestId),
    i.stateReason && element('stateReason', leaf('code', i.stateReason.code) + leaf('message', i.stateReason.message)),
    element('rootDeviceType', 'ebs'),
    element('platformDetails', 'Linux/UNIX'),
    element('tagSet', Object.entries(i.tags).map(([key, value]) => item(leaf('key', key) + leaf('value', value))).join('')),
  ].filter(Boolean).join('');
}

/**
 * The filters DescribeInstances takes that the tests use; an unknown filter name is an error,
 * as on EC2, so a test cannot pass by a filter being silently ignored.
 * @param {Record<string, string>} params
 * @returns {{ matches(i: LocalInstance): boolean }[]}
 */
function filtersParam(params) {
  const filters = [];
  for (let n = 1; params[`Filter.${n}.Name`] !== undefined; n++) {
    const name = params[`Filter.${n}.Name`];
    const values = listParam(params, `Filter.${n}.Value`);
    const field = filterField(name);
    filters.push({ matches: (i) => values.includes(field(i) ?? '') });
  }
  return filters;
}

/** @param {string} name @returns {(i: LocalInstance) => string | undefined} */
function filterField(name) {
  if (name.startsWith('tag:')) return (i) => i.tags[name.slice(4)];
  switch (name) {
    case 'instance-state-name': return (i) => i.state;
    case 'instance-id': return (i) => i.id;
    case 'instance-type': return (i) => i.type;
    case 'availability-zone': return (i) => i.availabilityZone;
    case 'instance-lifecycle': return (i) => i.lifecycle;
    default: throw new Ec2Error('InvalidParameterValue', `The filter '${name}' is invalid`);
  }
}

/** `Name.1`, `Name.2`, … of the ec2 query protocol's flattened lists. */
function listParam(params, name) {
  const values = [];
  for (let n = 1; params[`${name}.${n}`] !== undefined; n++) values.push(params[`${name}.${n}`]);
  return values;
}

class Ec2Error extends Error {
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}

function fail(res, status, code, message) {
  res.writeHead(status, { 'content-type': 'text/xml;charset=UTF-8' });
  res.end(`<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error>${leaf('Code', code)}${leaf('Message', message)}</Error></Errors>${leaf('RequestID', randomUUID())}</Response>`);
}

/** An element around XML that is already escaped. */
function element(name, inner) {
  return `<${name}>${inner}</${name}>`;
}

/** An element holding text: tag values and messages may contain `&` or `<`. */
function leaf(name, text) {
  return element(name, text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;'));
}

function item(inner) {
  return element('item', inner);
}

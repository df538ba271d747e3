import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { checkBudget } from '../../src/cluster/budget';
import type { ClusterNode } from '../../src/cluster/model';
import { clusterNode } from '../fixtures/ec2';

const priced = (instanceId: string, perHour: number, fields: Partial<ClusterNode> = {}) =>
  clusterNode({ instanceId, price: { perHour, market: fields.spot ? 'spot' : 'on-demand' }, ...fields });
const tagged = { name: 'atlas', kind: 'tagged' as const };

describe('checkBudget', () => {
  test('is not over when the running nodes would cost less than the budget in a day', () => {
    const check = checkBudget([priced('i-1', 1), priced('i-2', 2, { state: 'stopped' })], 30);
    assert.deepEqual([check.projectedDaily, check.over, check.offer], [24, false, []]);
  });

  test('offers the costliest workers first, head nodes last, just enough to fit the budget', () => {
    const nodes = [
      priced('i-head', 3, { cluster: tagged, role: 'head' }),
      priced('i-small', 0.5, { cluster: tagged, role: 'compute' }),
      priced('i-big', 2, { cluster: tagged, role: 'compute' }),
      priced('i-mid', 1, { cluster: tagged, role: 'compute' }),
    ];
    const check = checkBudget(nodes, 100);
    assert.equal(check.projectedDaily, 156);
    assert.equal(check.over, true);
    assert.deepEqual(check.offer.map((o) => [o.node.instanceId, o.action, o.savesPerDay]), [['i-big', 'stop', 48], ['i-mid', 'stop', 24]]);
    assert.deepEqual(checkBudget(nodes, 10).offer.map((o) => o.node.instanceId), ['i-big', 'i-mid', 'i-small', 'i-head']);
  });

  test('offers to terminate a one-time spot node, and leaves ParallelCluster compute nodes to their scheduler', () => {
    const nodes = [
      priced('i-spot', 1, { spot: { requestId: 'sir-1', requestType: 'one-time' } }),
      priced('i-pc', 5, { cluster: { name: 'genomics', kind: 'parallelcluster' }, role: 'compute' }),
      clusterNode({ instanceId: 'i-unpriced' }),
    ];
    const check = checkBudget(nodes, 1);
    assert.deepEqual(check.offer.map((o) => [o.node.instanceId, o.action]), [['i-spot', 'terminate']]);
    assert.deepEqual(check.notes, [
      '1 running node has no known price and is not counted.',
      'ParallelCluster compute nodes are not offered: its scheduler would replace them. Lower the queue sizes instead.',
    ]);
  });
});

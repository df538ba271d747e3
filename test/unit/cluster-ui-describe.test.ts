import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ClusterNode } from '../../src/cluster/model';
import { confirmQuestion, costText, formatUsd, isPriceProblem, isTransitional, nodeDescription, nodeTooltip, planAction } from '../../src/ui/cluster/describe';
import { runningCost } from '../../src/cluster/cost';
import { clusterNode } from '../fixtures/ec2';

const now = new Date('2026-01-01T12:00:00Z');
const spot = (requestType: 'one-time' | 'persistent', fields: Partial<ClusterNode> = {}) =>
  clusterNode({ spot: { requestType, requestId: 'sir-1', interruptionBehavior: 'stop' }, name: `spot-${requestType}`, instanceId: `i-${requestType}`, ...fields });

describe('Cluster view wording', () => {
  test('a node row names type, state, market, zone, IP, uptime and price', () => {
    const node = clusterNode({ name: 'head', privateIp: '10.0.0.1', launchTime: new Date('2026-01-01T09:00:00Z'), price: { perHour: 0.192, market: 'on-demand' } });
    assert.equal(nodeDescription(node, now), 'c5.xlarge · running · on-demand · us-east-1a · 10.0.0.1 · up 3 h · $0.192/h');
    assert.equal(nodeDescription(clusterNode({ state: 'stopped' }), now), 'c5.xlarge · stopped · on-demand · us-east-1a · price unknown');
  });

  test('an unknown price says so in the tooltip, with why', () => {
    const lines = nodeTooltip(clusterNode(), { notices: [], priceProblems: ['Read on-demand prices of us-east-1 failed: cannot reach it.'] }, now);
    assert.ok(lines.includes('Price: unknown. Read on-demand prices of us-east-1 failed: cannot reach it.'), lines.join('\n'));
    const spotLines = nodeTooltip(spot('persistent', { price: { perHour: 0.1, market: 'spot' } }), { notices: [], priceProblems: [] }, now);
    assert.ok(spotLines.includes('Spot (persistent request, stops on interruption)'));
    assert.ok(spotLines.includes('Price: $0.100/h spot; on-demand price unknown'));
  });

  test('price problems are told from the others by their operation', () => {
    assert.equal(isPriceProblem(new Error('Read on-demand prices of us-east-1 failed: x')), true);
    assert.equal(isPriceProblem(new Error('Read spot prices in eu-west-1 failed: x')), true);
    assert.equal(isPriceProblem(new Error('List the instances of eu-west-1 failed: x')), false);
  });

  test('cost text marks estimates', () => {
    const nodes = [clusterNode({ launchTime: new Date('2026-01-01T10:00:00Z'), price: { perHour: 2, market: 'on-demand' } })];
    assert.equal(costText(runningCost(nodes, now)), '$2.00/h · $4.00 since launch');
    assert.equal(formatUsd(0.0301), '$0.030');
  });

  test('stopping a one-time spot node is refused with terminate offered instead', () => {
    const plan = planAction('stop', [spot('one-time'), spot('persistent')]);
    assert.deepEqual(plan.nodes.map((n) => n.instanceId), ['i-persistent']);
    assert.equal(plan.refused.length, 1);
    assert.equal(plan.refused[0].instead, 'terminate');
    assert.match(plan.refused[0].reason, /one-time spot instance/);
    assert.equal(confirmQuestion('stop', plan.nodes), 'Stop spot-persistent (i-persistent)?');
    assert.equal(confirmQuestion('terminate', [spot('one-time'), spot('persistent')]), 'Terminate 2 nodes?');
  });

  test('pending, stopping and shutting-down are transitional', () => {
    assert.deepEqual((['pending', 'running', 'stopping', 'stopped', 'shutting-down', 'terminated'] as const).map((state) => isTransitional(clusterNode({ state }))), [true, false, true, false, true, false]);
  });
});

import { expect } from 'chai';
import { costOf, incomingVerdict, rankCandidates, stoppedCost, type CostClass } from '../../../lib/cluster/route-decision.js';
import type { ModelStatus, NodeStatus } from '../../../lib/cluster/types.js';
import type { ModelState } from '../../../lib/process/states.js';

const GiB = 2 ** 30;
const model = (id: string, state: ModelState, extra: Partial<ModelStatus> = {}): ModelStatus => ({
  id,
  state,
  asleepLevel: state === 'asleep' ? 1 : null,
  inFlight: 0,
  queued: 0,
  resources: { vram: 10 * GiB, asleep: { vram: 1 * GiB } },
  ...extra,
});
const node = (id: string, models: ModelStatus[], extra: Partial<NodeStatus> = {}): NodeStatus => ({
  id,
  url: id === 'self' ? null : `http://${id}:8080`,
  up: true,
  budgets: null,
  models: new Map(models.map((entry) => [entry.id, entry])),
  pending: 0,
  ...extra,
});

describe('cluster route decision', function () {
  describe('cost of one copy (rules 1-9)', function () {
    const table: [string, NodeStatus, ModelStatus, CostClass | null][] = [
      ['ready here with room', node('self', []), model('m', 'ready'), 'ready-self'],
      ['ready on a peer with room', node('p', []), model('m', 'ready'), 'ready-peer'],
      ['ready here at the limit', node('self', []), model('m', 'ready', { inFlight: 3, queued: 1 }), 'ready-busy'],
      ['ready on a peer, full with forwards in flight', node('p', [], { pending: 4 }), model('m', 'ready'), 'ready-busy'],
      ['waking', node('p', []), model('m', 'waking'), 'waking'],
      ['starting', node('p', []), model('m', 'starting'), 'waking'],
      ['asleep at level 1', node('p', []), model('m', 'asleep', { asleepLevel: 1 }), 'asleep-1'],
      ['asleep at level 2', node('p', []), model('m', 'asleep', { asleepLevel: 2 }), 'asleep-2'],
      ['going to sleep at level 2', node('p', []), model('m', 'sleeping', { asleepLevel: 2 }), 'asleep-2'],
      ['stopped, no budgets', node('p', []), model('m', 'stopped'), 'stopped-fits'],
      ['stopping', node('p', []), model('m', 'stopping'), 'stopped-crowded'],
      ['shut down on a peer', node('p', []), model('m', 'shutdown'), null],
    ];
    for (const [name, at, copy, expected] of table) {
      it(`${name} → ${String(expected)}`, function () {
        expect(costOf(at, copy, 4)).to.equal(expected);
      });
    }
  });

  describe('a stopped model and the budget (rules 7-9)', function () {
    const budgets = { vram: 24 * GiB };
    const table: [string, ModelStatus[], number, CostClass][] = [
      ['free budget holds it', [model('x', 'ready'), model('y', 'asleep')], 10, 'stopped-fits'],
      ['idle models (ready, asleep) make room', [model('x', 'ready'), model('y', 'ready')], 10, 'stopped-evicts'],
      ['only a busy model could make room', [model('x', 'ready', { inFlight: 1 }), model('y', 'ready', { queued: 2 })], 10, 'stopped-crowded'],
      ['larger than the whole budget', [], 30, 'stopped-crowded'],
    ];
    for (const [name, others, needGiB, expected] of table) {
      it(`${name} → ${expected}`, function () {
        expect(stoppedCost(node('p', others, { budgets }), { vram: needGiB * GiB })).to.equal(expected);
      });
    }
  });

  describe('ranking (rule 10 and exclusions)', function () {
    const rank = (nodes: NodeStatus[]): string[] => rankCandidates('m', nodes, 4).map((candidate) => `${candidate.node}:${candidate.cost}`);
    const table: [string, NodeStatus[], string[]][] = [
      ['ready here beats ready on a peer', [node('self', [model('m', 'ready')]), node('b', [model('m', 'ready')])], ['self:ready-self', 'b:ready-peer']],
      ['a peer with room beats this node at its limit', [node('self', [model('m', 'ready', { inFlight: 4 })]), node('b', [model('m', 'ready')])], ['b:ready-peer', 'self:ready-busy']],
      [
        'asleep on b beats stopped here (the wake-not-cold-start rule)',
        [node('self', [model('m', 'stopped')]), node('b', [model('m', 'asleep', { asleepLevel: 2 })]), node('c', [model('m', 'stopped')])],
        ['b:asleep-2', 'self:stopped-fits', 'c:stopped-fits'],
      ],
      ['level 1 before level 2', [node('b', [model('m', 'asleep', { asleepLevel: 2 })]), node('c', [model('m', 'asleep', { asleepLevel: 1 })]), node('self', [model('m', 'stopped')])], ['c:asleep-1', 'b:asleep-2', 'self:stopped-fits']],
      ['waking beats asleep', [node('self', [model('m', 'asleep')]), node('b', [model('m', 'waking')])], ['b:waking', 'self:asleep-1']],
      ['queue length breaks ties', [node('self', [model('m', 'ready', { inFlight: 5 })]), node('b', [model('m', 'ready', { inFlight: 6 })]), node('c', [model('m', 'ready', { inFlight: 3, queued: 1 })])], ['c:ready-busy', 'self:ready-busy', 'b:ready-busy']],
      ['this node first among equals', [node('b', [model('m', 'asleep')]), node('self', [model('m', 'asleep')])], ['self:asleep-1', 'b:asleep-1']],
      ['forwards in flight count as load', [node('self', [model('m', 'asleep')]), node('b', [model('m', 'asleep')], { pending: 2 }), node('c', [model('m', 'asleep')], { pending: 1 })], ['self:asleep-1', 'c:asleep-1', 'b:asleep-1']],
      ['a down peer and a peer without the model are no candidates', [node('self', [model('m', 'stopped')]), node('b', [model('m', 'ready')], { up: false }), node('c', [model('other', 'ready')])], ['self:stopped-fits']],
      [
        'stopped where it fits beats stopped where it would evict',
        [node('self', [model('m', 'stopped'), model('x', 'ready')], { budgets: { vram: 15 * GiB } }), node('b', [model('m', 'stopped')], { budgets: { vram: 40 * GiB } })],
        ['b:stopped-fits', 'self:stopped-evicts'],
      ],
    ];
    for (const [name, nodes, expected] of table) {
      it(name, function () {
        expect(rank(nodes)).to.deep.equal(expected);
      });
    }
  });

  describe('incoming requests', function () {
    const table: [string | undefined, boolean, string][] = [
      [undefined, false, 'route'],
      [undefined, true, 'route'],
      ['http://b:8080', true, 'serve'],
      ['http://b:8080', false, 'unauthorized'],
      ['http://self:8080', true, 'loop'],
      ['http://b:8080, http://c:8080', true, 'loop'],
    ];
    for (const [forwardedBy, keyValid, expected] of table) {
      it(`forwarded by ${String(forwardedBy)}, key ${keyValid ? 'valid' : 'wrong'} → ${expected}`, function () {
        expect(incomingVerdict({ forwardedBy, keyValid, self: 'http://self:8080' })).to.equal(expected);
      });
    }
  });
});

import { expect } from 'chai';
import { planByBudget } from '../../../lib/scheduler/budget.js';
import type { ModelView } from '../../../lib/scheduler/plan.js';
import { Driver, evict, GiB, grant, group, load, model, position, startFailed } from './helpers.js';

/** A 10 GiB model that keeps 1 GiB of VRAM and `asleepRam` of RAM when asleep. */
const m10 = (id: string, asleepRam = 0, canSleep = true) =>
  model(id, { canSleep, resources: { vram: 10 * GiB, ram: 1 * GiB, asleep: { vram: 1 * GiB, ram: asleepRam } } });

describe('scheduler / budget mode', () => {
  it('loads without evicting while it fits; group rules are ignored', () => {
    const d = new Driver({ models: [m10('A'), m10('B')], groups: [group('g', ['A', 'B'])], budgets: { vram: 24 * GiB } });
    d.set('A', 'ready');
    expect(d.request('r1', 'B')).to.deep.equal([load('B'), position('r1', 1)]);
    expect(d.loaded('B')).to.deep.equal([grant('r1', 'B')]);
    expect(d.scheduler.snapshot()).to.deep.include({ mode: 'budgets', usage: { vram: 20 * GiB, ram: 2 * GiB }, budgets: { vram: 24 * GiB } });
  });

  for (const { lastUsed, victim } of [
    { lastUsed: { A: 1, B: 2 }, victim: 'A' },
    { lastUsed: { A: 2, B: 1 }, victim: 'B' },
  ]) {
    it(`evicts the least recently used idle model (${victim}) until the newcomer fits`, () => {
      const d = Driver.budgets([m10('A'), m10('B'), m10('C')], { vram: 24 * GiB });
      d.set('A', 'ready');
      d.set('B', 'ready');
      // Use in ascending time order so the clock never goes back.
      for (const [id, at] of Object.entries(lastUsed).sort((x, y) => x[1] - y[1])) d.use(id, at);
      expect(d.request('r1', 'C', 3)).to.deep.equal([evict(victim, 'sleep'), position('r1', 1)]);
      expect(d.scheduler.snapshot().usage, 'releasing still counts as awake').to.deep.equal({ vram: 20 * GiB, ram: 2 * GiB });
      expect(d.released(victim, 'asleep')).to.deep.equal([load('C')]);
      expect(d.loaded('C')).to.deep.equal([grant('r1', 'C')]);
      expect(d.scheduler.snapshot().usage).to.deep.equal({ vram: 21 * GiB, ram: 2 * GiB });
    });
  }

  const sleepOrStop: { name: string; asleepRam: number; canSleep: boolean; ramBudget: number; action: 'sleep' | 'stop' }[] = [
    { name: 'sleeps when the sleeper’s RAM fits the RAM budget', asleepRam: 16 * GiB, canSleep: true, ramBudget: 32 * GiB, action: 'sleep' },
    { name: 'stops when the sleeper’s RAM would overflow the RAM budget', asleepRam: 16 * GiB, canSleep: true, ramBudget: 16 * GiB, action: 'stop' },
    { name: 'stops a model that cannot sleep', asleepRam: 0, canSleep: false, ramBudget: 32 * GiB, action: 'stop' },
  ];
  for (const { name, asleepRam, canSleep, ramBudget, action } of sleepOrStop) {
    it(name, () => {
      const d = Driver.budgets([m10('A', asleepRam, canSleep), m10('B')], { vram: 16 * GiB, ram: ramBudget });
      d.set('A', 'ready');
      expect(d.request('r1', 'B')).to.deep.equal([evict('A', action), position('r1', 1)]);
    });
  }

  it('stops a model that is already asleep when its RAM is what is in the way', () => {
    const d = Driver.budgets([m10('A', 20 * GiB), m10('B')], { vram: 24 * GiB, ram: 20 * GiB });
    d.set('A', 'asleep');
    expect(d.request('r1', 'B')).to.deep.equal([evict('A', 'stop'), position('r1', 1)]);
    expect(d.released('A', 'stopped')).to.deep.equal([load('B')]);
  });

  it('counts the target’s own asleep footprint as freed when it wakes', () => {
    const d = Driver.budgets([m10('A', 4 * GiB)], { vram: 10 * GiB, ram: 4 * GiB });
    d.set('A', 'asleep');
    expect(d.request('r1', 'A')).to.deep.equal([load('A'), position('r1', 1)]);
  });

  it('rejects a model that can never fit, naming the budget', () => {
    const d = Driver.budgets([model('big', { resources: { vram: 30 * GiB } })], { vram: 24 * GiB });
    expect(d.request('r1', 'big')).to.deep.equal([startFailed('r1', 'model "big" needs 30.0 GiB of VRAM, more than the whole budget of 24.0 GiB')]);
    expect(d.state('big')).to.equal('stopped');
  });

  it('waits for a busy model instead of evicting it, then evicts it when it is done', () => {
    const d = Driver.budgets([m10('A'), m10('B')], { vram: 16 * GiB });
    d.set('A', 'ready');
    d.request('a1', 'A', 1);
    expect(d.request('b1', 'B', 2)).to.deep.equal([position('b1', 1)]);
    expect(d.done('a1', 3)).to.deep.equal([evict('A', 'sleep')]);
    expect(d.released('A', 'asleep')).to.deep.equal([load('B')]);
  });

  it('evicts nothing while the room it needs includes a busy model (all or nothing)', () => {
    const d = Driver.budgets([m10('A'), m10('B'), m10('C')], { vram: 16 * GiB });
    d.set('A', 'ready');
    d.set('C', 'ready');
    d.use('C', 1);
    d.request('a1', 'A', 2);
    // Stopping idle C leaves 10 + 10 > 16 GiB: C stays until A is done too.
    expect(d.request('b1', 'B', 3)).to.deep.equal([position('b1', 1)]);
    expect(d.done('a1', 4)).to.deep.equal([evict('C', 'sleep'), evict('A', 'sleep')]);
    expect(d.released('C', 'asleep')).to.deep.equal([]);
    expect(d.released('A', 'asleep')).to.deep.equal([load('B')]);
  });

  it('stops an idle model rather than waiting when stopping is enough', () => {
    const d = Driver.budgets([m10('A'), m10('B'), m10('C')], { vram: 20 * GiB });
    d.set('A', 'ready');
    d.set('C', 'ready');
    d.request('a1', 'A', 1);
    // Sleeping C leaves 10 + 1 + 10 = 21 > 20 GiB; stopping it leaves 20.
    expect(d.request('b1', 'B', 2)).to.deep.equal([evict('C', 'stop'), position('b1', 1)]);
    expect(d.released('C', 'stopped')).to.deep.equal([load('B')]);
  });

  it('admits waiters strictly in queue order: a small model does not overtake a waiting swap', () => {
    const small = model('S', { resources: { vram: 2 * GiB } });
    const d = Driver.budgets([m10('A'), m10('B'), small], { vram: 16 * GiB });
    d.set('A', 'ready');
    d.request('a1', 'A', 1);
    expect(d.request('b1', 'B', 2)).to.deep.equal([position('b1', 1)]);
    expect(d.request('s1', 'S', 3)).to.deep.equal([position('s1', 2)]);
    expect(d.done('a1', 4)).to.deep.equal([evict('A', 'sleep')]);
    // Once B is loading, S no longer waits behind it: 1 (A asleep) + 10 (B) + 2 (S) = 13 GiB.
    expect(d.released('A', 'asleep')).to.deep.equal([load('B'), load('S')]);
    expect(d.loaded('B')).to.deep.equal([grant('b1', 'B'), position('s1', 1)]);
    expect(d.loaded('S')).to.deep.equal([grant('s1', 'S')]);
  });

  describe('planByBudget', () => {
    const view = (id: string, state: ModelView['state'], extra: Partial<ModelView> = {}): ModelView => ({
      id,
      index: 0,
      group: group('g', [id]),
      canSleep: true,
      priority: 0,
      resources: { vram: 10 * GiB, asleep: { vram: 1 * GiB } },
      state,
      releasingTo: state === 'releasing' ? 'asleep' : null,
      releasingFrom: state === 'releasing' ? 'awake' : null,
      inFlight: 0,
      lastUsedAt: 0,
      ...extra,
    });

    it('waits without new evictions when a release under way will make room', () => {
      const target = view('T', 'stopped');
      expect(planByBudget(target, [target, view('A', 'releasing')], { vram: 12 * GiB })).to.deep.equal({ kind: 'wait', needs: [] });
    });

    it('names the ready models a waiter needs evicted, busy or idle, least recently used first', () => {
      const target = view('T', 'stopped');
      const models = [target, view('A', 'ready', { inFlight: 1, lastUsedAt: 5, index: 1 }), view('B', 'ready', { lastUsedAt: 1, index: 2 })];
      expect(planByBudget(target, models, { vram: 10 * GiB })).to.deep.equal({ kind: 'wait', needs: ['B', 'A'] });
    });
  });
});

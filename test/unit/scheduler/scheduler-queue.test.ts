import { expect } from 'chai';
import { Scheduler } from '../../../lib/scheduler/index.js';
import type { SchedulerOptions } from '../../../lib/scheduler/index.js';
import { Driver, evict, grant, group, load, loadFailed, model, position, shuttingDown } from './helpers.js';

describe('scheduler / queue', () => {
  const swapGroup = (ids: readonly string[], priorities: Record<string, number> = {}, extra: Partial<SchedulerOptions> = {}) =>
    Driver.groups(
      ids.map((id) => model(id, { priority: priorities[id] ?? 0 })),
      [group('g', ids)],
      extra,
    );

  it('A B A B with A ready collates to A A B B: one swap, not one per request', () => {
    const d = swapGroup(['A', 'B']);
    d.set('A', 'ready');
    expect(d.request('a1', 'A', 0)).to.deep.equal([grant('a1', 'A')]);
    expect(d.request('b1', 'B', 1)).to.deep.equal([position('b1', 1)]);
    expect(d.request('a2', 'A', 2)).to.deep.equal([grant('a2', 'A')]);
    expect(d.request('b2', 'B', 3)).to.deep.equal([position('b2', 2)]);
    expect(d.done('a1', 4)).to.deep.equal([]);
    expect(d.done('a2', 5)).to.deep.equal([evict('A', 'sleep')]);
    // The swap is decided: new requests for A queue behind it.
    expect(d.request('a3', 'A', 6)).to.deep.equal([position('a3', 3)]);
    expect(d.released('A', 'asleep')).to.deep.equal([load('B')]);
    expect(d.loaded('B')).to.deep.equal([grant('b1', 'B'), grant('b2', 'B'), position('a3', 1)]);
    expect(d.done('b1', 7)).to.deep.equal([]);
    expect(d.done('b2', 8)).to.deep.equal([evict('B', 'sleep')]);
    expect(d.released('B', 'asleep')).to.deep.equal([load('A')]);
    expect(d.loaded('A')).to.deep.equal([grant('a3', 'A')]);
  });

  it('orders waiters by priority, FIFO among equals, and reports position changes', () => {
    const d = swapGroup(['X', 'B', 'H'], { H: 5 });
    d.set('X', 'ready');
    d.request('r0', 'X');
    expect(d.request('r1', 'B', 1)).to.deep.equal([position('r1', 1)]);
    expect(d.request('r2', 'H', 2)).to.deep.equal([position('r2', 1), position('r1', 2)]);
    expect(d.request('r3', 'B', 3)).to.deep.equal([position('r3', 3)]);
    expect(d.scheduler.snapshot().queue.map((q) => [q.requestId, q.position])).to.deep.equal([
      ['r2', 1],
      ['r1', 2],
      ['r3', 3],
    ]);
    expect(d.done('r0', 4)).to.deep.equal([evict('X', 'sleep')]);
    expect(d.released('X', 'asleep')).to.deep.equal([load('H')]);
    expect(d.loaded('H')).to.deep.equal([grant('r2', 'H'), position('r1', 1), position('r3', 2)]);
    expect(d.done('r2', 5)).to.deep.equal([evict('H', 'sleep')]);
    expect(d.released('H', 'asleep')).to.deep.equal([load('B')]);
    expect(d.loaded('B')).to.deep.equal([grant('r1', 'B'), grant('r3', 'B')]);
  });

  it('a waiter of higher priority stops new requests for the busy model it needs evicted', () => {
    const d = swapGroup(['A', 'H'], { H: 5 });
    d.set('A', 'ready');
    d.request('a1', 'A');
    expect(d.request('h1', 'H', 1)).to.deep.equal([position('h1', 1)]);
    expect(d.request('a2', 'A', 2)).to.deep.equal([position('a2', 2)]);
    expect(d.done('a1', 3)).to.deep.equal([evict('A', 'sleep')]);
  });

  describe('anti-starvation (maxBypassMs)', () => {
    it('serves new requests for the busy model ahead of a waiter only within the window', () => {
      const d = swapGroup(['A', 'B'], {}, { maxBypassMs: 1000 });
      d.set('A', 'ready');
      d.request('a1', 'A', 0);
      expect(d.request('b1', 'B', 0)).to.deep.equal([position('b1', 1)]);
      expect(d.request('a2', 'A', 999)).to.deep.equal([grant('a2', 'A')]);
      expect(d.request('a3', 'A', 1000), 'b1 waited 1000 ms: A is drained').to.deep.equal([position('a3', 2)]);
      expect(d.done('a1', 1001)).to.deep.equal([]);
      expect(d.done('a2', 1002)).to.deep.equal([evict('A', 'sleep')]);
      expect(d.released('A', 'asleep')).to.deep.equal([load('B')]);
      expect(d.loaded('B')).to.deep.equal([grant('b1', 'B'), position('a3', 1)]);
    });

    it('serves the held-back requests at once when the waiter that held them back leaves', () => {
      const d = swapGroup(['A', 'B'], {}, { maxBypassMs: 1000 });
      d.set('A', 'ready');
      d.request('a1', 'A', 0);
      d.request('b1', 'B', 0);
      expect(d.request('a2', 'A', 2000)).to.deep.equal([position('a2', 2)]);
      expect(d.cancel('b1')).to.deep.equal([grant('a2', 'A')]);
    });

    it('maxBypassMs: Infinity always serves the ready model first', () => {
      const d = swapGroup(['A', 'B'], {}, { maxBypassMs: Infinity });
      d.set('A', 'ready');
      d.request('a1', 'A', 0);
      d.request('b1', 'B', 0);
      expect(d.request('a2', 'A', 10 ** 9)).to.deep.equal([grant('a2', 'A')]);
    });
  });

  describe('cancel', () => {
    it('removes a queued request and moves the others up', () => {
      const d = swapGroup(['A']);
      expect(d.request('r1', 'A')).to.deep.equal([load('A'), position('r1', 1)]);
      expect(d.request('r2', 'A')).to.deep.equal([position('r2', 2)]);
      expect(d.cancel('r1')).to.deep.equal([position('r2', 1)]);
      expect(d.loaded('A')).to.deep.equal([grant('r2', 'A')]);
    });

    it('drops a swap that only the cancelled request wanted', () => {
      const d = swapGroup(['A', 'B']);
      d.set('A', 'ready');
      d.request('a1', 'A');
      expect(d.request('b1', 'B')).to.deep.equal([position('b1', 1)]);
      expect(d.cancel('b1')).to.deep.equal([]);
      expect(d.done('a1'), 'no eviction, no load').to.deep.equal([]);
      expect(d.state('A')).to.equal('ready');
      expect(d.state('B')).to.equal('stopped');
    });

    it('lets a load already issued complete', () => {
      const d = swapGroup(['A']);
      d.request('r1', 'A');
      expect(d.cancel('r1')).to.deep.equal([]);
      expect(d.loaded('A')).to.deep.equal([]);
      expect(d.state('A')).to.equal('ready');
    });

    it('counts as serve-done for a granted request', () => {
      const d = swapGroup(['A', 'B']);
      d.set('A', 'ready');
      d.request('a1', 'A');
      d.request('b1', 'B');
      expect(d.cancel('a1')).to.deep.equal([evict('A', 'sleep')]);
      expect(d.cancel('unknown')).to.deep.equal([]);
    });
  });

  it('a failed load rejects every waiter of the model, the failure as cause; the next request tries again', () => {
    const d = swapGroup(['A']);
    d.request('r1', 'A');
    d.request('r2', 'A');
    expect(d.failed('A', 'exited with code 1')).to.deep.equal([loadFailed('r1', 'exited with code 1'), loadFailed('r2', 'exited with code 1')]);
    expect(d.state('A')).to.equal('stopped');
    expect(d.request('r3', 'A')).to.deep.equal([load('A'), position('r3', 1)]);
  });

  it('a failed load lets the next waiting model proceed', () => {
    const d = Driver.groups([model('A'), model('B')], [group('a', ['A'], { exclusive: false }), group('b', ['B'])]);
    d.request('r1', 'A');
    expect(d.request('r2', 'B'), 'B (exclusive) waits for loading A').to.deep.equal([position('r2', 2)]);
    expect(d.failed('A', 'boom')).to.deep.equal([loadFailed('r1', 'boom'), load('B'), position('r2', 1)]);
  });

  it('shutdown rejects everything queued and everything after; in-flight requests finish', () => {
    const d = swapGroup(['A', 'B', 'C']);
    d.set('A', 'ready');
    d.request('r0', 'A');
    d.request('r1', 'B');
    d.request('r2', 'C');
    expect(d.shutdown()).to.deep.equal([shuttingDown('r1'), shuttingDown('r2')]);
    expect(d.request('r3', 'A')).to.deep.equal([shuttingDown('r3')]);
    expect(d.done('r0')).to.deep.equal([]);
    expect(d.scheduler.snapshot()).to.include({ shuttingDown: true });
  });

  describe('external state changes', () => {
    it('an idle step that sleeps the model makes new requests wait for the release, then wake it', () => {
      const d = swapGroup(['A']);
      d.set('A', 'ready');
      expect(d.report('A', 'sleeping')).to.deep.equal([]);
      expect(d.request('r1', 'A')).to.deep.equal([position('r1', 1)]);
      expect(d.released('A', 'asleep')).to.deep.equal([load('A')]);
      expect(d.loaded('A')).to.deep.equal([grant('r1', 'A')]);
    });

    it('a model that stops while requests wait for it is planned again', () => {
      const d = swapGroup(['A']);
      d.report('A', 'starting'); // a start the scheduler did not ask for (a process adopted on a reload)
      expect(d.request('r1', 'A')).to.deep.equal([position('r1', 1)]);
      expect(d.set('A', 'stopped')).to.deep.equal([load('A')]);
    });

    it('a model made ready outside the scheduler serves its waiters', () => {
      const d = swapGroup(['A', 'B']);
      d.set('B', 'ready');
      d.request('b1', 'B');
      d.request('a1', 'A');
      expect(d.set('A', 'ready')).to.deep.equal([grant('a1', 'A')]);
    });
  });

  it('snapshot shows each model with state, in-flight, queued and last use, and the queue with positions', () => {
    const d = swapGroup(['A', 'B']);
    d.set('A', 'ready');
    d.request('a1', 'A', 100);
    d.request('b1', 'B', 200);
    const snapshot = d.scheduler.snapshot();
    expect(snapshot.mode).to.equal('groups');
    expect(snapshot.models).to.deep.equal([
      { id: 'A', group: 'g', state: 'ready', releasingTo: null, inFlight: 1, queued: 0, lastUsedAt: 100 },
      { id: 'B', group: 'g', state: 'stopped', releasingTo: null, inFlight: 0, queued: 1, lastUsedAt: null },
    ]);
    expect(snapshot.queue).to.deep.equal([{ requestId: 'b1', model: 'B', priority: 0, queuedAt: 200, position: 1 }]);
    expect(snapshot.usage).to.equal(null);
    d.done('a1', 300);
    expect(d.scheduler.snapshot().models[0]).to.include({ state: 'releasing', releasingTo: 'asleep', inFlight: 0, lastUsedAt: 300 });
  });

  it('rejects an unknown model and a reused request id as programming errors', () => {
    const d = swapGroup(['A']);
    expect(() => d.request('r1', 'nope')).to.throw(/unknown model "nope"/);
    d.request('r1', 'A');
    expect(() => d.request('r1', 'A')).to.throw(/already known/);
  });

  describe('options are checked at construction', () => {
    const cases: { name: string; options: SchedulerOptions; message: RegExp }[] = [
      { name: 'duplicate model', options: { models: [model('A'), model('A')], groups: [group('g', ['A'])] }, message: /model "A" is listed twice/ },
      { name: 'unknown member', options: { models: [model('A')], groups: [group('g', ['A', 'Z'])] }, message: /group "g" lists unknown model "Z"/ },
      {
        name: 'model in two groups',
        options: { models: [model('A')], groups: [group('g', ['A']), group('h', ['A'])] },
        message: /model "A" is in groups "g" and "h"/,
      },
      { name: 'model in no group', options: { models: [model('A'), model('B')], groups: [group('g', ['A'])] }, message: /model "B" is in no group/ },
      { name: 'negative budget', options: { models: [], groups: [], budgets: { vram: -1 } }, message: /budget vram must be a number of bytes >= 0/ },
      { name: 'negative maxBypassMs', options: { models: [], groups: [], maxBypassMs: -5 }, message: /maxBypassMs must be >= 0/ },
    ];
    for (const { name, options, message } of cases) {
      it(name, () => {
        expect(() => new Scheduler(options)).to.throw(message);
      });
    }
  });
});

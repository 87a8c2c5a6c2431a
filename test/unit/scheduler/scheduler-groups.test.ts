import { expect } from 'chai';
import { Driver, evict, grant, group, load, model, position } from './helpers.js';

describe('scheduler / group mode', () => {
  const swapPair = (canSleepA = true) => Driver.groups([model('A', { canSleep: canSleepA }), model('B')], [group('g', ['A', 'B'])]);

  it('grants a request for a ready model at once', () => {
    const d = swapPair();
    expect(d.set('A', 'ready')).to.deep.equal([]);
    expect(d.request('r1', 'A')).to.deep.equal([grant('r1', 'A')]);
    expect(d.scheduler.snapshot().models[0]).to.include({ id: 'A', state: 'ready', inFlight: 1 });
  });

  it('cold-loads a stopped model once and grants every waiter when it is ready', () => {
    const d = swapPair();
    expect(d.request('r1', 'A')).to.deep.equal([load('A'), position('r1', 1)]);
    expect(d.request('r2', 'A'), 'second request shares the load').to.deep.equal([position('r2', 2)]);
    expect(d.state('A')).to.equal('loading');
    expect(d.loaded('A')).to.deep.equal([grant('r1', 'A'), grant('r2', 'A')]);
    expect(d.request('r3', 'A')).to.deep.equal([grant('r3', 'A')]);
  });

  for (const { canSleep, action, to } of [
    { canSleep: true, action: 'sleep', to: 'asleep' },
    { canSleep: false, action: 'stop', to: 'stopped' },
  ] as const) {
    it(`swap group: evicts the loaded member with ${action} (canSleep ${canSleep}), then loads the other`, () => {
      const d = swapPair(canSleep);
      d.set('A', 'ready');
      expect(d.request('r1', 'B')).to.deep.equal([evict('A', action), position('r1', 1)]);
      expect(d.state('A')).to.equal('releasing');
      expect(d.released('A', to)).to.deep.equal([load('B')]);
      expect(d.loaded('B')).to.deep.equal([grant('r1', 'B')]);
      expect(d.state('A')).to.equal(to);
    });
  }

  it('swap group: an asleep member is not in the way and is not evicted again', () => {
    const d = swapPair();
    d.set('A', 'asleep');
    expect(d.request('r1', 'B')).to.deep.equal([load('B'), position('r1', 1)]);
  });

  it('swap group: an asleep member being stopped is not in the way either', () => {
    const d = swapPair();
    d.set('A', 'asleep');
    expect(d.report('A', 'stopping')).to.deep.equal([]);
    expect(d.request('r1', 'B')).to.deep.equal([load('B'), position('r1', 1)]);
  });

  it('exclusive group: loading a member evicts every loaded member of the other groups', () => {
    const d = Driver.groups(
      [model('A'), model('B'), model('C', { canSleep: false })],
      [group('x', ['A']), group('y', ['B', 'C'], { swap: false, exclusive: false })],
    );
    d.set('B', 'ready');
    d.set('C', 'ready');
    expect(d.request('r1', 'A')).to.deep.equal([evict('B', 'sleep'), evict('C', 'stop'), position('r1', 1)]);
    expect(d.released('B', 'asleep'), 'waits for every release').to.deep.equal([]);
    expect(d.released('C', 'stopped')).to.deep.equal([load('A')]);
  });

  it('a member of a non-exclusive group loads beside a member of an exclusive group', () => {
    const d = Driver.groups([model('A'), model('B')], [group('x', ['A']), group('y', ['B'], { exclusive: false })]);
    d.set('A', 'ready');
    expect(d.request('r1', 'B')).to.deep.equal([load('B'), position('r1', 1)]);
  });

  it('persistent group: never evicted by an exclusive group', () => {
    const d = Driver.groups([model('A'), model('P'), model('C')], [group('x', ['A']), group('p', ['P'], { persistent: true }), group('z', ['C'])]);
    d.set('P', 'ready');
    d.set('C', 'ready');
    expect(d.request('r1', 'A')).to.deep.equal([evict('C', 'sleep'), position('r1', 1)]);
    expect(d.released('C', 'asleep')).to.deep.equal([load('A')]);
    expect(d.loaded('A')).to.deep.equal([grant('r1', 'A')]);
    expect(d.state('P')).to.equal('ready');
  });

  it('non-swap group: members run together', () => {
    const d = Driver.groups([model('A'), model('B')], [group('g', ['A', 'B'], { swap: false })]);
    d.set('A', 'ready');
    expect(d.request('r1', 'B')).to.deep.equal([load('B'), position('r1', 1)]);
    expect(d.loaded('B')).to.deep.equal([grant('r1', 'B')]);
    expect(d.request('r2', 'A')).to.deep.equal([grant('r2', 'A')]);
  });

  it('never evicts a model with requests in flight: the newcomer waits, then proceeds after serve-done', () => {
    const d = swapPair();
    d.set('A', 'ready');
    expect(d.request('r1', 'A')).to.deep.equal([grant('r1', 'A')]);
    expect(d.request('r2', 'B')).to.deep.equal([position('r2', 1)]);
    expect(d.state('A')).to.equal('ready');
    expect(d.done('r1')).to.deep.equal([evict('A', 'sleep')]);
    expect(d.released('A', 'asleep')).to.deep.equal([load('B')]);
    expect(d.loaded('B')).to.deep.equal([grant('r2', 'B')]);
  });

  it('waits for a loading model to load and drain before evicting it', () => {
    const d = swapPair();
    expect(d.request('r1', 'A')).to.deep.equal([load('A'), position('r1', 1)]);
    expect(d.request('r2', 'B')).to.deep.equal([position('r2', 2)]);
    expect(d.loaded('A')).to.deep.equal([grant('r1', 'A'), position('r2', 1)]);
    expect(d.done('r1')).to.deep.equal([evict('A', 'sleep')]);
  });

  it('all or nothing: idle victims are not evicted while another victim is busy', () => {
    const d = Driver.groups([model('A'), model('B'), model('C')], [group('x', ['A']), group('y', ['B', 'C'], { swap: false, exclusive: false })]);
    d.set('B', 'ready');
    d.set('C', 'ready');
    d.request('r1', 'B');
    expect(d.request('r2', 'A')).to.deep.equal([position('r2', 1)]);
    expect(d.done('r1')).to.deep.equal([evict('B', 'sleep'), evict('C', 'sleep')]);
  });

  it('a later request overtakes a waiting swap when the waiting model would not evict it', () => {
    const d = Driver.groups([model('A'), model('B'), model('C')], [group('g', ['A', 'B'], { exclusive: false }), group('h', ['C'], { exclusive: false })]);
    d.set('A', 'ready');
    d.request('r1', 'A');
    expect(d.request('r2', 'B')).to.deep.equal([position('r2', 1)]);
    expect(d.request('r3', 'C')).to.deep.equal([load('C'), position('r3', 2)]);
    expect(d.loaded('C'), 'r2 keeps position 1: no position effect').to.deep.equal([grant('r3', 'C')]);
    expect(d.done('r1')).to.deep.equal([evict('A', 'sleep')]);
  });

  it('a later request does not overtake a waiting swap that would have to evict it again', () => {
    const d = Driver.groups([model('A'), model('B'), model('C')], [group('g', ['A', 'B', 'C'])]);
    d.set('A', 'ready');
    d.request('r1', 'A');
    expect(d.request('r2', 'B')).to.deep.equal([position('r2', 1)]);
    expect(d.request('r3', 'C')).to.deep.equal([position('r3', 2)]);
    expect(d.done('r1')).to.deep.equal([evict('A', 'sleep')]);
    expect(d.released('A', 'asleep')).to.deep.equal([load('B')]);
    expect(d.loaded('B')).to.deep.equal([grant('r2', 'B'), position('r3', 1)]);
    expect(d.done('r2')).to.deep.equal([evict('B', 'sleep')]);
    expect(d.released('B', 'asleep')).to.deep.equal([load('C')]);
    expect(d.loaded('C')).to.deep.equal([grant('r3', 'C')]);
  });
});

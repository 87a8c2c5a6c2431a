/**
 * Rule 10: the scheduler learns every model state from one stream of `state` events, and tells the
 * end of a load or eviction it asked for from that stream alone (lib/scheduler/scheduler.ts).
 */
import { expect } from 'chai';
import { Driver, evict, grant, group, load, loadFailed, model, position } from './helpers.js';

describe('scheduler / one state stream (rule 10)', () => {
  const swapPair = (): Driver => Driver.groups([model('A'), model('B')], [group('g', ['A', 'B'])]);

  it('a load it asked for ends at ready, whatever steps come between (a failed wake: stop, then a cold start)', () => {
    const d = swapPair();
    d.set('A', 'asleep');
    expect(d.request('r1', 'A')).to.deep.equal([load('A'), position('r1', 1)]);
    for (const step of ['waking', 'stopping', 'stopped', 'starting'] as const) {
      expect(d.report('A', step), step).to.deep.equal([]);
      expect(d.state('A'), `still loading after ${step}`).to.equal('loading');
    }
    expect(d.loaded('A')).to.deep.equal([grant('r1', 'A')]);
    expect(d.state('A')).to.equal('ready');
  });

  it('a load it asked for fails at the stop that carries a failure, not at the stop of a failed wake', () => {
    const d = swapPair();
    d.set('A', 'asleep');
    d.request('r1', 'A');
    d.report('A', 'waking');
    expect(d.report('A', 'stopping')).to.deep.equal([]);
    expect(d.report('A', 'stopped'), 'the wake fell back to a cold start').to.deep.equal([]);
    d.report('A', 'starting');
    expect(d.failed('A', 'exited with code 1')).to.deep.equal([loadFailed('r1', 'exited with code 1')]);
    expect(d.state('A')).to.equal('stopped');
  });

  it('hands the failure back untouched as the cause of each rejection', () => {
    const d = swapPair();
    d.request('r1', 'A');
    const failure = new Error('port in use');
    const [rejection] = d.scheduler.handle({ type: 'state', model: 'A', state: 'stopped', failure });
    expect(rejection).to.include({ type: 'reject', requestId: 'r1', code: 'start_failed', message: 'port in use' });
    expect(rejection).to.have.property('cause').that.equals(failure);
  });

  it('a failed start it did not ask for rejects nobody: the model is planned again (a process adopted while starting)', () => {
    const d = swapPair();
    expect(d.report('A', 'starting')).to.deep.equal([]);
    expect(d.request('r1', 'A'), 'waits for the start under way').to.deep.equal([position('r1', 1)]);
    expect(d.failed('A', 'boom')).to.deep.equal([load('A')]);
    expect(d.failed('A', 'boom again'), 'this load it asked for').to.deep.equal([loadFailed('r1', 'boom again')]);
  });

  it('after the load ended, a stop is a change like any other: a crash rejects nobody', () => {
    const d = swapPair();
    d.request('r1', 'A');
    expect(d.loaded('A')).to.deep.equal([grant('r1', 'A')]);
    expect(d.request('r2', 'B'), 'A is busy').to.deep.equal([position('r2', 1)]);
    expect(d.report('A', 'stopped'), 'A crashed: B loads, nobody is rejected').to.deep.equal([load('B')]);
    expect(d.state('A')).to.equal('stopped');
    expect(d.done('r1')).to.deep.equal([]);
  });

  it('a shutdown of the process ends a load it asked for without rejecting (the gateway shutdown event does that)', () => {
    const d = swapPair();
    d.request('r1', 'A');
    expect(d.report('A', 'shutdown')).to.deep.equal([load('A')]);
  });

  it('an eviction it asked for ends when the process rests: a sleep that fails and stops instead', () => {
    const d = swapPair();
    d.set('A', 'ready');
    expect(d.request('r1', 'B')).to.deep.equal([evict('A', 'sleep'), position('r1', 1)]);
    expect(d.report('A', 'sleeping')).to.deep.equal([]);
    expect(d.report('A', 'stopping'), 'the sleep failed: a stop instead').to.deep.equal([]);
    expect(d.scheduler.snapshot().models[0]).to.include({ state: 'releasing', releasingTo: 'stopped' });
    expect(d.released('A', 'stopped')).to.deep.equal([load('B')]);
  });

  it('an eviction to sleep ends at asleep', () => {
    const d = swapPair();
    d.set('A', 'ready');
    d.request('r1', 'B');
    expect(d.report('A', 'sleeping')).to.deep.equal([]);
    expect(d.state('A')).to.equal('releasing');
    expect(d.released('A', 'asleep')).to.deep.equal([load('B')]);
    expect(d.loaded('B')).to.deep.equal([grant('r1', 'B')]);
  });
});

/**
 * `grantsAtOnce` is the hot path's question ("would a request for this model be granted now?"): it
 * must answer exactly what `handle({type: 'request'})` then does, and change nothing itself.
 */
import { expect } from 'chai';
import { Driver, group, model } from './helpers.js';

function swapPair(options: { readonly maxBypassMs?: number; readonly priorityB?: number } = {}): Driver {
  return Driver.groups([model('A'), model('B', { priority: options.priorityB ?? 0 })], [group('g', ['A', 'B'])], options.maxBypassMs !== undefined ? { maxBypassMs: options.maxBypassMs } : {});
}

/** Ask, check that asking changed nothing, then send the request and compare with what it did. */
function askThenRequest(d: Driver, requestId: string, m: string, at: number): boolean {
  const before = JSON.stringify(d.scheduler.snapshot());
  const answer = d.scheduler.grantsAtOnce(m, at);
  expect(JSON.stringify(d.scheduler.snapshot()), 'grantsAtOnce changes nothing').to.equal(before);
  const granted = d.request(requestId, m, at).some((effect) => effect.type === 'grant' && effect.requestId === requestId);
  expect(granted, `grantsAtOnce(${m}, ${at}) said ${answer}, the request was ${granted ? '' : 'not '}granted`).to.equal(answer);
  return answer;
}

describe('scheduler / grantsAtOnce (the hot path asks before it commits)', () => {
  it('a ready model with nobody waiting: yes', () => {
    const d = swapPair();
    d.set('A', 'ready');
    expect(askThenRequest(d, 'a1', 'A', 0)).to.equal(true);
  });

  it('a stopped, asleep or loading model: no', () => {
    const d = swapPair();
    expect(askThenRequest(d, 'b1', 'B', 0), 'stopped').to.equal(false);
    expect(d.scheduler.grantsAtOnce('B', 0), 'loading').to.equal(false);
    d.set('A', 'asleep');
    expect(askThenRequest(d, 'a1', 'A', 0), 'asleep').to.equal(false);
  });

  it('a ready model that a waiter needs evicted: yes within maxBypassMs, no after it', () => {
    const d = swapPair({ maxBypassMs: 1000 });
    d.set('A', 'ready');
    d.request('a1', 'A', 0);
    d.request('b1', 'B', 0);
    expect(askThenRequest(d, 'a2', 'A', 999)).to.equal(true);
    expect(askThenRequest(d, 'a3', 'A', 1000)).to.equal(false);
  });

  it('measures the waiter’s wait up to the time asked, without recording that time', () => {
    const d = swapPair({ maxBypassMs: 1000 });
    d.set('A', 'ready');
    d.request('a1', 'A', 0);
    d.request('b1', 'B', 0);
    expect(d.scheduler.grantsAtOnce('A', 5000)).to.equal(false);
    expect(d.scheduler.grantsAtOnce('A', 10)).to.equal(true);
  });

  it('a ready model that a waiter of higher priority needs evicted: no', () => {
    const d = swapPair({ priorityB: 5 });
    d.set('A', 'ready');
    d.request('a1', 'A', 0);
    d.request('b1', 'B', 1);
    expect(askThenRequest(d, 'a2', 'A', 2)).to.equal(false);
  });

  it('after shutdown: no', () => {
    const d = swapPair();
    d.set('A', 'ready');
    d.shutdown();
    expect(askThenRequest(d, 'a1', 'A', 0)).to.equal(false);
  });

  it('an unknown model is a programming error, as for requests', () => {
    expect(() => swapPair().scheduler.grantsAtOnce('nope', 0)).to.throw(/unknown model "nope"/);
  });
});

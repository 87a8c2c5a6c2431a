import { expect } from 'chai';
import type { SchedulerEffect } from '../../../lib/scheduler/index.js';
import { Driver, evict, GiB, grant, load, model, position } from './helpers.js';

/** A 10 GiB model; `asleep` is what it keeps while it sleeps (by siesta or by itself). */
const m10 = (id: string, asleep?: { vram?: number; ram?: number }) => model(id, { resources: { vram: 10 * GiB, ram: 1 * GiB, ...(asleep ? { asleep } : {}) } });

function selfSleep(d: Driver, m: string, asleep: boolean): SchedulerEffect[] {
  return d.scheduler.handle({ type: 'self-sleep', model: m, asleep });
}

describe('scheduler / self-sleep (rule 9)', () => {
  it('a self-asleep ready model counts as free: a second model loads beside it without an eviction', () => {
    const d = Driver.budgets([m10('A'), m10('B')], { vram: 16 * GiB });
    d.set('A', 'ready');
    expect(selfSleep(d, 'A', true)).to.deep.equal([]);
    expect(d.scheduler.snapshot().usage).to.deep.equal({ vram: 0, ram: 0 });
    expect(d.request('r1', 'B')).to.deep.equal([load('B'), position('r1', 1)]);
    expect(d.loaded('B')).to.deep.equal([grant('r1', 'B')]);
    expect(d.state('A')).to.equal('ready');
  });

  it('without the self-sleep the same request evicts the ready model (the test can fail)', () => {
    const d = Driver.budgets([m10('A'), m10('B')], { vram: 16 * GiB });
    d.set('A', 'ready');
    expect(d.request('r1', 'B')).to.deep.equal([evict('A', 'sleep'), position('r1', 1)]);
  });

  it('counts resources.asleep while self-asleep when given', () => {
    const d = Driver.budgets([m10('A', { vram: 1 * GiB, ram: 2 * GiB }), m10('B')], { vram: 16 * GiB });
    d.set('A', 'ready');
    selfSleep(d, 'A', true);
    expect(d.scheduler.snapshot().usage).to.deep.equal({ vram: 1 * GiB, ram: 2 * GiB });
  });

  it('waking by itself counts the awake figures again', () => {
    const d = Driver.budgets([m10('A'), m10('B')], { vram: 16 * GiB });
    d.set('A', 'ready');
    selfSleep(d, 'A', true);
    selfSleep(d, 'A', false);
    expect(d.scheduler.snapshot().usage).to.deep.equal({ vram: 10 * GiB, ram: 1 * GiB });
    expect(d.request('r1', 'B')).to.deep.equal([evict('A', 'sleep'), position('r1', 1)]);
  });

  it('is ignored unless the model is ready, and ends when the model stops', () => {
    const d = Driver.budgets([m10('A'), m10('B')], { vram: 16 * GiB });
    selfSleep(d, 'A', true); // stopped: ignored
    d.set('A', 'ready');
    expect(d.scheduler.snapshot().usage).to.deep.equal({ vram: 10 * GiB, ram: 1 * GiB });
    selfSleep(d, 'A', true);
    d.set('A', 'stopped');
    d.set('A', 'ready');
    expect(d.scheduler.snapshot().usage, 'a new start is awake').to.deep.equal({ vram: 10 * GiB, ram: 1 * GiB });
  });

  it('is stopped, not put to sleep, when its asleep memory is what is in the way', () => {
    const d = Driver.budgets([m10('A', { vram: 8 * GiB }), m10('B')], { vram: 16 * GiB });
    d.set('A', 'ready');
    selfSleep(d, 'A', true);
    expect(d.request('r1', 'B')).to.deep.equal([evict('A', 'stop'), position('r1', 1)]);
    expect(d.released('A', 'stopped')).to.deep.equal([load('B')]);
  });

  it('keeps serving a self-asleep model at once (it is still ready)', () => {
    const d = Driver.budgets([m10('A')], { vram: 16 * GiB });
    d.set('A', 'ready');
    selfSleep(d, 'A', true);
    expect(d.request('r1', 'A')).to.deep.equal([grant('r1', 'A')]);
  });
});

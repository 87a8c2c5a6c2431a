/** The in-flight count alone (lib/process/leases.ts): hooks in order, drains, the drain bound on a fake clock. */
import { expect } from 'chai';
import { FakeClock } from '../../../lib/clock.js';
import { Leases } from '../../../lib/process/leases.js';

describe('Leases (fake clock)', function () {
  let clock: FakeClock;
  let events: string[];
  let leases: Leases;

  beforeEach(function () {
    clock = new FakeClock();
    events = [];
    leases = new Leases(clock, {
      onTake: () => events.push(`take ${leases.inFlight}`),
      onRelease: () => events.push(`release ${leases.inFlight}`),
      onDrained: () => events.push('drained'),
    });
  });

  afterEach(function () {
    expect(clock.pending, 'timers left armed').to.equal(0);
  });

  it('counts leases, releases each once, and reports drained after the last', function () {
    const a = leases.take();
    const b = leases.take();
    a.release();
    a.release();
    b.release();
    expect(events).to.deep.equal(['take 1', 'take 2', 'release 1', 'release 0', 'drained']);
    expect(leases.inFlight).to.equal(0);
  });

  it('drained() resolves at once with none out, else after the last release (waiters before onDrained)', async function () {
    await leases.drained();
    const lease = leases.take();
    let done = false;
    const waiting = leases.drained().then(() => {
      done = true;
      events.push('waiter');
    });
    await Promise.resolve();
    expect(done).to.equal(false);
    lease.release();
    await waiting;
    expect(events.slice(-2)).to.deep.equal(['drained', 'waiter']);
  });

  it('drainFor: drained, cut, or timeout after drainMs on the clock', async function () {
    expect(await leases.drainFor(1000, new Promise(() => undefined))).to.equal('drained');
    const lease = leases.take();
    const timedOut = leases.drainFor(1000, new Promise(() => undefined));
    clock.advance(999);
    await Promise.resolve();
    clock.advance(1);
    expect(await timedOut).to.equal('timeout');
    expect(await leases.drainFor(1000, Promise.resolve())).to.equal('cut');
    const released = leases.drainFor(1000, new Promise(() => undefined));
    lease.release();
    expect(await released).to.equal('drained');
  });
});

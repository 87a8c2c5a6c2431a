/** The idle ladder's timers alone (lib/process/idle-timers.ts), on a fake clock. */
import { expect } from 'chai';
import { FakeClock } from '../../../lib/clock.js';
import type { IdleStep } from '../../../lib/config/types.js';
import { IdleTimers, type IdleArming } from '../../../lib/process/idle-timers.js';

const ladder: IdleStep[] = [
  { afterMs: 1000, action: 'sleep', level: 1 },
  { afterMs: 5000, action: 'stop' },
];

describe('IdleTimers (fake clock)', function () {
  let clock: FakeClock;
  let due: string[];
  let polls: number;
  let polling: boolean;
  let timers: IdleTimers;

  beforeEach(function () {
    clock = new FakeClock();
    due = [];
    polls = 0;
    polling = true;
    timers = new IdleTimers({
      clock,
      statusPollMs: 200,
      onDue: (step, index) => due.push(`${index} ${step.action}`),
      poll: () => {
        polls++;
        return Promise.resolve();
      },
      keepPolling: () => polling,
    });
  });

  afterEach(function () {
    timers.cancel();
    expect(clock.pending).to.equal(0);
  });

  const ready = (overrides: Partial<IdleArming> = {}): IdleArming => ({ position: { state: 'ready' }, ladder, defaultLevel: 1, idleSince: clock.now(), pollStatus: false, ...overrides });

  it('arms the next rung, due afterMs after idleSince', function () {
    timers.arm(ready({ idleSince: clock.now() - 400 }));
    clock.advance(599);
    expect(due).to.deep.equal([]);
    clock.advance(1);
    expect(due).to.deep.equal(['0 sleep']);
  });

  it('skips the rungs already done and arms nothing without a position', function () {
    timers.stepsDone = 1;
    timers.arm(ready({ position: { state: 'asleep', level: 1 } }));
    clock.advance(5000);
    expect(due).to.deep.equal(['1 stop']);
    timers.arm(ready({ position: null }));
    expect(clock.pending).to.equal(0);
  });

  it('re-arming cancels the previous rung; cancelStep keeps the status poll', async function () {
    timers.arm(ready({ pollStatus: true }));
    timers.arm(ready({ pollStatus: true }));
    expect(clock.pending).to.equal(2);
    timers.cancelStep();
    expect(clock.pending).to.equal(1);
    clock.advance(200);
    await Promise.resolve();
    await Promise.resolve();
    expect(polls).to.equal(1);
    expect(clock.pending, 'the next poll is armed').to.equal(1);
    polling = false;
    clock.advance(200);
    await Promise.resolve();
    await Promise.resolve();
    expect(polls).to.equal(2);
    expect(clock.pending, 'no poll once keepPolling says no').to.equal(0);
    expect(due).to.deep.equal([]);
  });
});

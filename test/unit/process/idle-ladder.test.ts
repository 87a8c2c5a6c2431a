import { expect } from 'chai';
import type { IdleStep } from '../../../lib/config/types.js';
import { nextIdleStep, type IdlePosition } from '../../../lib/process/idle-ladder.js';

const MINUTE = 60_000;
const sleep1: IdleStep = { afterMs: 5 * MINUTE, action: 'sleep', level: 1 };
const sleep2: IdleStep = { afterMs: 30 * MINUTE, action: 'sleep', level: 2 };
const sleepDefault: IdleStep = { afterMs: 5 * MINUTE, action: 'sleep' };
const stop: IdleStep = { afterMs: 120 * MINUTE, action: 'stop' };
const ttl: IdleStep = { afterMs: 10 * MINUTE, action: 'stop' };

const ladder = [sleep1, sleep2, stop];

interface Row {
  readonly name: string;
  readonly steps: readonly IdleStep[];
  readonly position: IdlePosition;
  readonly defaultLevel: number;
  readonly done: number;
  /** Expected index of the next step, or null. */
  readonly expected: number | null;
}

const rows: readonly Row[] = [
  { name: 'empty ladder → nothing', steps: [], position: { state: 'ready' }, defaultLevel: 1, done: 0, expected: null },
  { name: 'ready, nothing done → first step', steps: ladder, position: { state: 'ready' }, defaultLevel: 1, done: 0, expected: 0 },
  { name: 'asleep at 1 after step 0 → level-2 step', steps: ladder, position: { state: 'asleep', level: 1 }, defaultLevel: 1, done: 1, expected: 1 },
  { name: 'asleep at 2 after step 1 → stop', steps: ladder, position: { state: 'asleep', level: 2 }, defaultLevel: 1, done: 2, expected: 2 },
  { name: 'everything done → nothing', steps: ladder, position: { state: 'asleep', level: 2 }, defaultLevel: 1, done: 3, expected: null },
  // Evicted to level 2 by the scheduler, then idle: the level-1 and level-2 rungs change nothing.
  { name: 'asleep at 2, nothing done → skips shallower rungs to stop', steps: ladder, position: { state: 'asleep', level: 2 }, defaultLevel: 1, done: 0, expected: 2 },
  { name: 'asleep at 1, nothing done → skips equal rung', steps: ladder, position: { state: 'asleep', level: 1 }, defaultLevel: 1, done: 0, expected: 1 },
  { name: 'ready after a wake, steps were done → continues from done', steps: ladder, position: { state: 'ready' }, defaultLevel: 1, done: 1, expected: 1 },
  { name: 'ttl only (single stop) while ready', steps: [ttl], position: { state: 'ready' }, defaultLevel: 1, done: 0, expected: 0 },
  { name: 'ttl only while asleep → still stops', steps: [ttl], position: { state: 'asleep', level: 1 }, defaultLevel: 1, done: 0, expected: 0 },
  { name: 'sleep step without level uses the default level (equal → skipped)', steps: [sleepDefault, stop], position: { state: 'asleep', level: 2 }, defaultLevel: 2, done: 0, expected: 1 },
  { name: 'sleep step without level, asleep at 1, default 2 → deeper', steps: [sleepDefault, stop], position: { state: 'asleep', level: 1 }, defaultLevel: 2, done: 0, expected: 0 },
  { name: 'asleep without known level uses the default level', steps: [sleep1, sleep2], position: { state: 'asleep' }, defaultLevel: 1, done: 0, expected: 1 },
  { name: 'only sleep rungs, asleep at the deepest → nothing', steps: [sleep1, sleep2], position: { state: 'asleep', level: 2 }, defaultLevel: 1, done: 0, expected: null },
];

describe('nextIdleStep', function () {
  for (const row of rows) {
    it(row.name, function () {
      const next = nextIdleStep(row.steps, row.position, row.defaultLevel, row.done);
      if (row.expected === null) {
        expect(next).to.equal(null);
      } else {
        expect(next).to.deep.equal({ index: row.expected, step: row.steps[row.expected] });
      }
    });
  }
});

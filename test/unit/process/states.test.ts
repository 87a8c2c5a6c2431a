import { expect } from 'chai';
import { canTransition, MODEL_STATES, TRANSITIONS, type ModelState } from '../../../lib/process/states.js';

/** The model lifecycle (README, "Backends"; lib/process/states.ts), written out as the complete list of allowed moves. */
const ALLOWED: readonly (readonly [ModelState, ModelState])[] = [
  ['stopped', 'starting'],
  ['stopped', 'shutdown'],
  ['starting', 'ready'],
  ['starting', 'stopping'],
  ['starting', 'stopped'],
  ['ready', 'sleeping'],
  ['ready', 'stopping'],
  ['ready', 'stopped'],
  ['sleeping', 'asleep'],
  ['sleeping', 'stopping'],
  ['sleeping', 'stopped'],
  ['asleep', 'waking'],
  ['asleep', 'stopping'],
  ['asleep', 'stopped'],
  ['waking', 'ready'],
  ['waking', 'stopping'],
  ['waking', 'stopped'],
  ['stopping', 'stopped'],
];

describe('model state transitions', function () {
  it('lists every state exactly once in the table', function () {
    expect(Object.keys(TRANSITIONS).sort()).to.deep.equal([...MODEL_STATES].sort());
  });

  for (const [from, to] of ALLOWED) {
    it(`allows ${from} → ${to}`, function () {
      expect(canTransition(from, to)).to.equal(true);
    });
  }

  it('allows nothing else (the table holds exactly the lifecycle)', function () {
    const table = MODEL_STATES.flatMap((from) => TRANSITIONS[from].map((to) => `${from}→${to}`)).sort();
    expect(table).to.deep.equal(ALLOWED.map(([from, to]) => `${from}→${to}`).sort());
  });

  const forbidden: readonly (readonly [ModelState, ModelState])[] = [
    ['stopped', 'ready'], // must start first
    ['stopped', 'asleep'],
    ['stopped', 'stopped'], // no self-loops
    ['ready', 'ready'],
    ['ready', 'asleep'], // must pass through sleeping (drain)
    ['ready', 'waking'],
    ['ready', 'starting'],
    ['asleep', 'ready'], // must pass through waking
    ['asleep', 'sleeping'],
    ['sleeping', 'ready'], // a sleep cannot be undone half-way
    ['waking', 'asleep'],
    ['starting', 'asleep'],
    ['stopping', 'starting'],
    ['stopping', 'ready'],
    ['ready', 'shutdown'], // shutdown only from stopped
    ['asleep', 'shutdown'],
    ['shutdown', 'stopped'], // terminal
    ['shutdown', 'starting'],
  ];
  for (const [from, to] of forbidden) {
    it(`forbids ${from} → ${to}`, function () {
      expect(canTransition(from, to)).to.equal(false);
    });
  }

  it('makes shutdown terminal', function () {
    for (const to of MODEL_STATES) expect(canTransition('shutdown', to), `shutdown → ${to}`).to.equal(false);
  });

  it('lets every non-terminal state reach stopped', function () {
    for (const from of MODEL_STATES.filter((state) => state !== 'shutdown' && state !== 'stopped')) {
      expect(canTransition(from, 'stopped') || canTransition(from, 'stopping'), from).to.equal(true);
    }
  });
});

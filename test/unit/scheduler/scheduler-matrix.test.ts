/**
 * The scheduler in matrix mode (rule 8), driven with the recording fake: llama-swap's router
 * scenarios (internal/router/matrix_test.go), the scheduler's own rules under a matrix, and the
 * sleep discount.
 */
import { expect } from 'chai';
import { compileMatrix, createScheduler, type CompiledMatrix } from '../../../lib/scheduler/index.js';
import { Driver, evict, GiB, grant, load, model, position } from './helpers.js';

function matrixOf(sets: Record<string, string>, ids: readonly string[], evictCosts: Record<string, number> = {}): CompiledMatrix {
  const { matrix, issues } = compileMatrix({ sets, evict_costs: evictCosts }, ids);
  expect(issues).to.deep.equal([]);
  if (matrix === null) throw new Error('no matrix');
  return matrix;
}

/** Models that can sleep unless listed in `mustStop`. */
function driver(sets: Record<string, string>, ids: readonly string[], options: { mustStop?: readonly string[]; evictCosts?: Record<string, number> } = {}): Driver {
  const models = ids.map((id) => model(id, { canSleep: !(options.mustStop ?? []).includes(id) }));
  return Driver.matrix(models, matrixOf(sets, ids, options.evictCosts));
}

describe('scheduler / matrix mode', () => {
  for (const { canSleep, action, to } of [
    { canSleep: true, action: 'sleep', to: 'asleep' },
    { canSleep: false, action: 'stop', to: 'stopped' },
  ] as const) {
    it(`evicts a running model that shares no set with the target (${action}), then loads the target`, () => {
      const d = driver({ s_a: 'a', s_b: 'b' }, ['a', 'b'], { mustStop: canSleep ? [] : ['a'] });
      d.set('a', 'ready');
      expect(d.request('r1', 'b')).to.deep.equal([evict('a', action), position('r1', 1)]);
      expect(d.released('a', to)).to.deep.equal([load('b')]);
      expect(d.loaded('b')).to.deep.equal([grant('r1', 'b')]);
    });
  }

  it('loads beside a running model that shares a set with the target', () => {
    const d = driver({ s_ab: 'a & b' }, ['a', 'b']);
    d.set('a', 'ready');
    expect(d.request('r1', 'b')).to.deep.equal([load('b'), position('r1', 1)]);
    expect(d.loaded('b')).to.deep.equal([grant('r1', 'b')]);
    expect(d.request('r2', 'a')).to.deep.equal([grant('r2', 'a')]);
  });

  it('two models of one set load in parallel', () => {
    const d = driver({ s_ab: 'a & b' }, ['a', 'b']);
    expect(d.request('r1', 'a')).to.deep.equal([load('a'), position('r1', 1)]);
    expect(d.request('r2', 'b'), 'a is loading: it counts as running, and the set keeps it').to.deep.equal([load('b'), position('r2', 2)]);
    expect(d.loaded('b'), 'r1 keeps position 1').to.deep.equal([grant('r2', 'b')]);
    expect(d.loaded('a')).to.deep.equal([grant('r1', 'a')]);
  });

  it('a model that cannot coexist with a loading one waits for it to load and drain, then evicts it', () => {
    const d = driver({ s_a: 'a', s_b: 'b' }, ['a', 'b']);
    expect(d.request('r1', 'a')).to.deep.equal([load('a'), position('r1', 1)]);
    expect(d.request('r2', 'b')).to.deep.equal([position('r2', 2)]);
    expect(d.loaded('a')).to.deep.equal([grant('r1', 'a'), position('r2', 1)]);
    expect(d.done('r1')).to.deep.equal([evict('a', 'sleep')]);
    expect(d.released('a', 'asleep')).to.deep.equal([load('b')]);
    expect(d.loaded('b')).to.deep.equal([grant('r2', 'b')]);
  });

  it('picks the set whose evictions cost least: keeps the expensive model', () => {
    const d = driver({ a_with_c: 'a & c', a_with_b: 'a & b' }, ['a', 'b', 'c'], { mustStop: ['a', 'b', 'c'], evictCosts: { b: 10, c: 1 } });
    d.set('b', 'ready');
    d.set('c', 'ready');
    expect(d.request('r1', 'a')).to.deep.equal([evict('c', 'stop'), position('r1', 1)]);
    expect(d.released('c', 'stopped')).to.deep.equal([load('a')]);
    expect(d.state('b')).to.equal('ready');
  });

  it('ties go to the earlier set', () => {
    const d = driver({ keep_b: 'a & b', keep_c: 'a & c' }, ['a', 'b', 'c']);
    d.set('b', 'ready');
    d.set('c', 'ready');
    expect(d.request('r1', 'a')).to.deep.equal([evict('c', 'sleep'), position('r1', 1)]);
  });

  it('a target in no set runs alone', () => {
    const d = driver({ s_ab: 'a & b' }, ['a', 'b', 'loner']);
    d.set('a', 'ready');
    d.set('b', 'ready');
    expect(d.request('r1', 'loner')).to.deep.equal([evict('a', 'sleep'), evict('b', 'sleep'), position('r1', 1)]);
  });

  it('asleep and stopped models are not in the way', () => {
    const d = driver({ s_a: 'a', s_b: 'b' }, ['a', 'b']);
    d.set('a', 'asleep');
    expect(d.request('r1', 'b')).to.deep.equal([load('b'), position('r1', 1)]);
  });

  it('wakes an asleep target the same way (load), evicting what its set leaves out', () => {
    const d = driver({ s_a: 'a', s_b: 'b' }, ['a', 'b']);
    d.set('b', 'asleep');
    d.set('a', 'ready');
    expect(d.request('r1', 'b')).to.deep.equal([evict('a', 'sleep'), position('r1', 1)]);
    expect(d.released('a', 'asleep')).to.deep.equal([load('b')]);
  });

  it('never evicts a busy model, and evicts nothing until every victim is idle (all or nothing)', () => {
    const d = driver({ s_t: 't', s_ab: 'a & b' }, ['t', 'a', 'b']);
    d.set('a', 'ready');
    d.set('b', 'ready');
    expect(d.request('r1', 'a')).to.deep.equal([grant('r1', 'a')]);
    expect(d.request('r2', 't')).to.deep.equal([position('r2', 1)]);
    expect(d.state('b'), 'idle b is kept while a is busy').to.equal('ready');
    expect(d.done('r1')).to.deep.equal([evict('a', 'sleep'), evict('b', 'sleep')]);
  });

  it('a model already releasing costs nothing: the set that keeps it still loads at once', () => {
    const d = driver({ s_ab: 'a & b', s_bc: 'b & c' }, ['a', 'b', 'c']);
    d.set('a', 'ready');
    d.set('c', 'ready');
    expect(d.report('a', 'sleeping')).to.deep.equal([]);
    // Solver: keep a (releasing, 0) and evict c (0.5), or keep c and let a go: s_bc costs 0 and wins
    // over s_ab (0.5) although s_ab comes first: a release under way is not worth keeping.
    expect(d.request('r1', 'b')).to.deep.equal([position('r1', 1)]);
    expect(d.state('c')).to.equal('ready');
    expect(d.released('a', 'asleep')).to.deep.equal([load('b')]);
  });

  it('waits for a release under way when the chosen set has no room for the releasing model', () => {
    const d = driver({ s_a: 'a', s_b: 'b' }, ['a', 'b']);
    d.set('a', 'ready');
    d.report('a', 'stopping');
    expect(d.request('r1', 'b')).to.deep.equal([position('r1', 1)]);
    expect(d.released('a', 'stopped')).to.deep.equal([load('b')]);
  });

  it('a later request overtakes a waiting head when the head would keep it', () => {
    const d = driver({ s1: 'a & c', s2: 'h & c' }, ['a', 'h', 'c']);
    d.set('a', 'ready');
    d.request('r1', 'a');
    expect(d.request('r2', 'h'), 'h must evict busy a: waits').to.deep.equal([position('r2', 1)]);
    expect(d.request('r3', 'c')).to.deep.equal([load('c'), position('r3', 2)]);
    expect(d.loaded('c')).to.deep.equal([grant('r3', 'c')]);
    expect(d.done('r1')).to.deep.equal([evict('a', 'sleep')]);
    expect(d.released('a', 'asleep')).to.deep.equal([load('h')]);
    expect(d.state('c'), 'c coexists with h').to.equal('ready');
  });

  it('a later request does not overtake a waiting head that would evict it again', () => {
    const d = driver({ s1: 'a & c', s2: 'h' }, ['a', 'h', 'c']);
    d.set('a', 'ready');
    d.request('r1', 'a');
    expect(d.request('r2', 'h')).to.deep.equal([position('r2', 1)]);
    expect(d.request('r3', 'c'), 'c fits beside a, but h would evict it').to.deep.equal([position('r3', 2)]);
    expect(d.done('r1')).to.deep.equal([evict('a', 'sleep')]);
    expect(d.released('a', 'asleep')).to.deep.equal([load('h')]);
    expect(d.loaded('h')).to.deep.equal([grant('r2', 'h'), position('r3', 1)]);
    expect(d.done('r2')).to.deep.equal([evict('h', 'sleep')]);
    expect(d.released('h', 'asleep')).to.deep.equal([load('c')]);
  });

  it('the swap barrier (rule 5) holds: after maxBypassMs new requests for the busy victim queue', () => {
    const d = Driver.matrix([model('a'), model('b')], matrixOf({ s_a: 'a', s_b: 'b' }, ['a', 'b']), { maxBypassMs: 1000 });
    d.set('a', 'ready');
    d.request('r1', 'a', 0);
    expect(d.request('r2', 'b', 10)).to.deep.equal([position('r2', 1)]);
    expect(d.request('r3', 'a', 500)).to.deep.equal([grant('r3', 'a')]);
    expect(d.request('r4', 'a', 1010)).to.deep.equal([position('r4', 2)]);
    expect(d.done('r1', 1020)).to.deep.equal([]);
    expect(d.done('r3', 1030)).to.deep.equal([evict('a', 'sleep')]);
  });

  describe('the sleep discount', () => {
    const sets = { keep_s: 't & s', keep_n: 't & n' };

    it('evicts the model that can sleep rather than the one that must stop, where llama-swap would take the first set', () => {
      const d = driver(sets, ['t', 'n', 's'], { mustStop: ['n'] });
      d.set('n', 'ready');
      d.set('s', 'ready');
      expect(d.request('r1', 't')).to.deep.equal([evict('s', 'sleep'), position('r1', 1)]);
      expect(d.released('s', 'asleep')).to.deep.equal([load('t')]);
      expect(d.state('n')).to.equal('ready');
    });

    for (const mustStop of [[], ['n', 's']]) {
      it(`keeps llama-swap's choice when ${mustStop.length === 0 ? 'every model can sleep' : 'no model can sleep'}`, () => {
        const d = driver(sets, ['t', 'n', 's'], { mustStop });
        d.set('n', 'ready');
        d.set('s', 'ready');
        expect(d.request('r1', 't')).to.deep.equal([evict('n', mustStop.length === 0 ? 'sleep' : 'stop'), position('r1', 1)]);
      });
    }

    it('a large enough configured cost still wins over the discount', () => {
      const d = driver(sets, ['t', 'n', 's'], { mustStop: ['n'], evictCosts: { s: 3 } });
      d.set('n', 'ready');
      d.set('s', 'ready');
      expect(d.request('r1', 't')).to.deep.equal([evict('n', 'stop'), position('r1', 1)]);
    });
  });

  describe('options', () => {
    const matrix = () => matrixOf({ s: 'a & b' }, ['a', 'b']);

    it('models need no group; the snapshot says matrix mode', () => {
      const d = Driver.matrix([model('a'), model('b')], matrix());
      expect(d.scheduler.snapshot()).to.deep.include({ mode: 'matrix', usage: null, budgets: null });
      expect(d.scheduler.snapshot().models.map((m) => m.group)).to.deep.equal(['(default)', '(default)']);
    });

    it('refuses budgets beside a matrix, and a matrix naming models the scheduler does not have', () => {
      expect(() => Driver.matrix([model('a')], matrix(), { budgets: { vram: 8 * GiB } })).to.throw(
        'invalid scheduler options:\n- a matrix cannot be combined with resource budgets; use one or the other\n- the matrix names unknown model "b"',
      );
    });

    it('createScheduler takes the matrix from routing', () => {
      const config = {
        models: { a: { id: 'a', priority: 0, resources: {} }, b: { id: 'b', priority: 0, resources: {} } },
        groups: [],
        resources: {},
      };
      expect(createScheduler({ ...config, routing: { router: 'matrix', matrix: matrix() } }, () => true).snapshot().mode).to.equal('matrix');
      expect(() => createScheduler({ ...config, routing: { router: 'group', matrix: null } }, () => true)).to.throw('is in no group');
      expect(() => createScheduler({ ...config, routing: { router: 'matrix', matrix: null } }, () => true)).to.throw('no compiled matrix');
    });
  });
});

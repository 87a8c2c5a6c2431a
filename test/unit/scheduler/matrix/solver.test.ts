/**
 * The solver: llama-swap's cases (internal/matrix/dsl_test.go Solve, internal/router/matrix_test.go
 * solver and router decisions), then siesta's sleep discount.
 */
import { expect } from 'chai';
import { canContainAll, evictionCost, SLEEP_COST_FACTOR, solveMatrix } from '../../../../lib/scheduler/matrix/solver.js';
import { compileIdentity, defs, sleeping, stopping } from './helpers.js';

function productDefinition(dimensions: number, choices: number) {
  const models = ['target'];
  const groups: string[] = [];
  for (let d = 0; d < dimensions; d++) {
    const alternatives = Array.from({ length: choices }, (_, c) => `model-${d}-${c}`);
    models.push(...alternatives);
    groups.push(`(${alternatives.join(' | ')})`);
  }
  return { definition: { name: 'large', dsl: `target & ${groups.join(' & ')}` }, models };
}

describe('scheduler / matrix / solver (llama-swap semantics)', () => {
  it('evicts a running model that shares no set with the target', () => {
    const matrix = compileIdentity(defs({ s_a: 'a', s_b: 'b' }), ['a', 'b']);
    expect(solveMatrix(matrix, 'b', stopping('a'))).to.deep.equal({ evict: ['a'], targetSet: ['b'], setName: 's_b', dsl: 'b', totalCost: 1 });
  });

  it('keeps a running model that shares a set with the target', () => {
    const matrix = compileIdentity(defs({ s_ab: 'a & b' }), ['a', 'b']);
    expect(solveMatrix(matrix, 'b', stopping('a'))).to.deep.equal({ evict: [], targetSet: ['a', 'b'], setName: 's_ab', dsl: 'a & b', totalCost: 0 });
  });

  it('ties go to the earlier-defined set', () => {
    const matrix = compileIdentity(defs({ first: 'a & b', second: 'a & c' }), ['a', 'b', 'c']);
    expect(solveMatrix(matrix, 'a', []).setName).to.equal('first');
    expect(solveMatrix(matrix, 'a', stopping('b', 'c')), 'equal cost 1 each way').to.deep.include({ setName: 'first', evict: ['c'] });
  });

  it('evict costs steer toward the cheaper set (keep expensive b)', () => {
    const matrix = compileIdentity(defs({ a_with_c: 'a & c', a_with_b: 'a & b' }), ['a', 'b', 'c'], { b: 10, c: 1 });
    expect(solveMatrix(matrix, 'a', stopping('b', 'c'))).to.deep.include({ setName: 'a_with_b', evict: ['c'], totalCost: 1 });
  });

  it('keeps as many running models as it can when costs are equal', () => {
    const matrix = compileIdentity(defs({ small: 't & a', big: 't & a & b' }), ['t', 'a', 'b']);
    expect(solveMatrix(matrix, 't', stopping('a', 'b'))).to.deep.include({ setName: 'big', evict: [], totalCost: 0 });
  });

  it('overlapping references', () => {
    const matrix = compileIdentity(defs({ base: 'a & b', extended: 'target & +base & b' }), ['target', 'a', 'b']);
    expect(solveMatrix(matrix, 'target', stopping('a', 'b'))).to.deep.include({ evict: [], targetSet: ['a', 'b', 'target'] });
  });

  it('no expansion limit: 10^6 combinations are never expanded', () => {
    const { definition, models } = productDefinition(6, 10);
    const matrix = compileIdentity([definition], models);
    const running = [...Array.from({ length: 6 }, (_, d) => `model-${d}-9`), 'outside'];
    const result = solveMatrix(matrix, 'target', stopping(...running));
    expect(result).to.deep.include({ evict: ['outside'], setName: 'large' });
    expect(result.targetSet).to.have.length(7);
  });

  it('more than 64 relevant models', () => {
    const models = ['target', ...Array.from({ length: 70 }, (_, i) => `model-${i}`)];
    const matrix = compileIdentity([{ name: 'wide', dsl: models.join(' & ') }], models);
    const result = solveMatrix(matrix, 'target', stopping(...models.slice(1), 'outside'));
    expect(result.evict).to.deep.equal(['outside']);
    expect(result.targetSet).to.have.length(71);
  });

  it('a dominated projection loses to its superset', () => {
    const matrix = compileIdentity([{ name: 'preferred', dsl: 'target & (a | (a & b))' }], ['target', 'a', 'b']);
    expect(solveMatrix(matrix, 'target', stopping('a', 'b'))).to.deep.include({ evict: [], targetSet: ['a', 'b', 'target'] });
  });

  it('a target in no set runs alone', () => {
    const matrix = compileIdentity([{ name: 'known', dsl: 'a & b' }], ['a', 'b']);
    expect(solveMatrix(matrix, 'missing', stopping('a', 'b'))).to.deep.include({ evict: ['a', 'b'], targetSet: ['missing'], setName: null });
  });

  it('a running target evicts nothing and names the set holding everything running', () => {
    const matrix = compileIdentity(defs({ s_a: 'a', s_ab: 'a & b' }), ['a', 'b']);
    expect(solveMatrix(matrix, 'a', stopping('a', 'b'))).to.deep.equal({ evict: [], targetSet: ['a', 'b'], setName: 's_ab', dsl: 'a & b', totalCost: 0 });
  });

  it('the example of config.example.yaml', () => {
    const matrix = compileIdentity(
      defs({ standard: '(g | q | m) & v', with_rerank: '(g | q) & v & e', creative: '(g | q) & sd', full: 'L' }),
      ['g', 'q', 'm', 'v', 'e', 'sd', 'L'],
      { v: 50, L: 30 },
    );
    expect(solveMatrix(matrix, 'e', stopping('m', 'v')), 'drop m (1), keep v (50)').to.deep.include({ setName: 'with_rerank', evict: ['m'], targetSet: ['e', 'g', 'v'] });
    expect(solveMatrix(matrix, 'sd', stopping('q', 'v'))).to.deep.include({ setName: 'creative', evict: ['v'], totalCost: 50 });
    expect(solveMatrix(matrix, 'L', stopping('g', 'v'))).to.deep.include({ setName: 'full', evict: ['g', 'v'], totalCost: 51 });
  });

  it('canContainAll: whether one choice holds every model', () => {
    const matrix = compileIdentity(defs({ standard: '(g | q) & v', solo: 'L' }), ['g', 'q', 'v', 'L']);
    expect(canContainAll(matrix, [])).to.equal(true);
    expect(canContainAll(matrix, ['g', 'v'])).to.equal(true);
    expect(canContainAll(matrix, ['g', 'q'])).to.equal(false);
    expect(canContainAll(matrix, ['L', 'v'])).to.equal(false);
  });
});

describe('scheduler / matrix / solver: the sleep discount (siesta)', () => {
  it('a sleepable model costs half; a releasing one nothing', () => {
    const matrix = compileIdentity(defs({ s: 'a' }), ['a'], { a: 7 });
    expect(SLEEP_COST_FACTOR).to.equal(0.5);
    expect(evictionCost(matrix, { id: 'a', canSleep: false })).to.equal(7);
    expect(evictionCost(matrix, { id: 'a', canSleep: true })).to.equal(3.5);
    expect(evictionCost(matrix, { id: 'a', canSleep: true, releasing: true })).to.equal(0);
    expect(evictionCost(matrix, { id: 'b', canSleep: true }), 'default cost 1').to.equal(0.5);
  });

  it('at equal configured cost, evicts the model that can sleep rather than the one that must stop', () => {
    // llama-swap: a tie (1 = 1), the first set wins and evicts s. siesta: evicting n costs 0.5.
    const matrix = compileIdentity(defs({ keep_n: 't & n', keep_s: 't & s' }), ['t', 'n', 's']);
    expect(solveMatrix(matrix, 't', stopping('n', 's'))).to.deep.include({ setName: 'keep_n', evict: ['s'] });
    expect(solveMatrix(matrix, 't', [...stopping('n'), ...sleeping('s')])).to.deep.include({ setName: 'keep_n', evict: ['s'], totalCost: 0.5 });
    expect(solveMatrix(matrix, 't', [...sleeping('n'), ...stopping('s')])).to.deep.include({ setName: 'keep_s', evict: ['n'], totalCost: 0.5 });
  });

  it('two sleepers weigh like one model that must stop: a tie, so definition order decides', () => {
    const matrix = compileIdentity(defs({ keep_n: 't & n', keep_ab: 't & a & b' }), ['t', 'n', 'a', 'b']);
    expect(solveMatrix(matrix, 't', [...stopping('n'), ...sleeping('a', 'b')])).to.deep.include({ setName: 'keep_n', evict: ['a', 'b'], totalCost: 1 });
    expect(solveMatrix(matrix, 't', [...stopping('n'), ...sleeping('a', 'b', 'c')]), 'c is in no set: evicted either way').to.deep.include({
      setName: 'keep_n',
      totalCost: 1.5,
    });
  });

  it('configured weights more than 2× apart keep their order', () => {
    const matrix = compileIdentity(defs({ keep_s: 't & s', keep_n: 't & n' }), ['t', 'n', 's'], { s: 5, n: 2 });
    expect(solveMatrix(matrix, 't', [...stopping('n'), ...sleeping('s')]), 'sleeper of cost 5 (2.5) still beats 2').to.deep.include({ setName: 'keep_s', evict: ['n'] });
  });

  it("does not change llama-swap's decision when every running model can sleep, or none can", () => {
    const matrix = compileIdentity(
      defs({ first: 't & a', second: 't & b & c', third: 't & d', fourth: '(t | e) & a & d' }),
      ['t', 'a', 'b', 'c', 'd', 'e'],
      { a: 3, b: 2, c: 1, d: 2, e: 4 },
    );
    const runningSets = [['a'], ['b', 'c'], ['a', 'b'], ['a', 'd'], ['b', 'c', 'd'], ['a', 'b', 'c', 'd', 'e'], ['e'], []];
    for (const running of runningSets) {
      const stops = solveMatrix(matrix, 't', stopping(...running));
      const sleeps = solveMatrix(matrix, 't', sleeping(...running));
      expect({ ...sleeps, totalCost: sleeps.totalCost * 2 }, running.join(',')).to.deep.equal(stops);
    }
  });
});

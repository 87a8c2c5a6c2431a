/** Ported from llama-swap internal/config/matrix_test.go (ValidateMatrix), plus siesta's every-issue reporting. */
import { expect } from 'chai';
import { compileMatrix } from '../../../../lib/scheduler/matrix/compile.js';
import { solveMatrix } from '../../../../lib/scheduler/matrix/solver.js';
import type { CompiledMatrix } from '../../../../lib/scheduler/matrix/types.js';
import { stopping } from './helpers.js';

function compiled(raw: unknown, models: string[]): CompiledMatrix {
  const { matrix, issues } = compileMatrix(raw, models);
  expect(issues).to.deep.equal([]);
  if (matrix === null) throw new Error('no matrix');
  return matrix;
}

function issuesOf(raw: unknown, models: string[], prefix?: string) {
  const result = compileMatrix(raw, models, prefix);
  expect(result.matrix).to.equal(null);
  return result.issues;
}

describe('scheduler / matrix / compileMatrix', () => {
  it('basic: vars, evict_costs and two sets', () => {
    const matrix = compiled(
      {
        vars: { g: 'gemma', q: 'qwen', m: 'mistral', v: 'voxtral', L: 'llama70B' },
        evict_costs: { L: 30, v: 50 },
        sets: { standard: '(g | q | m) & v', full: 'L' },
      },
      ['gemma', 'qwen', 'mistral', 'voxtral', 'llama70B'],
    );
    expect([...matrix.evictCosts]).to.deep.equal([
      ['llama70B', 30],
      ['voxtral', 50],
    ]);
    expect(solveMatrix(matrix, 'gemma', stopping('voxtral'))).to.deep.include({ setName: 'standard', targetSet: ['gemma', 'voxtral'], evict: [] });
    expect(solveMatrix(matrix, 'llama70B', stopping('voxtral'))).to.deep.include({ setName: 'full', targetSet: ['llama70B'], evict: ['voxtral'], totalCost: 50 });
  });

  it('references', () => {
    const matrix = compiled(
      { vars: { g: 'gemma', q: 'qwen', m: 'mistral', v: 'voxtral', e: 'reranker' }, sets: { llms: 'g | q | m', with_tts: '+llms & v', mega: '+with_tts & e' } },
      ['gemma', 'qwen', 'mistral', 'voxtral', 'reranker'],
    );
    expect(solveMatrix(matrix, 'reranker', stopping('gemma', 'voxtral'))).to.deep.include({ setName: 'mega', targetSet: ['gemma', 'reranker', 'voxtral'], evict: [] });
  });

  describe('direct and mixed model names', () => {
    const models = ['gemma', 'qwen', 'voxtral'];
    it('direct model names without vars', () => {
      const matrix = compiled({ sets: { combo: 'gemma & voxtral' } }, models);
      expect(solveMatrix(matrix, 'gemma', stopping('voxtral')).targetSet).to.deep.equal(['gemma', 'voxtral']);
    });
    it('mixed vars and model names', () => {
      const matrix = compiled({ vars: { g: 'gemma' }, sets: { base: 'g | qwen', combo: '+base & voxtral' } }, models);
      expect(solveMatrix(matrix, 'qwen', stopping('voxtral'))).to.deep.include({ setName: 'combo', targetSet: ['qwen', 'voxtral'] });
    });
    it('deduplicates after resolution', () => {
      const matrix = compiled({ vars: { g: 'gemma' }, sets: { combo: 'g & gemma' } }, models);
      expect(solveMatrix(matrix, 'gemma', []).targetSet).to.deep.equal(['gemma']);
    });
    it('vars take precedence over model names', () => {
      const matrix = compiled({ vars: { qwen: 'gemma' }, sets: { combo: 'qwen' } }, models);
      expect(solveMatrix(matrix, 'gemma', []).targetSet).to.deep.equal(['gemma']);
      expect(solveMatrix(matrix, 'qwen', []).setName, 'the model qwen is in no set').to.equal(null);
    });
  });

  describe('var keys', () => {
    for (const key of ['abcdefghijklmnopqrstuvwxyzABCDEF', 'model-var', 'model.var']) {
      it(`valid: ${key}`, () => {
        compiled({ vars: { [key]: 'gemma' }, sets: { s: key } }, ['gemma']);
      });
    }
    const message = (key: string) => `var key "${key}" must contain only alphanumeric, '-' or '.' characters and be 1-32 characters long`;
    for (const [name, key] of [
      ['too long', 'abcdefghijklmnopqrstuvwxyzABCDEFG'],
      ['has underscore', 'a_b'],
      ['empty', ''],
    ] as const) {
      it(`invalid (${name}): reported once, not again by the set that uses it`, () => {
        expect(issuesOf({ vars: { [key]: 'gemma' }, sets: { s: key === '' ? 'gemma' : key } }, ['gemma'])).to.deep.equal([
          { path: `matrix.vars.${key}`, message: message(key) },
        ]);
      });
    }
    it('a var naming an unknown model (or an alias)', () => {
      expect(issuesOf({ vars: { x: 'nonexistent' }, sets: { s: 'x' } }, ['gemma'])).to.deep.equal([
        { path: 'matrix.vars.x', message: 'var key "x" references unknown model "nonexistent"' },
      ]);
    });
  });

  describe('evict_costs', () => {
    for (const cost of [0, -1, 1.5, '5']) {
      it(`rejects ${JSON.stringify(cost)}`, () => {
        expect(issuesOf({ vars: { g: 'gemma' }, evict_costs: { g: cost }, sets: { s: 'g' } }, ['gemma'])).to.deep.equal([
          { path: 'matrix.evict_costs.g', message: `evict_cost for "g" must be a positive integer, got ${JSON.stringify(cost)}` },
        ]);
      });
    }
    it('unknown var or model', () => {
      expect(issuesOf({ vars: { g: 'gemma' }, evict_costs: { unknown: 5 }, sets: { s: 'g' } }, ['gemma'])).to.deep.equal([
        { path: 'matrix.evict_costs.unknown', message: 'evict_costs: unknown var or model "unknown"' },
      ]);
    });
    it('a direct model name, and var ids resolved (ResolvedEvictCosts)', () => {
      const matrix = compiled({ vars: { g: 'gemma', L: 'llama70B' }, evict_costs: { L: 30, g: 5, mistral: 10 }, sets: { s: 'g' } }, ['gemma', 'llama70B', 'mistral']);
      expect(Object.fromEntries(matrix.evictCosts)).to.deep.equal({ llama70B: 30, gemma: 5, mistral: 10 });
    });
  });

  it('cycle detection', () => {
    expect(issuesOf({ vars: { g: 'gemma' }, sets: { a: '+b', b: '+a' } }, ['gemma'])).to.deep.equal([
      { path: 'matrix.sets.a', message: 'circular reference detected involving set "a"' },
    ]);
  });

  it('undefined reference target', () => {
    expect(issuesOf({ sets: { a: '+nonexistent' } }, ['gemma'])).to.deep.equal([{ path: 'matrix.sets.a', message: 'references undefined set "nonexistent"' }]);
  });

  it('no sets', () => {
    expect(issuesOf({}, ['gemma'])).to.deep.equal([{ path: 'matrix.sets', message: 'matrix must define at least one set' }]);
    expect(issuesOf({ sets: {} }, ['gemma'])).to.deep.equal([{ path: 'matrix.sets', message: 'matrix must define at least one set' }]);
  });

  it('unknown var id in an expression', () => {
    expect(issuesOf({ vars: { g: 'gemma' }, sets: { s: 'g & nonexistent' } }, ['gemma'])).to.deep.equal([
      { path: 'matrix.sets.s', message: 'unknown var or model "nonexistent"' },
    ]);
  });

  it('lists every problem, under the given path prefix', () => {
    expect(
      issuesOf({ vars: { a_b: 'gemma', x: 'nope' }, evict_costs: { gemma: 0, zz: 2 }, sets: { s: '(gemma', t: 'gemma & ghost', u: 42 } }, ['gemma'], 'routing.router.settings.matrix'),
    ).to.deep.equal([
      { path: 'routing.router.settings.matrix.vars.a_b', message: `var key "a_b" must contain only alphanumeric, '-' or '.' characters and be 1-32 characters long` },
      { path: 'routing.router.settings.matrix.vars.x', message: 'var key "x" references unknown model "nope"' },
      { path: 'routing.router.settings.matrix.evict_costs.gemma', message: 'evict_cost for "gemma" must be a positive integer, got 0' },
      { path: 'routing.router.settings.matrix.evict_costs.zz', message: 'evict_costs: unknown var or model "zz"' },
      { path: 'routing.router.settings.matrix.sets.u', message: 'must be an expression (a string)' },
      { path: 'routing.router.settings.matrix.sets.s', message: 'missing closing parenthesis' },
      { path: 'routing.router.settings.matrix.sets.t', message: 'unknown var or model "ghost"' },
    ]);
  });

  it('rejects a block that is not a mapping, and mappings that are not mappings', () => {
    expect(issuesOf('g & q', ['gemma'])).to.deep.equal([{ path: 'matrix', message: 'must be a mapping with vars, evict_costs and sets' }]);
    expect(issuesOf({ vars: ['g'], sets: 'g' }, ['gemma'])).to.deep.equal([
      { path: 'matrix.vars', message: 'must be a mapping' },
      { path: 'matrix.sets', message: 'must be a mapping' },
    ]);
  });

  it('keeps file order from a Map or [name, dsl] pairs, where an object would put integer-like names first', () => {
    const models = ['a', 'b'];
    const pairs: [string, string][] = [
      ['20', 'a & b'],
      ['3', 'a'],
    ];
    expect(compiled({ sets: new Map(pairs) }, models).sets.map((s) => s.name)).to.deep.equal(['20', '3']);
    expect(compiled({ sets: pairs }, models).sets.map((s) => s.name)).to.deep.equal(['20', '3']);
    expect(compiled({ sets: Object.fromEntries(pairs) }, models).sets.map((s) => s.name)).to.deep.equal(['3', '20']);
  });

  it('does not mutate its input', () => {
    const raw = Object.freeze({ vars: Object.freeze({ g: 'gemma' }), evict_costs: Object.freeze({ g: 3 }), sets: Object.freeze({ s: 'g' }) });
    expect(() => compiled(raw, ['gemma'])).not.to.throw();
  });
});

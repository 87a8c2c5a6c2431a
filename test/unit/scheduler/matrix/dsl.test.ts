/** Ported from llama-swap internal/matrix/dsl_test.go (tokenizer, projections, references, compile errors). */
import { expect } from 'chai';
import { compileSets, parseExpression, tokenize, type Token } from '../../../../lib/scheduler/matrix/dsl.js';
import { projectSet } from '../../../../lib/scheduler/matrix/solver.js';
import { compileIdentity, defs, setNamed } from './helpers.js';

const eof: Token = { type: 'eof', value: '' };

describe('scheduler / matrix / dsl', () => {
  describe('tokenize', () => {
    const cases: { name: string; input: string; expected?: Token[]; error?: string }[] = [
      { name: 'single identifier', input: 'abc', expected: [{ type: 'ident', value: 'abc' }, eof] },
      { name: 'identifier with hyphens and dots', input: 'model-name.v2', expected: [{ type: 'ident', value: 'model-name.v2' }, eof] },
      { name: 'underscores and non-ASCII letters', input: 'qwen_3 & café', expected: [{ type: 'ident', value: 'qwen_3' }, { type: 'and', value: '&' }, { type: 'ident', value: 'café' }, eof] },
      {
        name: 'operators and reference',
        input: '(a | +base) & b',
        expected: [
          { type: 'lparen', value: '(' },
          { type: 'ident', value: 'a' },
          { type: 'or', value: '|' },
          { type: 'ref', value: 'base' },
          { type: 'rparen', value: ')' },
          { type: 'and', value: '&' },
          { type: 'ident', value: 'b' },
          eof,
        ],
      },
      { name: 'empty ref', input: '+', error: "expected set name after '+' at position 1" },
      { name: 'invalid character', input: 'a @ b', error: 'unexpected character "@" at position 2' },
      { name: 'positions count characters, not UTF-16 units', input: '😀 @', error: 'unexpected character "😀" at position 0' },
    ];
    for (const { name, input, expected, error } of cases) {
      it(name, () => {
        if (error !== undefined) expect(() => tokenize(input)).to.throw(error);
        else expect(tokenize(input)).to.deep.equal(expected);
      });
    }
  });

  describe('parse', () => {
    it('| binds looser than &, and a single child is not wrapped', () => {
      expect(parseExpression(' a | b & c ')).to.deep.equal({
        kind: 'or',
        children: [{ kind: 'leaf', name: 'a' }, { kind: 'and', children: [{ kind: 'leaf', name: 'b' }, { kind: 'leaf', name: 'c' }] }],
      });
      expect(parseExpression('(a)')).to.deep.equal({ kind: 'leaf', name: 'a' });
    });
  });

  describe('projections (choices an expression allows)', () => {
    const cases: { name: string; dsl: string; relevant: string[]; expected: string[][] }[] = [
      { name: 'single model', dsl: 'a', relevant: ['a'], expected: [['a']] },
      { name: 'and', dsl: 'a & b', relevant: ['a', 'b'], expected: [['a', 'b']] },
      { name: 'or', dsl: 'a | b | c', relevant: ['a', 'b', 'c'], expected: [['a'], ['b'], ['c']] },
      { name: 'cartesian product', dsl: '(a | b) & (c | d)', relevant: ['a', 'b', 'c', 'd'], expected: [['a', 'c'], ['a', 'd'], ['b', 'c'], ['b', 'd']] },
      { name: 'precedence', dsl: 'a | b & c', relevant: ['a', 'b', 'c'], expected: [['a'], ['b', 'c']] },
      { name: 'deduplicates models', dsl: 'a & a', relevant: ['a'], expected: [['a']] },
      { name: 'choices that differ only in irrelevant models collapse to the first', dsl: '(a | b) & c', relevant: ['c'], expected: [['a', 'c']] },
    ];
    for (const { name, dsl, relevant, expected } of cases) {
      it(name, () => {
        const matrix = compileIdentity([{ name: 'test', dsl }], relevant.length === 1 ? ['a', 'b', 'c'] : relevant);
        expect(projectSet(setNamed(matrix, 'test'), relevant)).to.deep.equal(expected);
      });
    }

    it('references inline another set', () => {
      const models = ['g', 'q', 'm', 'v', 'e'];
      const matrix = compileIdentity(defs({ llms: 'g | q | m', with_tts: '+llms & v', mega: '+with_tts & e' }), models);
      expect(projectSet(setNamed(matrix, 'mega'), models)).to.deep.equal([
        ['e', 'g', 'v'],
        ['e', 'q', 'v'],
        ['e', 'm', 'v'],
      ]);
    });

    it('a referenced set shares its node (linked, not copied)', () => {
      const matrix = compileIdentity(defs({ llms: 'g | q', with_tts: '+llms & v' }), ['g', 'q', 'v']);
      const withTts = setNamed(matrix, 'with_tts').root;
      expect(withTts.kind === 'and' && withTts.children[0]?.kind === 'ref' && withTts.children[0].target).to.equal(setNamed(matrix, 'llms').root);
    });
  });

  describe('tie-break order', () => {
    it('is definition order, except that a referenced set comes before the set that references it', () => {
      const matrix = compileIdentity(defs({ mega: '+with_tts & e', first: 'g', with_tts: '+llms & v', llms: 'g | q' }), ['g', 'q', 'v', 'e']);
      expect(matrix.sets.map((s) => s.name)).to.deep.equal(['llms', 'with_tts', 'mega', 'first']);
    });

    it('support lists every model a set can name, through references', () => {
      const matrix = compileIdentity(defs({ llms: 'g | q', with_tts: '+llms & v' }), ['g', 'q', 'v']);
      expect([...setNamed(matrix, 'with_tts').support].sort()).to.deep.equal(['g', 'q', 'v']);
    });
  });

  describe('compile errors', () => {
    const resolve = (name: string) => (name === 'a' ? name : undefined);
    const cases: { name: string; sets: Record<string, string>; expected: { set: string | null; message: string }[] }[] = [
      { name: 'empty expression', sets: { s: '  ' }, expected: [{ set: 's', message: 'empty DSL expression' }] },
      { name: 'unmatched open paren', sets: { s: '(a' }, expected: [{ set: 's', message: 'missing closing parenthesis' }] },
      { name: 'unmatched close paren', sets: { s: 'a)' }, expected: [{ set: 's', message: 'unexpected token ")" after expression' }] },
      { name: 'empty parens', sets: { s: '()' }, expected: [{ set: 's', message: 'unexpected token ")"' }] },
      { name: 'dangling operator', sets: { s: 'a &' }, expected: [{ set: 's', message: 'unexpected end of expression' }] },
      { name: 'tokenizer error', sets: { s: 'a @' }, expected: [{ set: 's', message: 'unexpected character "@" at position 2' }] },
      { name: 'unknown model', sets: { s: 'missing' }, expected: [{ set: 's', message: 'unknown var or model "missing"' }] },
      { name: 'unknown reference', sets: { s: '+missing' }, expected: [{ set: 's', message: 'references undefined set "missing"' }] },
      { name: 'reference cycle', sets: { a: '+b', b: '+a' }, expected: [{ set: 'a', message: 'circular reference detected involving set "a"' }] },
      { name: 'self reference', sets: { a: 'a | +a' }, expected: [{ set: 'a', message: 'circular reference detected involving set "a"' }] },
      {
        name: 'every problem, not just the first',
        sets: { s: 'x & y', t: '(a', u: '+nope' },
        expected: [
          { set: 's', message: 'unknown var or model "x"' },
          { set: 's', message: 'unknown var or model "y"' },
          { set: 't', message: 'missing closing parenthesis' },
          { set: 'u', message: 'references undefined set "nope"' },
        ],
      },
      { name: 'no sets', sets: {}, expected: [{ set: null, message: 'matrix must define at least one set' }] },
    ];
    for (const { name, sets, expected } of cases) {
      it(name, () => {
        const result = compileSets(defs(sets), resolve);
        expect(result.errors).to.deep.equal(expected);
        expect(result.sets).to.deep.equal([]);
      });
    }
  });
});

import { expect } from 'chai';
import { deletePath, setPath, splitPath } from '../../../lib/gateway/json-path.js';

describe('json-path (sjson-style dotted filter keys)', function () {
  it('splits on dots, \\. is a literal dot', function () {
    expect(splitPath('a.b\\.c.d')).to.deep.equal(['a', 'b.c', 'd']);
    expect(splitPath('temperature')).to.deep.equal(['temperature']);
  });

  const sets: [string, Record<string, unknown>, string, unknown, Record<string, unknown>][] = [
    ['a plain key', { a: 1 }, 'b', 2, { a: 1, b: 2 }],
    ['replaces a plain key', { a: 1 }, 'a', 'x', { a: 'x' }],
    ['a nested key in an existing object', { kw: { x: 1 } }, 'kw.enable_thinking', false, { kw: { x: 1, enable_thinking: false } }],
    ['creates missing objects', {}, 'provider.data_collection', 'deny', { provider: { data_collection: 'deny' } }],
    ['replaces a scalar on the way by an object', { a: 3 }, 'a.b', 1, { a: { b: 1 } }],
    ['an array index', { stop: ['a', 'b'] }, 'stop.1', 'z', { stop: ['a', 'z'] }],
    ['-1 appends', { stop: ['a'] }, 'stop.-1', 'b', { stop: ['a', 'b'] }],
    ['an escaped dot is one key', {}, 'a\\.b', 1, { 'a.b': 1 }],
  ];
  for (const [name, body, path, value, expected] of sets) {
    it(`set: ${name}`, function () {
      const frozen = structuredClone(body);
      expect(setPath(body, path, value)).to.deep.equal(expected);
      expect(body).to.deep.equal(frozen);
    });
  }

  const deletes: [string, Record<string, unknown>, string, Record<string, unknown>][] = [
    ['a plain key', { a: 1, b: 2 }, 'a', { b: 2 }],
    ['a nested key', { kw: { x: 1, y: 2 } }, 'kw.x', { kw: { y: 2 } }],
    ['a missing path is a no-op', { a: 1 }, 'b.c', { a: 1 }],
    ['an array element', { stop: ['a', 'b', 'c'] }, 'stop.1', { stop: ['a', 'c'] }],
    ['through a scalar is a no-op', { a: 1 }, 'a.b', { a: 1 }],
  ];
  for (const [name, body, path, expected] of deletes) {
    it(`delete: ${name}`, function () {
      const frozen = structuredClone(body);
      expect(deletePath(body, path)).to.deep.equal(expected);
      expect(body).to.deep.equal(frozen);
    });
  }
});

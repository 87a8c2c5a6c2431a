import { expect } from 'chai';
import { conflictsByModel } from '../../../lib/scheduler/groups.js';
import { group } from './helpers.js';

describe('scheduler / conflictsByModel (llama-swap group semantics)', () => {
  const cases: { name: string; groups: Parameters<typeof conflictsByModel>[0]; expected: Record<string, string[]> }[] = [
    {
      name: 'swap group: members exclude each other',
      groups: [group('g', ['a', 'b', 'c'], { exclusive: false })],
      expected: { a: ['b', 'c'], b: ['a', 'c'], c: ['a', 'b'] },
    },
    {
      name: 'non-swap group: members coexist',
      groups: [group('g', ['a', 'b'], { swap: false, exclusive: false })],
      expected: { a: [], b: [] },
    },
    {
      name: 'exclusive group evicts other groups, not the other way round',
      groups: [group('x', ['a']), group('y', ['b'], { swap: false, exclusive: false })],
      expected: { a: ['b'], b: [] },
    },
    {
      name: 'persistent groups are never evicted by others',
      groups: [group('x', ['a']), group('p', ['b'], { persistent: true }), group('z', ['c'], { exclusive: false })],
      expected: { a: ['c'], b: ['a', 'c'], c: [] },
    },
  ];
  for (const { name, groups, expected } of cases) {
    it(name, () => {
      const conflicts = conflictsByModel(groups);
      const actual = Object.fromEntries([...conflicts].map(([id, set]) => [id, [...set].sort()]));
      expect(actual).to.deep.equal(expected);
    });
  }
});

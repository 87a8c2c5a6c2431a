/** Builders for matrix tests: compile sets over a list of model ids (no vars), as llama-swap's compileIdentity. */
import { expect } from 'chai';
import { compileSets, type Definition } from '../../../../lib/scheduler/matrix/dsl.js';
import type { CompiledMatrix, CompiledSet } from '../../../../lib/scheduler/matrix/types.js';

export function compileIdentity(definitions: readonly Definition[], models: readonly string[], evictCosts: Record<string, number> = {}): CompiledMatrix {
  const known = new Set(models);
  const { sets, errors } = compileSets(definitions, (name) => (known.has(name) ? name : undefined));
  expect(errors).to.deep.equal([]);
  return { sets, evictCosts: new Map(Object.entries(evictCosts)), vars: new Map() };
}

/** `{ s_a: 'a', s_b: 'b' }` → definitions in that order. */
export function defs(sets: Record<string, string>): Definition[] {
  return Object.entries(sets).map(([name, dsl]) => ({ name, dsl }));
}

export function setNamed(matrix: CompiledMatrix, name: string): CompiledSet {
  const set = matrix.sets.find((s) => s.name === name);
  if (set === undefined) throw new Error(`no set ${name}`);
  return set;
}

/** Running models that cannot sleep: llama-swap's picture, where every eviction is a stop. */
export const stopping = (...ids: string[]) => ids.map((id) => ({ id, canSleep: false }));
export const sleeping = (...ids: string[]) => ids.map((id) => ({ id, canSleep: true }));

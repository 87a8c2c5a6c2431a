/**
 * Eviction by matrix (llama-swap's matrix router; used when the configuration has a matrix; group
 * rules are then ignored, and budgets may not be combined with it).
 *
 * "Running", for the solver, means holding awake memory: ready, loading, or releasing from awake.
 * An asleep or stopped model holds no (meaningful) memory and is not in the way, as in group mode.
 * The solver (`matrix/solver.ts`) picks the cheapest set holding the target; the running models
 * outside it are in the way, and the scheduler's usual rules apply to them (`planToClear`): busy or
 * loading → wait (all or nothing), idle → evict (sleep when it can), releasing → wait for it.
 * siesta's twist is in the costs: a model that can sleep costs half as much to evict.
 */
import { solveMatrix } from './matrix/solver.js';
import type { CompiledMatrix, MatrixDecision, RunningModel } from './matrix/types.js';
import { holdsMemory, planToClear, type ModelView, type Plan } from './plan.js';

/** The solver's view of the models other than `target` that hold memory; `alsoLoading` counts as loading. */
function runningBesides(target: ModelView, models: readonly ModelView[], alsoLoading?: ModelView): RunningModel[] {
  return models
    .filter((m) => m.id !== target.id && (m === alsoLoading || holdsMemory(m)))
    .map((m) => ({ id: m.id, canSleep: m.canSleep, releasing: m !== alsoLoading && m.state === 'releasing' }));
}

/** The solver's decision for loading `target` now. */
export function matrixDecision(target: ModelView, matrix: CompiledMatrix, models: readonly ModelView[]): MatrixDecision {
  return solveMatrix(matrix, target.id, runningBesides(target, models));
}

/** What loading `target` (stopped or asleep) takes under the matrix. */
export function planByMatrix(target: ModelView, matrix: CompiledMatrix, models: readonly ModelView[]): Plan {
  const evict = new Set(matrixDecision(target, matrix, models).evict);
  return planToClear(models.filter((m) => evict.has(m.id)));
}

/**
 * Whether `head`, once `other` is awake too, would have to evict `other` (the overtaking check:
 * letting `other` load ahead of a waiting `head` would then only make `head` evict it again).
 */
export function matrixWouldEvict(head: ModelView, other: ModelView, matrix: CompiledMatrix, models: readonly ModelView[]): boolean {
  return solveMatrix(matrix, head.id, runningBesides(head, models, other)).evict.includes(other.id);
}

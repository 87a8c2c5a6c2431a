/**
 * The matrix solver (llama-swap `internal/matrix/program.go`, Solve): when model T must load, pick
 * the set that contains T and whose evictions cost the least; evict the running models outside it.
 *
 * Rules
 * -----
 * 1. **Subset semantics.** A set only says which models may hold memory together; choosing it
 *    loads nothing but T. So a choice that keeps more running models is never worse.
 * 2. **Cost of a choice** = the sum of the eviction costs of the running models it leaves out.
 *    A model's cost is its `evict_costs` entry (default 1), then:
 *    - **siesta's sleep discount: × `SLEEP_COST_FACTOR` (0.5) when the model can sleep.** It comes
 *      back with a wake, not a cold start, so losing it hurts less. A factor rather than a tie-break:
 *      the cost stands for "what getting it back takes", and a wake takes a fraction of a load
 *      (vLLM level 1: seconds instead of a minute), so two sleepers weigh like one model that must
 *      stop. Halving is conservative (a sleeper still holds host memory and a wake is not free),
 *      so user weights that differ by more than 2× keep their order. It is exact (integers × 0.5
 *      are exact doubles, so ties stay ties), and when every running model can sleep, or none can,
 *      all costs scale alike and llama-swap's choice, ties included, is unchanged.
 *    - a model whose release is already under way costs 0: it leaves whatever is chosen.
 * 3. **Ties** go to the first candidate: sets in tie-break order (`CompiledMatrix.sets`: definition
 *    order, referenced sets first), and within a set in expression order.
 * 4. **A target in no set runs alone**: every running model is evicted.
 * 5. **A target already running** evicts nothing.
 *
 * How (llama-swap's projection, doc.go): only the target and the running models matter, so each
 * gets a bit; every expression is evaluated to the distinct masks of those bits it can produce
 * (OR merges, AND unions, references reuse the memoised result), dropping any mask that is a subset
 * of another (costs are never negative, so the superset is at least as good). The Cartesian
 * product is never expanded.
 */
import type { CompiledMatrix, CompiledSet, MatrixDecision, MatrixNode, RunningModel } from './types.js';

/** Eviction cost multiplier for a model that can sleep (rule 2). */
export const SLEEP_COST_FACTOR = 0.5;

/** Eviction cost of one running model (rule 2). */
export function evictionCost(matrix: CompiledMatrix, model: RunningModel): number {
  if (model.releasing === true) return 0;
  const base = matrix.evictCosts.get(model.id) ?? 1;
  return model.canSleep ? base * SLEEP_COST_FACTOR : base;
}

/** Which models a choice keeps, for display: a leaf, or the two halves of an AND step. */
interface Witness {
  readonly model?: string;
  readonly left?: Witness | null;
  readonly right?: Witness | null;
}

interface State {
  readonly mask: bigint;
  readonly witness: Witness | null;
}

const isSubset = (a: bigint, b: bigint): boolean => (a & ~b) === 0n;

/** Add `candidate` unless a kept state covers it; drop the kept states it covers. */
function addToFrontier(states: readonly State[], candidate: State): State[] {
  if (states.some((state) => isSubset(candidate.mask, state.mask))) return [...states];
  return [...states.filter((state) => !isSubset(state.mask, candidate.mask)), candidate];
}

/** Projects expressions onto the bits of the models that matter to one query; memoised per node. */
class Evaluator {
  readonly bits = new Map<string, bigint>();
  readonly #memo = new Map<MatrixNode, readonly State[]>();

  constructor(relevant: readonly string[]) {
    for (const model of relevant) if (!this.bits.has(model)) this.bits.set(model, 1n << BigInt(this.bits.size));
  }

  bit(model: string): bigint {
    return this.bits.get(model) ?? 0n;
  }

  full(): bigint {
    return (1n << BigInt(this.bits.size)) - 1n;
  }

  evaluate(node: MatrixNode): readonly State[] {
    const known = this.#memo.get(node);
    if (known !== undefined) return known;
    let states: State[] = [];
    switch (node.kind) {
      case 'leaf':
        states = [{ mask: this.bit(node.model), witness: { model: node.model } }];
        break;
      case 'ref':
        states = [...this.evaluate(node.target)];
        break;
      case 'or':
        for (const child of node.children) for (const state of this.evaluate(child)) states = addToFrontier(states, state);
        break;
      case 'and':
        states = [{ mask: 0n, witness: null }];
        for (const child of node.children) {
          let combined: State[] = [];
          for (const left of states) {
            for (const right of this.evaluate(child)) {
              combined = addToFrontier(combined, { mask: left.mask | right.mask, witness: { left: left.witness, right: right.witness } });
            }
          }
          states = combined;
        }
        break;
    }
    this.#memo.set(node, states);
    return states;
  }
}

/** The models a witness names, deduplicated and sorted. */
function flattenWitness(root: Witness | null): string[] {
  const models = new Set<string>();
  const visit = (witness: Witness | null | undefined): void => {
    if (witness === null || witness === undefined) return;
    if (witness.model !== undefined) models.add(witness.model);
    visit(witness.left);
    visit(witness.right);
  };
  visit(root);
  return [...models].sort();
}

/**
 * The distinct choices of `set` that differ in `relevant` models, each as the sorted models of one
 * witness (llama-swap's projection; for tests and for showing what an expression allows).
 */
export function projectSet(set: CompiledSet, relevant: readonly string[]): string[][] {
  return new Evaluator(relevant).evaluate(set.root).map((state) => flattenWitness(state.witness));
}

/** The first set with a choice holding every one of `models` (rule 5's set name; coexistence checks). */
export function findContaining(matrix: CompiledMatrix, models: readonly string[]): CompiledSet | null {
  const evaluator = new Evaluator(models);
  const required = evaluator.full();
  for (const set of matrix.sets) {
    if (!models.every((model) => set.support.has(model))) continue;
    if (evaluator.evaluate(set.root).some((state) => isSubset(required, state.mask))) return set;
  }
  return null;
}

/** Whether some set lets all of `models` hold memory together (llama-swap `CanContainAll`). */
export function canContainAll(matrix: CompiledMatrix, models: readonly string[]): boolean {
  return models.length === 0 || findContaining(matrix, models) !== null;
}

/** Which running models to evict so that `target` can load (rules 1-5). Pure. */
export function solveMatrix(matrix: CompiledMatrix, target: string, running: readonly RunningModel[]): MatrixDecision {
  if (running.some((model) => model.id === target)) {
    const ids = running.map((model) => model.id);
    const set = findContaining(matrix, ids);
    return { evict: [], targetSet: ids, setName: set?.name ?? null, dsl: set?.dsl ?? null, totalCost: 0 };
  }
  const evaluator = new Evaluator([target, ...running.map((model) => model.id)]);
  const targetBit = evaluator.bit(target);
  const costs = running.map((model) => ({ model, bit: evaluator.bit(model.id), cost: evictionCost(matrix, model) }));
  let best: { set: CompiledSet; state: State; cost: number } | null = null;
  for (const set of matrix.sets) {
    if (!set.support.has(target)) continue;
    for (const state of evaluator.evaluate(set.root)) {
      if ((state.mask & targetBit) === 0n) continue;
      let cost = 0;
      for (const entry of costs) if ((state.mask & entry.bit) === 0n) cost += entry.cost;
      if (best === null || cost < best.cost) best = { set, state, cost };
    }
  }
  if (best === null) {
    const cost = costs.reduce((sum, entry) => sum + entry.cost, 0);
    return { evict: running.map((model) => model.id), targetSet: [target], setName: null, dsl: null, totalCost: cost };
  }
  const { state } = best;
  return {
    evict: costs.filter((entry) => (state.mask & entry.bit) === 0n).map((entry) => entry.model.id),
    targetSet: flattenWitness(state.witness),
    setName: best.set.name,
    dsl: best.set.dsl,
    totalCost: best.cost,
  };
}

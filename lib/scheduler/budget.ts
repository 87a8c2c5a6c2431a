/**
 * Eviction by need (used when global `resources` budgets are set; group rules are then ignored).
 *
 * Usage of a model: awake figures while ready or loading, asleep figures while asleep or while
 * ready but asleep by itself (`selfAsleep`: llama-server `--sleep-idle-seconds`), while releasing
 * what it held before (memory is not free until the release is confirmed), nothing while stopped.
 * A model T fits when
 * the usage of every other model plus T's awake figures stays within every budget dimension given.
 *
 * When T does not fit: idle ready models are evicted least recently used first, each put to sleep
 * when it can sleep, until T fits (a self-asleep model is not put to sleep: that frees nothing). If sleeping is not enough (the sleepers' asleep VRAM/RAM still
 * overflow), sleepers and models already asleep are stopped instead, least recently used first.
 * When even that is not enough, T waits for busy or loading models (`needs` names the ready models
 * whose eviction is needed), unless T alone exceeds a budget: then it can never fit.
 */
import type { ResourceAmounts } from '../config/types.js';
import { byLeastRecentlyUsed, isIdleReady, type ModelView, type Plan } from './plan.js';
import type { EvictAction } from './types.js';

const DIMENSIONS = ['vram', 'ram'] as const;
type Dimension = (typeof DIMENSIONS)[number];
type Usage = Record<Dimension, number>;

const ZERO: Usage = { vram: 0, ram: 0 };

function awakeUsage(model: ModelView): Usage {
  return { vram: model.resources.vram ?? 0, ram: model.resources.ram ?? 0 };
}

function asleepUsage(model: ModelView): Usage {
  return { vram: model.resources.asleep?.vram ?? 0, ram: model.resources.asleep?.ram ?? 0 };
}

/** What the model holds right now. */
export function currentUsage(model: ModelView): Usage {
  switch (model.state) {
    case 'stopped':
      return ZERO;
    case 'asleep':
      return asleepUsage(model);
    case 'releasing':
      return model.releasingFrom === 'asleep' || model.selfAsleep === true ? asleepUsage(model) : awakeUsage(model);
    case 'ready':
      return model.selfAsleep === true ? asleepUsage(model) : awakeUsage(model);
    default:
      return awakeUsage(model);
  }
}

/** What the model will hold once a release under way is done. */
function eventualUsage(model: ModelView): Usage {
  if (model.state !== 'releasing') return currentUsage(model);
  return model.releasingTo === 'stopped' ? ZERO : asleepUsage(model);
}

export function totalUsage(models: readonly ModelView[]): Usage {
  const total = { vram: 0, ram: 0 };
  for (const model of models) {
    const usage = currentUsage(model);
    total.vram += usage.vram;
    total.ram += usage.ram;
  }
  return total;
}

export function hasBudgets(budgets: ResourceAmounts | undefined): budgets is ResourceAmounts {
  return budgets !== undefined && (budgets.vram !== undefined || budgets.ram !== undefined);
}

function formatBytes(bytes: number): string {
  return `${(bytes / 2 ** 30).toFixed(1)} GiB`;
}

const LABEL: Record<Dimension, string> = { vram: 'VRAM', ram: 'RAM' };

class Projection {
  readonly #usage = new Map<string, Usage>();
  readonly #targetNeed: Usage;
  readonly #budgets: ResourceAmounts;

  constructor(target: ModelView, others: readonly ModelView[], budgets: ResourceAmounts, usageOf: (m: ModelView) => Usage) {
    this.#targetNeed = awakeUsage(target);
    this.#budgets = budgets;
    for (const model of others) this.#usage.set(model.id, usageOf(model));
  }

  set(model: ModelView, usage: Usage): void {
    this.#usage.set(model.id, usage);
  }

  fits(): boolean {
    return DIMENSIONS.every((dimension) => {
      const budget = this.#budgets[dimension];
      if (budget === undefined) return true;
      let total = this.#targetNeed[dimension];
      for (const usage of this.#usage.values()) total += usage[dimension];
      return total <= budget;
    });
  }
}

/**
 * Greedy choice of victims: sleep (or stop) `candidates` in LRU order until it fits, then, if it
 * still does not, stop sleepers and asleep models in LRU order. Null when it never fits.
 */
function chooseVictims(projection: Projection, candidates: readonly ModelView[], asleep: readonly ModelView[]): Map<string, EvictAction> | null {
  const chosen = new Map<string, EvictAction>();
  for (const model of [...candidates].sort(byLeastRecentlyUsed)) {
    if (projection.fits()) return chosen;
    const action: EvictAction = model.canSleep ? 'sleep' : 'stop';
    projection.set(model, action === 'sleep' ? asleepUsage(model) : ZERO);
    chosen.set(model.id, action);
  }
  const sleepers = [...asleep, ...candidates.filter((m) => chosen.get(m.id) === 'sleep')];
  for (const model of sleepers.sort(byLeastRecentlyUsed)) {
    if (projection.fits()) return chosen;
    projection.set(model, ZERO);
    chosen.set(model.id, 'stop');
  }
  return projection.fits() ? chosen : null;
}

/** What loading `target` (stopped or asleep) takes under the budgets. */
export function planByBudget(target: ModelView, models: readonly ModelView[], budgets: ResourceAmounts): Plan {
  const need = awakeUsage(target);
  for (const dimension of DIMENSIONS) {
    const budget = budgets[dimension];
    if (budget !== undefined && need[dimension] > budget) {
      return {
        kind: 'impossible',
        message: `model "${target.id}" needs ${formatBytes(need[dimension])} of ${LABEL[dimension]}, more than the whole budget of ${formatBytes(budget)}`,
      };
    }
  }
  const others = models.filter((m) => m.id !== target.id);
  if (new Projection(target, others, budgets, currentUsage).fits()) return { kind: 'load' };

  const eventual = new Projection(target, others, budgets, eventualUsage);
  // Releases under way are enough: wait for them.
  if (eventual.fits()) return { kind: 'wait', needs: [] };

  // A self-asleep model already holds only its asleep figures: putting it to sleep frees nothing,
  // so it is only a candidate for the stop pass, like a model asleep by siesta.
  const asleep = others.filter((m) => m.state === 'asleep' || (isIdleReady(m) && m.selfAsleep === true));
  const victims = chooseVictims(eventual, others.filter((m) => isIdleReady(m) && m.selfAsleep !== true), asleep);
  if (victims !== null) return { kind: 'evict', victims: [...victims].map(([model, action]) => ({ model, action })) };

  // Not enough idle memory: find which busy models would have to go, once they are idle.
  const whenIdle = new Projection(target, others, budgets, eventualUsage);
  const waitable = others.filter((m) => m.state === 'ready' || m.state === 'loading');
  const sleepingSoon = others.filter((m) => m.state === 'asleep' || (m.state === 'releasing' && m.releasingTo !== 'stopped'));
  const needed = chooseVictims(whenIdle, waitable, sleepingSoon);
  const needs = others.filter((m) => m.state === 'ready' && (needed === null || needed.has(m.id)));
  return { kind: 'wait', needs: needs.sort(byLeastRecentlyUsed).map((m) => m.id) };
}

/**
 * What it takes to admit a model that is not awake: the answer of the eviction policies
 * (`groups.ts`, `matrix.ts`, `budget.ts`), given the scheduler's current view of every model.
 */
import type { GroupConfig, ModelResources } from '../config/types.js';
import type { EvictAction, ReleasedTo, SchedulerModelState } from './types.js';

/** The scheduler's view of one model, as the policies read it. */
export interface ModelView {
  readonly id: string;
  /** Position in the configuration: the tie-breaker wherever an order is needed. */
  readonly index: number;
  readonly group: GroupConfig;
  readonly canSleep: boolean;
  readonly priority: number;
  readonly resources: ModelResources;
  readonly state: SchedulerModelState;
  readonly releasingTo: ReleasedTo | null;
  /** What a `releasing` model held before the release began (it holds that until it is asleep or stopped). */
  readonly releasingFrom: 'awake' | 'asleep' | null;
  readonly inFlight: number;
  /**
   * A ready model whose backend unloaded itself (llama-server `--sleep-idle-seconds`, `/props`
   * `is_sleeping`): budgets count its asleep figures instead of its awake ones. Absent = awake.
   */
  readonly selfAsleep?: boolean;
  /** Epoch ms of the last grant or completion; -Infinity when never used. */
  readonly lastUsedAt: number;
}

export interface Eviction {
  readonly model: string;
  readonly action: EvictAction;
}

export type Plan =
  /** Nothing is in the way: load now. */
  | { readonly kind: 'load' }
  /** Evict these idle models now; load once they are released. */
  | { readonly kind: 'evict'; readonly victims: readonly Eviction[] }
  /**
   * Something in the way cannot be evicted yet (requests in flight, loading, or a release already
   * under way). `needs` lists the ready models (busy or idle) that must be evicted before the
   * target can load: the scheduler stops serving them ahead of the waiter once it has waited long.
   */
  | { readonly kind: 'wait'; readonly needs: readonly string[] }
  /** It can never fit, even with every other model stopped. */
  | { readonly kind: 'impossible'; readonly message: string };

export function isIdleReady(model: ModelView): boolean {
  return model.state === 'ready' && model.inFlight === 0;
}

/** Awake memory: ready, loading, or releasing from awake (memory is not free until the release is done). */
export function holdsMemory(model: ModelView): boolean {
  if (model.state === 'releasing') return model.releasingFrom !== 'asleep';
  return model.state !== 'stopped' && model.state !== 'asleep';
}

/**
 * The plan once a policy has said which models are in the way (each holds memory). Evicted models
 * sleep when they can, else stop.
 */
export function planToClear(inTheWay: readonly ModelView[]): Plan {
  if (inTheWay.length === 0) return { kind: 'load' };
  // All or nothing: idle victims are evicted only once the whole swap can proceed, so a swap that
  // has to wait for a busy model does not throw away models that may be asked for meanwhile.
  if (inTheWay.some((m) => (m.state === 'ready' && m.inFlight > 0) || m.state === 'loading')) {
    return { kind: 'wait', needs: inTheWay.filter((m) => m.state === 'ready').map((m) => m.id) };
  }
  const evictable = inTheWay.filter(isIdleReady);
  // Only releases already under way are left: wait for them.
  if (evictable.length === 0) return { kind: 'wait', needs: [] };
  return { kind: 'evict', victims: evictable.map((m) => ({ model: m.id, action: m.canSleep ? 'sleep' : 'stop' })) };
}

/** Least recently used first; never-used models first of all; configuration order among equals. */
export function byLeastRecentlyUsed(a: ModelView, b: ModelView): number {
  if (a.lastUsedAt !== b.lastUsedAt) return a.lastUsedAt < b.lastUsedAt ? -1 : 1;
  return a.index - b.index;
}

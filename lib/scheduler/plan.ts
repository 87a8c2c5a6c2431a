/**
 * What it takes to admit a model that is not awake: the answer of the eviction policies
 * (`groups.ts`, `budget.ts`), given the scheduler's current view of every model.
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
  /** What a `releasing` model held before the release began (it holds that until `released`). */
  readonly releasingFrom: 'awake' | 'asleep' | null;
  readonly inFlight: number;
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

/** Least recently used first; never-used models first of all; configuration order among equals. */
export function byLeastRecentlyUsed(a: ModelView, b: ModelView): number {
  if (a.lastUsedAt !== b.lastUsedAt) return a.lastUsedAt < b.lastUsedAt ? -1 : 1;
  return a.index - b.index;
}

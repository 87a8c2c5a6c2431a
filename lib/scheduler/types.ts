/**
 * Types of the scheduler: what it is built from, the events it is fed, the effects it returns and
 * the read-only snapshot it exposes. See `scheduler.ts` for the policy.
 */
import type { GroupConfig, ModelResources, ResourceAmounts } from '../config/types.js';
import type { ModelState } from '../process/states.js';
import type { CompiledMatrix } from './matrix/types.js';

/** What the scheduler needs to know about one model. */
export interface SchedulerModel {
  readonly id: string;
  /** Whether an eviction can put it to sleep (plugin or config has a sleep recipe, sleep enabled). */
  readonly canSleep: boolean;
  /** Queue priority; higher goes first, FIFO among equals. */
  readonly priority: number;
  /** Bytes held awake and asleep; only read when budgets are set. */
  readonly resources: ModelResources;
}

export interface SchedulerOptions {
  readonly models: readonly SchedulerModel[];
  /**
   * Every group, including the implicit default one; every model is in exactly one group. With a
   * matrix, group rules are ignored (groups only label models in the snapshot) and a model may be
   * in no group.
   */
  readonly groups: readonly GroupConfig[];
  /** Global budgets; when any dimension is set, evictions are decided by need instead of by groups. */
  readonly budgets?: ResourceAmounts;
  /**
   * The compiled matrix (`lib/scheduler/matrix`): when given, evictions are decided by the matrix
   * solver instead of by groups. Cannot be combined with budgets.
   */
  readonly matrix?: CompiledMatrix;
  /**
   * How long a queued request that needs a busy model evicted lets newer requests of equal priority
   * for that busy model be served ahead of it (anti-starvation). Default 30 s. `Infinity` = always.
   */
  readonly maxBypassMs?: number;
}

/** The scheduler's own coarse view of a model (the process owner has the fine-grained states). */
export type SchedulerModelState = 'stopped' | 'loading' | 'ready' | 'releasing' | 'asleep';

export type ReleasedTo = 'asleep' | 'stopped';

/**
 * Why a start or wake failed: the error the process owner gave. The scheduler reads only its
 * message and hands it back untouched as the `cause` of the rejections it leads to.
 */
export interface StartFailure {
  readonly message: string;
}

export type SchedulerEvent =
  /** A client wants to use `model` (an id, aliases already resolved). `at` is epoch milliseconds. */
  | { readonly type: 'request'; readonly requestId: string; readonly model: string; readonly at: number }
  /** The client went away: leaves the queue, or counts as `serve-done` when already granted. */
  | { readonly type: 'cancel'; readonly requestId: string; readonly at?: number }
  /** A granted request finished. */
  | { readonly type: 'serve-done'; readonly requestId: string; readonly at: number }
  /**
   * The model's process changed state: every change, whoever caused it (a `load` or `evict`
   * effect, the idle ladder, the admin API, a crash), in the order the process made them — the
   * one way the scheduler learns a model's state. `failure` comes with the change that ends a
   * start or wake that failed (to `stopped`).
   */
  | { readonly type: 'state'; readonly model: string; readonly state: ModelState; readonly failure?: StartFailure }
  /**
   * A ready model's backend unloaded (or reloaded) its weights by itself (llama-server
   * `--sleep-idle-seconds`): while asleep, budgets count its `resources.asleep` (zero when not
   * given) instead of its awake figures. Ignored unless the model is ready; any later state change
   * ends it.
   */
  | { readonly type: 'self-sleep'; readonly model: string; readonly asleep: boolean }
  /** The gateway is closing: reject everything queued and everything that arrives later. */
  | { readonly type: 'shutdown' };

export type EvictAction = 'sleep' | 'stop';

export type RejectCode = 'start_failed' | 'shutting_down';

export type SchedulerEffect =
  /** Make the model ready (start or wake: the process owner knows which). Its `state` events tell how it went. */
  | { readonly type: 'load'; readonly model: string }
  /** Release the model's memory. Done when its `state` events reach `asleep` or `stopped`. */
  | { readonly type: 'evict'; readonly model: string; readonly action: EvictAction }
  /** The request may go to the upstream now. Answer with `serve-done` (or `cancel`) when it ends. */
  | { readonly type: 'grant'; readonly requestId: string; readonly model: string }
  /**
   * The request is dropped from the queue and must be answered with this error; `cause` is the
   * failure of the start it waited for (a `state` event's `failure`), when that is why.
   */
  | { readonly type: 'reject'; readonly requestId: string; readonly code: RejectCode; readonly message: string; readonly cause?: StartFailure }
  /** The request's 1-based place in the queue changed (emitted only on change). */
  | { readonly type: 'position'; readonly requestId: string; readonly position: number };

export interface ModelSnapshot {
  readonly id: string;
  readonly group: string;
  readonly state: SchedulerModelState;
  /** Where a `releasing` model is going; null otherwise. */
  readonly releasingTo: ReleasedTo | null;
  readonly inFlight: number;
  readonly queued: number;
  /** Epoch ms of the last grant or completion; null when never used. */
  readonly lastUsedAt: number | null;
}

export interface QueueEntrySnapshot {
  readonly requestId: string;
  readonly model: string;
  readonly priority: number;
  readonly queuedAt: number;
  /** 1-based. */
  readonly position: number;
}

export interface SchedulerSnapshot {
  readonly mode: 'groups' | 'budgets' | 'matrix';
  readonly shuttingDown: boolean;
  readonly models: readonly ModelSnapshot[];
  readonly queue: readonly QueueEntrySnapshot[];
  /** Budget mode only: what the models hold now (awake, loading and releasing count as awake). */
  readonly usage: ResourceAmounts | null;
  readonly budgets: ResourceAmounts | null;
}

/**
 * (Over 300 lines on purpose: the numbered policy below and the one function per event that applies
 * it belong together, so each rule can be read next to its code.)
 *
 * The scheduler: a synchronous state machine with no I/O, no timers and no promises. The gateway
 * feeds it events (`handle(event)`) and carries out the effects it returns, in order. A grant's
 * outcome comes back as `serve-done` or `cancel`; the outcome of a `load` or `evict` comes back
 * through the one stream of the models' `state` changes (rule 10), which also carries every change
 * nobody asked the scheduler for (idle ladder, admin API, crash).
 *
 * Policy
 * ------
 * 1. **Ready models serve at once.** A request for a ready model is granted immediately, even while
 *    other requests wait, so A B A B with A ready gives A A now and B B after one swap (A A B B),
 *    not a swap per request. Requests for a loading model wait for that one load.
 * 2. **Queue order.** Waiting requests are ordered by model `priority` (higher first), FIFO among
 *    equals. Positions (1-based, over the whole queue) are emitted whenever they change.
 * 3. **Heads.** Walking the queue in order, the first waiting request of each model that is stopped
 *    or asleep asks the eviction policy (groups; budgets when set; the matrix when configured, see
 *    rule 8) what loading it takes:
 *    - nothing in the way → `load`;
 *    - only idle ready models in the way → `evict` them all (sleep when the model can sleep;
 *      budget mode may turn that into a stop, and may stop models already asleep), then `load`
 *      once each of them is `asleep` or `stopped`;
 *    - a model in the way is busy (requests in flight) or loading → wait, evicting nothing yet
 *      (all or nothing). A model with requests in flight is never evicted.
 *    - it can never fit (budget mode: the model alone exceeds a budget) → reject its requests.
 *    A request for a model that is being released waits for the release, then loads it again.
 * 4. **Overtaking.** A later head may be admitted while an earlier head waits only in group or
 *    matrix mode, and only when the later model is not one the earlier head will have to evict
 *    (else the two would ping-pong); in matrix mode: when the solver, asked for the earlier head
 *    with the later model awake, keeps the later model. In budget mode loads are strictly in queue
 *    order, because any load eats memory that the earlier head is waiting for.
 * 5. **Swap barrier (anti-starvation).** Once a swap is decided (evictions issued) the evicted model
 *    is `releasing` and is not ready, so its new requests queue behind the swap. Before that, while
 *    a waiter needs ready model R evicted (R is busy, so the swap cannot start yet), a new request
 *    for R is still served at once (rule 1) unless that waiter ranks strictly higher in priority
 *    or has waited `maxBypassMs` (default 30 s) or more: then R's new requests queue, R drains, and
 *    the swap proceeds. Queued requests for R are served again if that waiter leaves (cancel).
 * 6. **Cancel.** A queued request leaves the queue; a load that only it wanted is never issued
 *    (plans are recomputed from the queue on every event). A load or eviction already issued just
 *    completes. Cancelling a granted request counts as `serve-done`.
 * 7. **Failures and shutdown.** A load the scheduler asked for fails when the model's process
 *    reports `stopped` with a `failure`: every queued request for the model is rejected
 *    (`start_failed`, the failure's message, the failure itself as `cause`) and the model is
 *    stopped. `shutdown` rejects everything queued and everything that arrives later
 *    (`shutting_down`); nothing more is loaded or evicted.
 * 8. **Matrix mode** (llama-swap's matrix router; `matrix-plan.ts`, `matrix/solver.ts`). The models
 *    holding awake memory (ready, loading, releasing from awake) are "running"; the solver picks,
 *    among the sets containing the target, the one whose left-out running models cost least to
 *    evict (`evict_costs`, default 1; ties to the earlier set) and those models are in the way,
 *    under rule 3 (busy ones are never evicted, all or nothing). siesta's twist: a model that can
 *    sleep costs half as much to evict (it comes back with a wake, not a cold start), and a model
 *    already releasing costs nothing. A target in no set runs alone. Group rules do not apply, and
 *    a matrix cannot be combined with budgets.
 * 9. **Self-sleep** (llama-server `--sleep-idle-seconds`). `self-sleep` marks a ready model whose
 *    backend unloaded itself: budgets count its `resources.asleep` (zero when not given) instead of
 *    its awake figures, so others load beside it without evicting it; budget mode never puts it to
 *    sleep again (that frees nothing) but may stop it like a model asleep. It is still ready (a
 *    request reloads it in the backend) and ends with `self-sleep` false or any state change other
 *    than a release.
 * 10. **One state stream.** Every state change of every model's process arrives as a `state`
 *    event, in order, whoever caused it; the scheduler's view follows it (`VIEW_OF_STATE`). The
 *    scheduler remembers only what it asked for: after a `load` the model stays `loading` until
 *    its process is `ready` (the load is done), `stopped` with a `failure` (rule 7) or `shutdown`
 *    (nobody rejected: the gateway's `shutdown` event does that), whatever steps come between (a
 *    failed wake falls back to a stop and a cold start); an `evict` marks it
 *    `releasing` until the process rests `asleep` or `stopped`. A change it did not ask for never
 *    rejects waiters, failure or not: a model that stops while requests wait for it is simply
 *    planned again.
 *
 * The contract with the gateway: relay every state change of every model's process as a `state`
 * event (with the failure of a start or wake that failed), synchronously and in order.
 */
import type { GroupConfig, ResourceAmounts } from '../config/types.js';
import type { ModelState } from '../process/states.js';
import { hasBudgets, planByBudget, totalUsage } from './budget.js';
import { conflictsByModel, planByGroups } from './groups.js';
import { matrixWouldEvict, planByMatrix } from './matrix-plan.js';
import type { CompiledMatrix } from './matrix/types.js';
import type { ModelView, Plan } from './plan.js';
import type {
  ModelSnapshot,
  ReleasedTo,
  RejectCode,
  SchedulerEffect,
  SchedulerEvent,
  SchedulerModel,
  SchedulerModelState,
  SchedulerOptions,
  SchedulerSnapshot,
  StartFailure,
} from './types.js';

export const DEFAULT_MAX_BYPASS_MS = 30_000;

const SHUTTING_DOWN_MESSAGE = 'the gateway is shutting down';

/** The group a model in no group is shown in, in matrix mode (where groups carry no rules). */
const UNGROUPED: GroupConfig = { id: '(default)', swap: false, exclusive: false, persistent: false, members: [] };

/** How the process owner's fine-grained states map onto the scheduler's view. */
const VIEW_OF_STATE: Readonly<Record<ModelState, { state: SchedulerModelState; releasingTo: ReleasedTo | null }>> = {
  stopped: { state: 'stopped', releasingTo: null },
  shutdown: { state: 'stopped', releasingTo: null },
  starting: { state: 'loading', releasingTo: null },
  waking: { state: 'loading', releasingTo: null },
  ready: { state: 'ready', releasingTo: null },
  sleeping: { state: 'releasing', releasingTo: 'asleep' },
  stopping: { state: 'releasing', releasingTo: 'stopped' },
  asleep: { state: 'asleep', releasingTo: null },
};

class ModelRecord implements ModelView {
  state: SchedulerModelState = 'stopped';
  releasingTo: ReleasedTo | null = null;
  releasingFrom: 'awake' | 'asleep' | null = null;
  lastUsedAt = -Infinity;
  selfAsleep = false;
  /** A `load` was issued and its process has not reported ready or a failure yet (rule 10). */
  loadAsked = false;
  /** The requests granted and not done: its own count, not the process's leases (lib/process/leases.ts says why). */
  readonly granted = new Set<string>();

  constructor(
    readonly spec: SchedulerModel,
    readonly index: number,
    readonly group: GroupConfig,
  ) {}

  get id(): string {
    return this.spec.id;
  }
  get canSleep(): boolean {
    return this.spec.canSleep;
  }
  get priority(): number {
    return this.spec.priority;
  }
  get resources(): SchedulerModel['resources'] {
    return this.spec.resources;
  }
  get inFlight(): number {
    return this.granted.size;
  }
}

interface QueuedRequest {
  readonly requestId: string;
  readonly model: ModelRecord;
  readonly at: number;
  readonly priority: number;
  readonly seq: number;
}

/** Queue order: higher priority first, then arrival. */
function compareRequests(a: QueuedRequest, b: QueuedRequest): number {
  return b.priority - a.priority || a.seq - b.seq;
}

function validate(options: SchedulerOptions): void {
  const problems: string[] = [];
  const ids = new Set<string>();
  for (const model of options.models) {
    if (ids.has(model.id)) problems.push(`model "${model.id}" is listed twice`);
    ids.add(model.id);
  }
  const groupOf = new Map<string, string>();
  for (const group of options.groups) {
    for (const member of group.members) {
      if (!ids.has(member)) problems.push(`group "${group.id}" lists unknown model "${member}"`);
      const previous = groupOf.get(member);
      if (previous !== undefined) problems.push(`model "${member}" is in groups "${previous}" and "${group.id}"; a model belongs to exactly one group`);
      groupOf.set(member, group.id);
    }
  }
  if (options.matrix === undefined) {
    for (const id of ids) {
      if (!groupOf.has(id)) problems.push(`model "${id}" is in no group; put ungrouped models in the default group`);
    }
  } else {
    if (hasBudgets(options.budgets)) problems.push('a matrix cannot be combined with resource budgets; use one or the other');
    const named = new Set(options.matrix.sets.flatMap((set) => [...set.support]));
    for (const id of [...named, ...options.matrix.evictCosts.keys()]) {
      if (!ids.has(id)) problems.push(`the matrix names unknown model "${id}"`);
    }
  }
  for (const dimension of ['vram', 'ram'] as const) {
    const budget = options.budgets?.[dimension];
    if (budget !== undefined && !(budget >= 0)) problems.push(`budget ${dimension} must be a number of bytes >= 0, got ${budget}`);
  }
  if (options.maxBypassMs !== undefined && !(options.maxBypassMs >= 0)) {
    problems.push(`maxBypassMs must be >= 0 (Infinity to always serve ready models first), got ${options.maxBypassMs}`);
  }
  if (problems.length > 0) throw new Error(`invalid scheduler options:\n- ${problems.join('\n- ')}`);
}

export class Scheduler {
  readonly #models = new Map<string, ModelRecord>();
  readonly #ordered: readonly ModelRecord[];
  readonly #conflicts: ReadonlyMap<string, ReadonlySet<string>>;
  readonly #budgets: ResourceAmounts | null;
  readonly #matrix: CompiledMatrix | null;
  readonly #maxBypassMs: number;
  /** Waiting requests, kept in queue order. */
  #queue: QueuedRequest[] = [];
  readonly #grantedTo = new Map<string, ModelRecord>();
  readonly #lastPosition = new Map<string, number>();
  #seq = 0;
  #nowMs = -Infinity;
  #shuttingDown = false;

  constructor(options: SchedulerOptions) {
    validate(options);
    const groupOf = new Map<string, GroupConfig>();
    for (const group of options.groups) for (const member of group.members) groupOf.set(member, group);
    this.#ordered = options.models.map((spec, index) => {
      const group = groupOf.get(spec.id) ?? (options.matrix !== undefined ? UNGROUPED : undefined);
      if (group === undefined) throw new Error(`model "${spec.id}" is in no group`); // unreachable after validate()
      const record = new ModelRecord(spec, index, group);
      this.#models.set(spec.id, record);
      return record;
    });
    this.#conflicts = conflictsByModel(options.groups);
    this.#budgets = hasBudgets(options.budgets) ? options.budgets : null;
    this.#matrix = options.matrix ?? null;
    this.#maxBypassMs = options.maxBypassMs ?? DEFAULT_MAX_BYPASS_MS;
  }

  /** Feed one event; returns the effects to carry out, in order. */
  handle(event: SchedulerEvent): SchedulerEffect[] {
    const effects: SchedulerEffect[] = [];
    switch (event.type) {
      case 'request':
        this.#onRequest(event.requestId, this.#model(event.model), event.at, effects);
        break;
      case 'cancel':
        this.#onCancel(event.requestId, event.at);
        break;
      case 'serve-done':
        this.#finish(event.requestId, event.at);
        break;
      case 'state':
        this.#onState(this.#model(event.model), event.state, event.failure, effects);
        break;
      case 'self-sleep': {
        const model = this.#model(event.model);
        if (model.state === 'ready') model.selfAsleep = event.asleep;
        break;
      }
      case 'shutdown':
        this.#shuttingDown = true;
        this.#rejectWhere(() => true, 'shutting_down', SHUTTING_DOWN_MESSAGE, effects);
        break;
    }
    if (!this.#shuttingDown) this.#pump(effects);
    this.#emitPositions(effects);
    return effects;
  }

  /**
   * Whether a request for `modelId` arriving at `atMs` would be granted at once (rule 1, within the
   * swap barrier of rule 5). A pure query: the gateway's hot path asks it before committing a
   * request with `handle`, so a ready model is served without queueing machinery.
   */
  grantsAtOnce(modelId: string, atMs: number): boolean {
    const model = this.#model(modelId);
    if (this.#shuttingDown || model.state !== 'ready') return false;
    const probe: QueuedRequest = { requestId: '', model, at: atMs, priority: model.priority, seq: this.#seq + 1 };
    return !this.#mustQueueBehindSwap(probe, Math.max(this.#nowMs, atMs));
  }

  /** The scheduler's view of one model, or undefined for an unknown id. */
  stateOf(modelId: string): SchedulerModelState | undefined {
    return this.#models.get(modelId)?.state;
  }

  /** A read-only copy of the current view, for the status page and the API. */
  snapshot(): SchedulerSnapshot {
    const queuedPerModel = new Map<string, number>();
    for (const entry of this.#queue) queuedPerModel.set(entry.model.id, (queuedPerModel.get(entry.model.id) ?? 0) + 1);
    const models: ModelSnapshot[] = this.#ordered.map((m) => ({
      id: m.id,
      group: m.group.id,
      state: m.state,
      releasingTo: m.releasingTo,
      inFlight: m.inFlight,
      queued: queuedPerModel.get(m.id) ?? 0,
      lastUsedAt: Number.isFinite(m.lastUsedAt) ? m.lastUsedAt : null,
    }));
    const usage = this.#budgets === null ? null : totalUsage(this.#ordered);
    return {
      mode: this.#matrix !== null ? 'matrix' : this.#budgets === null ? 'groups' : 'budgets',
      shuttingDown: this.#shuttingDown,
      models,
      queue: this.#queue.map((entry, i) => ({
        requestId: entry.requestId,
        model: entry.model.id,
        priority: entry.priority,
        queuedAt: entry.at,
        position: i + 1,
      })),
      usage: usage === null ? null : { vram: usage.vram, ram: usage.ram },
      budgets: this.#budgets === null ? null : { ...this.#budgets },
    };
  }

  #model(id: string): ModelRecord {
    const model = this.#models.get(id);
    if (model === undefined) throw new Error(`scheduler: unknown model "${id}" (resolve aliases before calling the scheduler)`);
    return model;
  }

  #observe(atMs: number | undefined): void {
    if (atMs !== undefined && atMs > this.#nowMs) this.#nowMs = atMs;
  }

  #setState(model: ModelRecord, state: SchedulerModelState, releasingTo: ReleasedTo | null): void {
    // A self-sleep lasts while the model stays ready (and through its release: the memory stays free).
    if (state !== 'ready' && state !== 'releasing') model.selfAsleep = false;
    if (state === 'releasing') {
      if (model.state !== 'releasing') model.releasingFrom = model.state === 'asleep' ? 'asleep' : 'awake';
      model.releasingTo = releasingTo ?? 'stopped';
    } else {
      model.releasingFrom = null;
      model.releasingTo = null;
    }
    model.state = state;
  }

  /** Rules 7 and 10: the model's process changed state. */
  #onState(model: ModelRecord, state: ModelState, failure: StartFailure | undefined, effects: SchedulerEffect[]): void {
    if (model.loadAsked) {
      // A step of the load it asked for (waking, starting, or the stop of a failed wake): still loading.
      if (state !== 'ready' && state !== 'shutdown' && failure === undefined) return;
      model.loadAsked = false;
      if (failure !== undefined) {
        this.#setState(model, 'stopped', null);
        this.#rejectWhere((entry) => entry.model === model, 'start_failed', failure.message, effects, failure);
        return;
      }
    }
    const view = VIEW_OF_STATE[state];
    this.#setState(model, view.state, view.releasingTo);
  }

  #onRequest(requestId: string, model: ModelRecord, atMs: number, effects: SchedulerEffect[]): void {
    if (this.#grantedTo.has(requestId) || this.#queue.some((entry) => entry.requestId === requestId)) {
      throw new Error(`scheduler: request id "${requestId}" is already known`);
    }
    this.#observe(atMs);
    if (this.#shuttingDown) {
      effects.push({ type: 'reject', requestId, code: 'shutting_down', message: SHUTTING_DOWN_MESSAGE });
      return;
    }
    const entry: QueuedRequest = { requestId, model, at: atMs, priority: model.priority, seq: ++this.#seq };
    if (model.state === 'ready' && !this.#mustQueueBehindSwap(entry)) {
      this.#grant(entry, effects);
      return;
    }
    const index = this.#queue.findIndex((other) => compareRequests(entry, other) < 0);
    if (index === -1) this.#queue.push(entry);
    else this.#queue.splice(index, 0, entry);
  }

  #onCancel(requestId: string, atMs: number | undefined): void {
    const index = this.#queue.findIndex((entry) => entry.requestId === requestId);
    if (index !== -1) {
      this.#queue.splice(index, 1);
      this.#lastPosition.delete(requestId);
      return;
    }
    this.#finish(requestId, atMs);
  }

  #finish(requestId: string, atMs: number | undefined): void {
    this.#observe(atMs);
    const model = this.#grantedTo.get(requestId);
    if (model === undefined) return; // unknown or already finished: nothing to do
    this.#grantedTo.delete(requestId);
    model.granted.delete(requestId);
    model.lastUsedAt = Math.max(model.lastUsedAt, atMs ?? this.#nowMs);
  }

  #grant(entry: QueuedRequest, effects: SchedulerEffect[]): void {
    entry.model.granted.add(entry.requestId);
    entry.model.lastUsedAt = Math.max(entry.model.lastUsedAt, this.#nowMs);
    this.#grantedTo.set(entry.requestId, entry.model);
    this.#lastPosition.delete(entry.requestId);
    effects.push({ type: 'grant', requestId: entry.requestId, model: entry.model.id });
  }

  #rejectWhere(predicate: (entry: QueuedRequest) => boolean, code: RejectCode, message: string, effects: SchedulerEffect[], cause?: StartFailure): void {
    const kept: QueuedRequest[] = [];
    for (const entry of this.#queue) {
      if (predicate(entry)) {
        this.#lastPosition.delete(entry.requestId);
        effects.push({ type: 'reject', requestId: entry.requestId, code, message, ...(cause !== undefined ? { cause } : {}) });
      } else {
        kept.push(entry);
      }
    }
    this.#queue = kept;
  }

  #plan(target: ModelRecord): Plan {
    if (this.#matrix !== null) return planByMatrix(target, this.#matrix, this.#ordered);
    if (this.#budgets !== null) return planByBudget(target, this.#ordered, this.#budgets);
    return planByGroups(target, this.#conflicts.get(target.id) ?? new Set(), this.#ordered);
  }

  /**
   * Rule 5: a request for ready model R queues instead of being served when a waiter ranked ahead
   * of it needs R evicted and either outranks it in priority or has waited `maxBypassMs`.
   */
  #mustQueueBehindSwap(entry: QueuedRequest, nowMs: number = this.#nowMs): boolean {
    for (const waiter of this.#queue) {
      if (compareRequests(waiter, entry) >= 0) break; // the rest rank behind `entry`
      if (waiter.model === entry.model) continue;
      if (waiter.priority <= entry.priority && nowMs - waiter.at < this.#maxBypassMs) continue;
      if (waiter.model.state !== 'stopped' && waiter.model.state !== 'asleep') continue;
      const plan = this.#plan(waiter.model);
      const needed = plan.kind === 'wait' ? plan.needs : plan.kind === 'evict' ? plan.victims.map((v) => v.model) : [];
      if (needed.includes(entry.model.id)) return true;
    }
    return false;
  }

  /** Re-evaluate the queue until nothing more can happen now. */
  #pump(effects: SchedulerEffect[]): void {
    // Both passes only look at queued requests: with none (a ready model's usual request and its
    // serve-done), they would copy the empty queue and build their sets for nothing.
    if (this.#queue.length === 0) return;
    for (let changed = true; changed; ) {
      changed = this.#grantReady(effects);
      if (this.#admitHeads(effects)) changed = true;
    }
  }

  #grantReady(effects: SchedulerEffect[]): boolean {
    let changed = false;
    for (const entry of [...this.#queue]) {
      if (entry.model.state !== 'ready' || this.#mustQueueBehindSwap(entry)) continue;
      this.#queue.splice(this.#queue.indexOf(entry), 1);
      this.#grant(entry, effects);
      changed = true;
    }
    return changed;
  }

  #admitHeads(effects: SchedulerEffect[]): boolean {
    let changed = false;
    const waiting: ModelRecord[] = [];
    const seen = new Set<ModelRecord>();
    for (const entry of [...this.#queue]) {
      const target = entry.model;
      if (seen.has(target)) continue;
      seen.add(target);
      if (target.state === 'ready' || target.state === 'loading') continue;
      if (target.state === 'releasing') {
        waiting.push(target);
        continue;
      }
      const plan = this.#plan(target);
      if (plan.kind === 'impossible') {
        this.#rejectWhere((other) => other.model === target, 'start_failed', plan.message, effects);
        changed = true;
        continue;
      }
      if (!this.#mayOvertake(target, waiting)) {
        waiting.push(target);
        continue;
      }
      switch (plan.kind) {
        case 'load':
          this.#setState(target, 'loading', null);
          target.loadAsked = true;
          effects.push({ type: 'load', model: target.id });
          changed = true;
          break;
        case 'evict':
          for (const victim of plan.victims) {
            this.#setState(this.#model(victim.model), 'releasing', victim.action === 'sleep' ? 'asleep' : 'stopped');
            effects.push({ type: 'evict', model: victim.model, action: victim.action });
          }
          waiting.push(target);
          changed = true;
          break;
        case 'wait':
          waiting.push(target);
          break;
      }
    }
    return changed;
  }

  /** Rule 4: may `target` be admitted while the heads in `waiting` (ranked ahead of it) wait? */
  #mayOvertake(target: ModelRecord, waiting: readonly ModelRecord[]): boolean {
    if (waiting.length === 0) return true;
    const matrix = this.#matrix;
    if (matrix !== null) return waiting.every((head) => !matrixWouldEvict(head, target, matrix, this.#ordered));
    if (this.#budgets !== null) return false;
    return waiting.every((head) => !(this.#conflicts.get(head.id)?.has(target.id) ?? false));
  }

  #emitPositions(effects: SchedulerEffect[]): void {
    this.#queue.forEach((entry, i) => {
      const position = i + 1;
      if (this.#lastPosition.get(entry.requestId) === position) return;
      this.#lastPosition.set(entry.requestId, position);
      effects.push({ type: 'position', requestId: entry.requestId, position });
    });
  }
}

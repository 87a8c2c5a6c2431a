/**
 * The model manager: one ModelProcess per configured model, the scheduler that decides who runs,
 * and the glue that turns the scheduler's effects into process actions and process outcomes back
 * into scheduler events. It is the `ModelGate` the request chain uses.
 *
 * Longer than 300 lines because the reload hand-over (adopt, retire, forward queued requests to
 * the successor) shares the waiter bookkeeping with the scheduler glue; splitting them would put
 * one queue's invariants in two files. Issue 12 item 3 (one event stream for state) would shrink it.
 */
import { EventEmitter } from 'node:events';
import { DEFAULTS } from '../config/index.js';
import type { GatewayConfig, ModelConfig } from '../config/types.js';
import type { Clock } from '../clock.js';
import { GatewayError, toGatewayError } from '../errors.js';
import { silentLogger, type Logger } from '../logger.js';
import type { PluginRegistry } from '../plugins/registry.js';
import type { RecipeTimeouts } from '../plugins/recipes.js';
import type { HttpClient } from '../process/http.js';
import type { PortGuard } from '../process/port-check.js';
import { LogRing, type LogLine } from '../process/log-ring.js';
import { ModelProcess, restartFields, type Lease, type ReadyOutcome } from '../process/model-process.js';
import { reapLeftovers, type PidRecord } from '../process/pid-files.js';
import type { StepTiming } from '../process/recipe-runner.js';
import type { Spawner } from '../process/spawner.js';
import type { ModelState, StateChange } from '../process/states.js';
import { Scheduler } from '../scheduler/scheduler.js';
import type { SchedulerEffect, SchedulerEvent } from '../scheduler/types.js';
import { StepLog } from './model-view.js';
import type { AcquireOptions, LoadProgress, ModelAccess, ModelGate } from './types.js';

export interface ModelManagerOptions {
  readonly config: GatewayConfig;
  readonly plugins: PluginRegistry;
  readonly log?: Logger;
  readonly clock?: Clock;
  readonly spawner?: Spawner;
  readonly http?: HttpClient;
  /** The port checks of every model (default: connect probe plus /proc); unit tests inject a fake. */
  readonly portGuard?: PortGuard;
  /**
   * Running processes to take over from a previous manager (config reload), keyed by model id: the
   * models whose configuration did not change or changed only in fields that apply in place; each
   * adopts its new configuration.
   */
  readonly adopt?: ReadonlyMap<string, ModelProcess>;
  /**
   * Processes of the previous configuration still draining and stopping (reload). A model's new
   * process starts only after the old process of the same model, or one on the same port or proxy,
   * or of a model no longer configured, has stopped; until then the scheduler sees the model as
   * releasing, so its requests wait (they are not rejected) and a swap partner does not load early.
   */
  readonly retiring?: readonly Retiring[];
}

/** An old process being replaced on a config reload: it drains, then stops for good. */
export interface Retiring {
  readonly process: ModelProcess;
  /** Settles (never rejects) once the process has stopped. */
  readonly stopped: Promise<void>;
}

/** What a config reload does to each model (issue 11 defect 7). */
export interface ReloadPlan {
  /** Kept running with their new configuration: unchanged, or changed only in in-place fields. */
  readonly adopt: readonly string[];
  /** The adopted models whose configuration did change (in place). */
  readonly updated: readonly string[];
  /** Changed in a field that shapes the process (RELOAD_EFFECT): drained, stopped, started anew. */
  readonly restart: readonly string[];
  readonly added: readonly string[];
  readonly removed: readonly string[];
}

/** The reload plan from the old configuration to the new one: a pure decision per model. */
export function reloadPlan(before: GatewayConfig, after: GatewayConfig): ReloadPlan {
  const plan = { adopt: [] as string[], updated: [] as string[], restart: [] as string[], added: [] as string[], removed: [] as string[] };
  for (const id of Object.keys(before.models)) if (!Object.hasOwn(after.models, id)) plan.removed.push(id);
  for (const [id, model] of Object.entries(after.models)) {
    const old = Object.hasOwn(before.models, id) ? before.models[id] : undefined;
    if (old === undefined) plan.added.push(id);
    else if (restartFields(old, model).length > 0) plan.restart.push(id);
    else {
      plan.adopt.push(id);
      if (JSON.stringify(old) !== JSON.stringify(model)) plan.updated.push(id);
    }
  }
  return plan;
}

/** The models a reload starts, stops or restarts (what `reload()` reports as changed). */
export function changedModels(plan: ReloadPlan): string[] {
  return [...plan.restart, ...plan.added, ...plan.removed];
}

/**
 * How long a stop waits for the requests in flight. An admin unload (and an eviction, which only
 * meets requests the scheduler did not grant: those of a process adopted on a reload) waits the
 * model's unloadTimeout, as llama-swap bounds a stop by it; a reload, which nobody asked to cut
 * anything, waits at least RELOAD_DRAIN_MS. After that the process is stopped anyway (logged).
 */
export const RELOAD_DRAIN_MS = 10 * 60_000;
function unloadDrainMs(process: ModelProcess): number {
  return process.model.unloadTimeoutMs;
}
function reloadDrainMs(process: ModelProcess): number {
  return Math.max(process.model.unloadTimeoutMs, RELOAD_DRAIN_MS);
}

/** Whether `next` must not start before `old` has stopped: same model, same port or proxy, or a model no longer configured. */
function mustWaitFor(old: ModelConfig, next: ModelConfig, configured: GatewayConfig): boolean {
  return old.id === next.id || old.proxy === next.proxy || (old.port !== null && old.port === next.port) || !Object.hasOwn(configured.models, old.id);
}

/** What a new manager takes over from the previous one on a reload. */
export interface ReloadHandoff {
  readonly adopt: ReadonlyMap<string, ModelProcess>;
  readonly retiring: readonly Retiring[];
}

/**
 * The grace between SIGTERM and SIGKILL for a child left by an earlier gateway: the model's
 * unloadTimeoutMs, or for a model no longer configured the largest one configured (the default
 * when there is none).
 */
export function leftoverGraceMs(config: GatewayConfig): (model: string) => number {
  const configuredMs = Object.values(config.models).map((model) => model.unloadTimeoutMs);
  const largestMs = configuredMs.length > 0 ? Math.max(...configuredMs) : DEFAULTS.unloadTimeoutMs;
  return (model) => (Object.hasOwn(config.models, model) ? config.models[model]!.unloadTimeoutMs : largestMs);
}

interface Waiter {
  readonly model: string;
  readonly askedAt: number;
  readonly signal: AbortSignal;
  readonly onAbort: () => void;
  readonly resolve: (access: ModelAccess) => void;
  readonly reject: (error: unknown) => void;
  readonly onProgress: ((progress: LoadProgress) => void) | undefined;
  position: number | null;
  outcome: ReadyOutcome | null;
  granted: boolean;
}

type ManagerEvents = {
  state: [StateChange];
  log: [{ model: string; line: LogLine }];
  'self-sleep': [{ model: string; asleep: boolean }];
  /** One step of a sleep or wake succeeded (metrics). */
  'sleep-step': [StepTiming & { model: string }];
};

export class ModelManager extends EventEmitter<ManagerEvents> implements ModelGate {
  readonly config: GatewayConfig;
  readonly #processes = new Map<string, ModelProcess>();
  readonly #names = new Map<string, ModelConfig>();
  readonly #scheduler: Scheduler;
  readonly #waiters = new Map<string, Waiter>();
  /** Scheduler-initiated operations running per model; state changes outside them are `external`. */
  readonly #ownOps = new Map<string, number>();
  /**
   * The lease a finished load took, per model, until the scheduler's first grant for that model
   * takes it over (the grants follow `loaded` in the same turn; a lease nobody took is released).
   */
  readonly #loadLeases = new Map<string, { readonly process: ModelProcess; readonly lease: Lease }>();
  readonly #log: Logger;
  /** The steps of each model's last sleep and wake, for the model views. */
  readonly sleepSteps = new StepLog();
  #nextRequest = 0;
  #closed = false;
  /** After a config reload: the manager that serves now; requests that still reach this one go there. */
  #successor: ModelManager | null = null;
  /** Old processes still draining after reloads (this manager's own retirements and inherited ones). */
  #retiring: Retiring[] = [];
  /** The crash clean-up of `start()`; model starts wait for it. Never rejects. */
  #reaping: Promise<void> = Promise.resolve();

  constructor(options: ModelManagerOptions) {
    super();
    this.setMaxListeners(0);
    this.config = options.config;
    this.#log = options.log ?? silentLogger;
    const timeouts: RecipeTimeouts = { sleepTimeoutMs: this.config.sleepRequestTimeoutMs, wakeTimeoutMs: this.config.wakeRequestTimeoutMs };
    for (const model of Object.values(this.config.models)) {
      const plugin = options.plugins.get(model.backend);
      if (!plugin) throw new Error(`bug: model ${model.id} names backend ${model.backend}, which is not loaded`);
      const adopted = options.adopt?.get(model.id);
      if (adopted) {
        adopted.removeAllListeners('state').removeAllListeners('self-sleep').removeAllListeners('sleep-step').removeAllListeners('drained');
        adopted.logs.removeAllListeners('line');
        adopted.adopt(model);
      }
      const gates = (options.retiring ?? []).filter((old) => mustWaitFor(old.process.model, model, this.config)).map((old) => old.stopped);
      const logs = adopted?.logs ?? new LogRing();
      logs.on('line', (line) => this.emit('log', { model: model.id, line }));
      const process = adopted ?? new ModelProcess({
        model,
        plugin,
        timeouts,
        logs,
        log: this.#log,
        stateDir: this.config.stateDir,
        ...(options.clock ? { clock: options.clock } : {}),
        ...(options.spawner ? { spawner: options.spawner } : {}),
        ...(options.http ? { http: options.http } : {}),
        ...(options.portGuard ? { portGuard: options.portGuard } : {}),
        ...(gates.length > 0 ? { startGate: Promise.all(gates) } : {}),
      });
      process.on('state', (change) => this.#onState(change));
      process.on('self-sleep', (status) => {
        // Budgets count a self-asleep model's memory as free (scheduler rule 9).
        if (!this.#closed && this.#processes.get(status.model) === process) this.#apply({ type: 'self-sleep', model: status.model, asleep: status.asleep });
        this.emit('self-sleep', status);
      });
      process.on('sleep-step', (timing) => {
        this.sleepSteps.add(timing.model, timing);
        this.emit('sleep-step', timing);
      });
      process.on('step', ({ model: id, text }) => {
        for (const waiter of this.#waiters.values()) {
          if (waiter.model === id) waiter.onProgress?.({ state: this.state(id), position: waiter.position, step: text });
        }
      });
      this.#processes.set(model.id, process);
      this.#names.set(model.id, model);
    }
    for (const model of Object.values(this.config.models)) {
      for (const alias of model.aliases) if (!this.#names.has(alias)) this.#names.set(alias, model);
    }
    this.#scheduler = new Scheduler({
      models: [...this.#processes.values()].map((process) => ({
        id: process.id,
        canSleep: process.canSleep(),
        priority: process.model.priority,
        resources: process.model.resources,
      })),
      groups: this.config.groups,
      ...(this.config.routing.router === 'matrix' && this.config.routing.matrix !== null ? { matrix: this.config.routing.matrix } : {}),
      ...(this.config.resources.vram !== undefined || this.config.resources.ram !== undefined ? { budgets: this.config.resources } : {}),
    });
    for (const process of options.adopt?.values() ?? []) {
      if (this.#processes.get(process.id) !== process) continue;
      if (process.state !== 'stopped') this.#apply({ type: 'external', model: process.id, state: process.state });
      // Requests the previous manager granted are still in flight: the scheduler counts them as one
      // grant until the process has none left, so it does not evict a busy model to make room.
      if (process.state === 'ready' && process.inFlight > 0) {
        const requestId = `adopted-${process.id}`;
        this.#apply({ type: 'request', requestId, model: process.id, at: Date.now() });
        process.once('drained', () => this.#apply({ type: 'serve-done', requestId, at: Date.now() }));
      }
    }
    for (const old of options.retiring ?? []) {
      if (old.process.state === 'shutdown') continue; // already gone
      this.#retiring.push(old);
      const id = old.process.id;
      if (!this.#processes.has(id)) continue;
      // The old process of this model still drains: the model is releasing until it has stopped.
      if (this.process(id).state === 'stopped') this.#apply({ type: 'external', model: id, state: 'stopping' });
      void old.stopped.then(() => {
        this.#retiring = this.#retiring.filter((other) => other !== old);
        const current = this.#processes.get(id);
        if (!this.#closed && current && !this.#retiring.some((other) => other.process.id === id)) {
          this.#apply({ type: 'external', model: id, state: current.state });
        }
      });
    }
  }

  /**
   * Config reload: hand this manager's models over to a new one that `build` makes, in one tick
   * so that no request meets a closed manager. The processes of models that keep running (plan
   * `adopt`) move to the new manager with their new configuration; those of restarted and removed
   * models are retired (a start in progress is abandoned, requests in flight finish, then they
   * stop); requests queued here move to the new manager (they are not rejected), and requests
   * that still reach this manager later go there too. `stopped` settles when every retired
   * process has stopped.
   */
  handOver<T extends { readonly manager: ModelManager }>(plan: ReloadPlan, build: (handoff: ReloadHandoff) => T): { next: T; stopped: Promise<void> } {
    const adopt = new Map(plan.adopt.filter((id) => this.#processes.has(id)).map((id) => [id, this.#processes.get(id)!]));
    const retired: Retiring[] = [...plan.restart, ...plan.removed].filter((id) => this.#processes.has(id)).map((id) => {
      const process = this.#processes.get(id)!;
      const stopped = process.retire('config reload', reloadDrainMs(process)).catch((error: unknown) => {
        this.#log.error('stopping a replaced model failed', { model: id, error: (error as Error).message });
      });
      return { process, stopped };
    });
    const next = build({ adopt, retiring: [...this.#retiring, ...retired] });
    this.#closed = true;
    this.#successor = next.manager;
    for (const [requestId, waiter] of [...this.#waiters]) {
      if (waiter.granted) continue;
      this.#waiters.delete(requestId);
      this.#apply({ type: 'cancel', requestId, at: Date.now() });
      waiter.signal.removeEventListener('abort', waiter.onAbort);
      next.manager.acquire(waiter.model, { signal: waiter.signal, ...(waiter.onProgress ? { onProgress: waiter.onProgress } : {}) }).then(
        (access) => waiter.resolve({ ...access, waitedMs: performance.now() - waiter.askedAt }),
        waiter.reject,
      );
    }
    this.#processes.clear();
    this.#retiring = [];
    return { next, stopped: Promise.all(retired.map((old) => old.stopped)).then(() => undefined) };
  }

  /**
   * Stop the servers left by a gateway that died (lib/process/pid-files.ts), then preload the
   * configured models. Until the reaping is done no model starts: a request that arrives meanwhile
   * waits (a leftover may still hold the port its new server needs).
   */
  async start(): Promise<void> {
    this.#reaping = this.#reapLeftovers();
    await this.#reaping;
    for (const id of this.config.preload) {
      this.load(id).catch((error: unknown) => {
        // A shutdown during the preload is not a failure of the model.
        if (error instanceof GatewayError && error.code === 'shutting_down') this.#log.info('preload cancelled: the gateway is shutting down', { model: id });
        else this.#log.error('preload failed', { model: id, error: (error as Error).message });
      });
    }
  }

  async #reapLeftovers(): Promise<void> {
    const { stateDir } = this.config;
    try {
      const report = await reapLeftovers(stateDir, { graceMsFor: leftoverGraceMs(this.config) });
      for (const { record, signal, ms, gone } of report.reaped) {
        const fields = { model: record.model, pid: record.pid, gatewayPid: record.gatewayPid, signal, ms };
        if (gone) this.#log.warn('stopped a model server left by a gateway that died', fields);
        else this.#log.error('a model server left by a gateway that died does not exit, even after SIGKILL', fields);
      }
      const byGateway = new Map<number, PidRecord[]>();
      for (const record of report.othersLive) byGateway.set(record.gatewayPid, [...(byGateway.get(record.gatewayPid) ?? []), record]);
      for (const [gatewayPid, records] of byGateway) {
        this.#log.warn('model servers of another live gateway left alone', {
          gatewayPid,
          models: records.map((record) => record.model).join(','),
          pids: records.map((record) => record.pid).join(','),
          stateDir,
          hint: 'another siesta runs with this configuration (or stateDir); models sharing its ports will not start here',
        });
      }
    } catch (error) {
      this.#log.error('crash clean-up failed', { stateDir, error: (error as Error).message });
    }
  }

  resolve(name: string): ModelConfig | undefined {
    return this.#names.get(name);
  }

  process(id: string): ModelProcess {
    if (this.#successor) return this.#successor.process(id);
    const process = this.#processes.get(id);
    if (!process) throw new GatewayError('model_not_found', `Model "${id}" is not configured`);
    return process;
  }

  processes(): ModelProcess[] {
    if (this.#successor) return this.#successor.processes();
    return [...this.#processes.values()];
  }

  state(id: string): ModelState {
    return this.process(id).state;
  }

  snapshot(): ReturnType<Scheduler['snapshot']> {
    return this.#scheduler.snapshot();
  }

  /** Wait until the scheduler admits a request for `id` and the model is ready; returns a lease. */
  acquire(id: string, options: AcquireOptions): Promise<ModelAccess> {
    if (this.#successor) return this.#successor.acquire(id, options); // a request that began before a reload
    if (this.#closed) return Promise.reject(new GatewayError('shutting_down'));
    if (!this.#processes.has(id)) return Promise.reject(new GatewayError('model_not_found', `Model "${id}" is not configured`));
    const requestId = `r${++this.#nextRequest}`;
    return new Promise<ModelAccess>((resolve, reject) => {
      const onAbort = (): void => {
        if (waiter.granted || !this.#waiters.has(requestId)) return;
        this.#waiters.delete(requestId);
        this.#apply({ type: 'cancel', requestId, at: Date.now() });
        reject(new GatewayError('client_gone'));
      };
      // Settled either way, the request no longer listens for its client going away.
      const settle = <T>(finish: (value: T) => void) => (value: T): void => {
        options.signal.removeEventListener('abort', onAbort);
        finish(value);
      };
      const waiter: Waiter = { model: id, askedAt: performance.now(), signal: options.signal, onAbort, resolve: settle(resolve), reject: settle(reject), onProgress: options.onProgress, position: null, outcome: null, granted: false };
      this.#waiters.set(requestId, waiter);
      if (options.signal.aborted) return onAbort();
      options.signal.addEventListener('abort', onAbort, { once: true });
      this.#apply({ type: 'request', requestId, model: id, at: Date.now() });
    });
  }

  /**
   * The hot path: admit a request for a ready model at once, with no promise, queue entry or abort
   * signal, when the scheduler would grant it without waiting. Undefined (and nothing changed) when
   * it would have to wait; then use `acquire`.
   */
  tryAcquire(id: string): ModelAccess | undefined {
    if (this.#successor) return this.#successor.tryAcquire(id);
    if (this.#closed || !this.#processes.has(id)) return undefined; // acquire() gives the right error
    const process = this.process(id);
    const at = Date.now();
    if (process.state !== 'ready' || !this.#scheduler.grantsAtOnce(id, at)) return undefined;
    const lease = process.tryLease();
    if (!lease) return undefined;
    const requestId = `r${++this.#nextRequest}`;
    for (const effect of this.#scheduler.handle({ type: 'request', requestId, model: id, at })) {
      if (effect.type !== 'grant' || effect.requestId !== requestId) this.#perform(effect);
    }
    return { lease: this.#servedLease(requestId, lease), outcome: { action: 'none', ms: 0 }, waitedMs: 0 };
  }

  /** Load a model through the scheduler (evicting others as needed), as a request that ends at once. */
  async load(id: string): Promise<ReadyOutcome> {
    const access = await this.acquire(this.process(id).id, { signal: new AbortController().signal });
    access.lease.release();
    return access.outcome;
  }

  async sleep(id: string, level?: number): Promise<'asleep' | 'stopped'> {
    const process = this.process(id);
    if (!process.canSleep(level)) {
      throw new GatewayError('cannot_sleep', `Model "${id}" cannot sleep: its backend (${process.model.backend}) has no sleep recipe${level ? ` for level ${level}` : ''} and it has no sleepEndpoints (or sleepMode is disabled)`);
    }
    if (process.state === 'stopped') throw new GatewayError('invalid_state', `Model "${id}" is stopped; load it first`);
    return process.sleep('api', level);
  }

  async wake(id: string): Promise<ReadyOutcome> {
    const process = this.process(id);
    if (process.state !== 'asleep' && process.state !== 'sleeping') throw new GatewayError('invalid_state', `Model "${id}" is ${process.state}, not asleep`);
    return this.load(id);
  }

  /** Stop a model once its requests in flight finished (at most its unloadTimeout); requests meanwhile wait, then start it again. */
  async unload(id: string): Promise<void> {
    const process = this.process(id);
    await process.stop('api', { drainMs: unloadDrainMs(process) });
  }

  async unloadAll(): Promise<void> {
    await Promise.all(this.processes().map((process) => process.stop('unload all', { drainMs: unloadDrainMs(process) })));
  }

  /** Last resort when the gateway must exit at once: SIGKILL every child group, synchronously. */
  killAllNow(): void {
    for (const process of [...this.#processes.values(), ...this.#retiring.map((old) => old.process)]) {
      if (process.pid !== null) {
        try {
          globalThis.process.kill(-process.pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    }
  }

  /** Reject everything waiting, stop every child. Idempotent. */
  /**
   * Stop every model; later requests get 503. With `drainMs`, requests in flight (streams
   * included) first get up to that long to finish, each model stopping as soon as its last one
   * does (a graceful SIGTERM); without it, they are cut at once.
   */
  async close(options: { readonly drainMs?: number } = {}): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      this.#apply({ type: 'shutdown' });
    }
    const processes = [...this.processes(), ...this.#retiring.map((old) => old.process)];
    if (options.drainMs !== undefined && options.drainMs > 0) {
      const drainMs = options.drainMs;
      await Promise.all(processes.map((process) => process.retire('the gateway is shutting down', drainMs)));
    }
    // Old processes still draining after a reload stop now too (shutdown cuts a drain short).
    await Promise.all(processes.map((process) => process.shutdown()));
  }

  // ---- scheduler glue ----

  #apply(event: SchedulerEvent): void {
    for (const effect of this.#scheduler.handle(event)) this.#perform(effect);
  }

  #perform(effect: SchedulerEffect): void {
    switch (effect.type) {
      case 'load': {
        // The process of this manager, taken now: after a reload `process()` answers for the successor.
        const process = this.process(effect.model);
        // The load ends holding a lease: the grant that follows hands it to a request (one count, no second acquire).
        this.#runOwn(effect.model, () => this.#reaping.then(() => process.acquire()), ({ lease, outcome }) => {
          for (const waiter of this.#waiters.values()) if (waiter.model === effect.model && !waiter.granted) waiter.outcome ??= outcome;
          this.#loadLeases.get(effect.model)?.lease.release();
          this.#loadLeases.set(effect.model, { process, lease });
          return { type: 'loaded', model: effect.model };
        }, (error) => {
          const failure = toGatewayError(error);
          for (const [requestId, waiter] of this.#waiters) {
            if (waiter.model === effect.model && !waiter.granted) {
              this.#waiters.delete(requestId);
              waiter.reject(failure);
            }
          }
          return { type: 'load-failed', model: effect.model, message: failure.message };
        }, () => this.#takeLoadLease(effect.model, process)?.release());
        return;
      }
      case 'evict': {
        const process = this.process(effect.model);
        const operation = (): Promise<'asleep' | 'stopped'> => (effect.action === 'sleep' ? process.sleep('evicted') : process.stop('evicted', { drainMs: unloadDrainMs(process) }).then(() => 'stopped' as const));
        this.#runOwn(effect.model, operation, (to) => ({ type: 'released', model: effect.model, to }), () => ({ type: 'released', model: effect.model, to: 'stopped' }));
        return;
      }
      case 'grant':
        this.#grant(effect.requestId);
        return;
      case 'reject': {
        const waiter = this.#waiters.get(effect.requestId);
        if (!waiter) return;
        this.#waiters.delete(effect.requestId);
        waiter.reject(new GatewayError(effect.code, effect.message));
        return;
      }
      case 'position': {
        const waiter = this.#waiters.get(effect.requestId);
        if (!waiter) return;
        waiter.position = effect.position;
        waiter.onProgress?.({ state: this.state(waiter.model), position: effect.position });
        return;
      }
    }
  }

  /** Run a scheduler-initiated operation; state changes it causes are not reported as `external`. */
  #runOwn<T>(model: string, operation: () => Promise<T>, onDone: (value: T) => SchedulerEvent, onError: (error: unknown) => SchedulerEvent, after?: () => void): void {
    this.#ownOps.set(model, (this.#ownOps.get(model) ?? 0) + 1);
    const finish = (event: SchedulerEvent): void => {
      this.#ownOps.set(model, (this.#ownOps.get(model) ?? 1) - 1);
      this.#apply(event);
      after?.();
    };
    operation().then((value) => finish(onDone(value)), (error: unknown) => finish(onError(error)));
  }

  #grant(requestId: string): void {
    const waiter = this.#waiters.get(requestId);
    if (!waiter) return;
    waiter.granted = true;
    this.#waiters.delete(requestId);
    const process = this.process(waiter.model);
    // The scheduler grants once the model is ready: the first grant after a load takes the load's
    // lease, later ones a lease of the ready process.
    const lease = this.#takeLoadLease(waiter.model, process) ?? process.tryLease();
    if (lease) {
      waiter.resolve({ lease: this.#servedLease(requestId, lease), outcome: waiter.outcome ?? { action: 'none', ms: 0 }, waitedMs: performance.now() - waiter.askedAt });
      return;
    }
    // Should the process have gone away meanwhile (crash, admin stop), acquire() starts it again.
    process.acquire().then(
      ({ lease, outcome }) => {
        waiter.resolve({
          lease: this.#servedLease(requestId, lease),
          outcome: outcome.action !== 'none' ? outcome : (waiter.outcome ?? outcome),
          waitedMs: performance.now() - waiter.askedAt,
        });
      },
      (error: unknown) => {
        this.#apply({ type: 'serve-done', requestId, at: Date.now() });
        waiter.reject(error);
      },
    );
  }

  /** The lease the last load of `model` holds on `process`, handed over (removed); undefined when none. */
  #takeLoadLease(model: string, process: ModelProcess): Lease | undefined {
    const held = this.#loadLeases.get(model);
    if (held?.process !== process) return undefined;
    this.#loadLeases.delete(model);
    return held.lease;
  }

  /** The process's lease, which on release also tells the scheduler the granted request is done (once). */
  #servedLease(requestId: string, lease: Lease): Lease {
    let done = false;
    return {
      release: () => {
        if (done) return;
        done = true;
        lease.release();
        this.#apply({ type: 'serve-done', requestId, at: Date.now() });
      },
    };
  }

  #onState(change: StateChange): void {
    this.#log.info('model state', { model: change.model, from: change.from, to: change.to, reason: change.reason, ms: Math.round(change.durationMs) });
    if (change.to === 'sleeping' || change.to === 'waking') this.sleepSteps.begin(change.model, change.to === 'sleeping' ? 'sleep' : 'wake');
    this.emit('state', change);
    for (const waiter of this.#waiters.values()) {
      if (waiter.model === change.model) waiter.onProgress?.({ state: change.to, position: waiter.position });
    }
    if ((this.#ownOps.get(change.model) ?? 0) === 0 && change.to !== 'shutdown') {
      this.#apply({ type: 'external', model: change.model, state: change.to });
    }
  }
}

/**
 * The model manager: one ModelProcess per configured model, the scheduler that decides who runs,
 * and the glue between them; the `ModelGate` the request chain uses. The scheduler learns every
 * model state from one stream, the processes' `state` events relayed as they come (`#onState`).
 * Its effects are carried out by effect-runner.ts; the requests waiting for a grant live in
 * waiters.ts; a config reload is decided in reload-plan.ts and handed over in reload-handover.ts.
 */
import { EventEmitter } from 'node:events';
import type { GatewayConfig, ModelConfig } from '../config/types.js';
import type { Clock } from '../clock.js';
import { GatewayError } from '../errors.js';
import { silentLogger, type Logger } from '../logger.js';
import type { PluginRegistry } from '../plugins/registry.js';
import type { HttpClient } from '../process/http.js';
import type { PortGuard } from '../process/port-check.js';
import type { LogLine } from '../process/log-ring.js';
import type { ModelProcess, ReadyOutcome } from '../process/model-process.js';
import type { StepTiming } from '../process/recipe-runner.js';
import type { Spawner } from '../process/spawner.js';
import type { ModelState, StateChange } from '../process/states.js';
import { Scheduler } from '../scheduler/scheduler.js';
import type { SchedulerEvent } from '../scheduler/types.js';
import { EffectRunner } from './effect-runner.js';
import { reapLeftoverServers } from './leftovers.js';
import { StepLog } from './model-view.js';
import { forwardWaiters, processFor, retireReplaced, takeOver } from './reload-handover.js';
import { unloadDrainMs, type ReloadHandoff, type ReloadPlan, type Retiring } from './reload-plan.js';
import type { AcquireOptions, ModelAccess, ModelGate } from './types.js';
import { Waiters } from './waiters.js';

export { leftoverGraceMs } from './leftovers.js';
export { changedModels, RELOAD_DRAIN_MS, reloadPlan, type ReloadHandoff, type ReloadPlan, type Retiring } from './reload-plan.js';

/** What a manager is built from; on a config reload also what it takes over (`ReloadHandoff`). */
export interface ModelManagerOptions extends Partial<ReloadHandoff> {
  readonly config: GatewayConfig;
  readonly plugins: PluginRegistry;
  readonly log?: Logger;
  readonly clock?: Clock;
  readonly spawner?: Spawner;
  readonly http?: HttpClient;
  /** The port checks of every model (default: connect probe plus /proc); unit tests inject a fake. */
  readonly portGuard?: PortGuard;
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
  /** Each process's log relay, attached to its ring while this manager's `log` has listeners. */
  readonly #logRelays = new Map<ModelProcess, (line: LogLine) => void>();
  readonly #names = new Map<string, ModelConfig>();
  readonly #scheduler: Scheduler;
  readonly #waiters = new Waiters();
  readonly #effects: EffectRunner;
  readonly #log: Logger;
  /** The steps of each model's last sleep and wake, for the model views. */
  readonly sleepSteps = new StepLog();
  #nextRequest = 0;
  #closed = false;
  /** After a config reload: the manager that serves now; requests that still reach this one go there. */
  #successor: ModelManager | null = null;
  /** Old processes still draining after reloads (this manager's own retirements and inherited ones). */
  readonly #retiring = new Set<Retiring>();
  /** The crash clean-up of `start()`; model starts wait for it. Never rejects. */
  #reaping: Promise<void> = Promise.resolve();

  constructor(options: ModelManagerOptions) {
    super();
    this.setMaxListeners(0);
    // The rings are followed only while someone follows this manager's log: a ring nobody follows
    // splits its output into lines only when read (log-ring.ts), not on every chunk.
    const emitter = this as EventEmitter;
    emitter.on('newListener', (event: string | symbol) => {
      if (event !== 'log' || this.listenerCount('log') > 0) return;
      for (const [process, relay] of this.#logRelays) process.logs.on('line', relay);
    });
    emitter.on('removeListener', (event: string | symbol) => {
      if (event !== 'log' || this.listenerCount('log') > 0) return;
      for (const [process, relay] of this.#logRelays) process.logs.off('line', relay);
    });
    this.config = options.config;
    this.#log = options.log ?? silentLogger;
    for (const model of Object.values(this.config.models)) {
      const process = processFor(model, this.config, options, this.#log);
      this.#listenTo(process);
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
    this.#effects = new EffectRunner({
      waiters: this.#waiters,
      process: (id) => this.process(id),
      apply: (event) => this.#apply(event),
      beforeLoad: () => this.#reaping,
      log: this.#log,
    });
    takeOver(options, { processes: this.#processes, apply: (event) => this.#apply(event), retiring: this.#retiring, closed: () => this.#closed });
  }

  /** Relay what `process` tells to this manager's listeners, waiters and scheduler. */
  #listenTo(process: ModelProcess): void {
    const relay = (line: LogLine): void => void this.emit('log', { model: process.id, line });
    this.#logRelays.set(process, relay);
    if (this.listenerCount('log') > 0) process.logs.on('line', relay);
    process.on('state', (change, failure) => this.#onState(change, failure));
    process.on('self-sleep', (status) => {
      // Budgets count a self-asleep model's memory as free (scheduler rule 9).
      if (!this.#closed && this.#processes.get(status.model) === process) this.#apply({ type: 'self-sleep', model: status.model, asleep: status.asleep });
      this.emit('self-sleep', status);
    });
    process.on('sleep-step', (timing) => {
      this.sleepSteps.add(timing.model, timing);
      this.emit('sleep-step', timing);
    });
    process.on('step', ({ model: id, text }) => this.#waiters.tell(id, (waiter) => ({ state: this.state(id), position: waiter.position, step: text })));
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
    const { adopt, retired } = retireReplaced(plan, this.#processes, this.#log);
    const next = build({ adopt, retiring: [...this.#retiring, ...retired] });
    this.#closed = true;
    this.#successor = next.manager;
    forwardWaiters(this.#waiters, (requestId) => this.#apply({ type: 'cancel', requestId, at: Date.now() }), next.manager);
    this.#processes.clear();
    this.#retiring.clear();
    return { next, stopped: Promise.all(retired.map((old) => old.stopped)).then(() => undefined) };
  }

  /**
   * Stop the servers left by a gateway that died (lib/process/pid-files.ts), then preload the
   * configured models. Until the reaping is done no model starts: a request that arrives meanwhile
   * waits (a leftover may still hold the port its new server needs).
   */
  async start(): Promise<void> {
    this.#reaping = reapLeftoverServers(this.config, this.#log);
    await this.#reaping;
    for (const id of this.config.preload) {
      this.load(id).catch((error: unknown) => {
        // A shutdown during the preload is not a failure of the model.
        if (error instanceof GatewayError && error.code === 'shutting_down') this.#log.info('preload cancelled: the gateway is shutting down', { model: id });
        else this.#log.error('preload failed', { model: id, error: (error as Error).message });
      });
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
    const access = this.#waiters.add(requestId, id, options, () => this.#apply({ type: 'cancel', requestId, at: Date.now() }));
    // A client gone already has left (rejected with client_gone): the scheduler never hears of it.
    if (this.#waiters.has(requestId)) this.#apply({ type: 'request', requestId, model: id, at: Date.now() });
    return access;
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
      if (effect.type !== 'grant' || effect.requestId !== requestId) this.#effects.perform(effect);
    }
    return { lease: this.#effects.servedLease(requestId, lease), outcome: { action: 'none', ms: 0 }, waitedMs: 0 };
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
    for (const process of [...this.#processes.values(), ...[...this.#retiring].map((old) => old.process)]) {
      if (process.pid !== null) {
        try {
          globalThis.process.kill(-process.pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    }
  }

  /**
   * Stop every model; later requests get 503. With `drainMs`, requests in flight (streams
   * included) first get up to that long to finish, each model stopping as soon as its last one
   * does (a graceful SIGTERM); without it, they are cut at once. Idempotent.
   */
  async close(options: { readonly drainMs?: number } = {}): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      this.#apply({ type: 'shutdown' });
    }
    const processes = [...this.processes(), ...[...this.#retiring].map((old) => old.process)];
    if (options.drainMs !== undefined && options.drainMs > 0) {
      const drainMs = options.drainMs;
      await Promise.all(processes.map((process) => process.retire('the gateway is shutting down', drainMs)));
    }
    // Old processes still draining after a reload stop now too (shutdown cuts a drain short).
    await Promise.all(processes.map((process) => process.shutdown()));
  }

  #apply(event: SchedulerEvent): void {
    for (const effect of this.#scheduler.handle(event)) this.#effects.perform(effect);
  }

  /**
   * A process changed state: log it, tell the listeners and the waiting requests, and relay it to
   * the scheduler, whoever caused it: the one stream the scheduler learns states from (its rule 10;
   * a failed start's error comes along, and the scheduler rejects the requests waiting for it with it).
   */
  #onState(change: StateChange, failure: GatewayError | undefined): void {
    this.#log.info('model state', { model: change.model, from: change.from, to: change.to, reason: change.reason, ms: Math.round(change.durationMs) });
    if (change.to === 'sleeping' || change.to === 'waking') this.sleepSteps.begin(change.model, change.to === 'sleeping' ? 'sleep' : 'wake');
    this.emit('state', change);
    this.#waiters.tell(change.model, (waiter) => ({ state: change.to, position: waiter.position }));
    this.#apply({ type: 'state', model: change.model, state: change.to, ...(failure ? { failure } : {}) });
  }
}

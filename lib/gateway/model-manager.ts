/**
 * The model manager: one ModelProcess per configured model, the scheduler that decides who runs,
 * and the glue that turns the scheduler's effects into process actions and process outcomes back
 * into scheduler events. It is the `ModelGate` the request chain uses.
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
import { LogRing, type LogLine } from '../process/log-ring.js';
import { ModelProcess, type Lease, type ReadyOutcome } from '../process/model-process.js';
import { reapLeftovers, type PidRecord } from '../process/pid-files.js';
import type { Spawner } from '../process/spawner.js';
import type { ModelState, StateChange } from '../process/states.js';
import { Scheduler } from '../scheduler/scheduler.js';
import type { SchedulerEffect, SchedulerEvent } from '../scheduler/types.js';
import type { AcquireOptions, LoadProgress, ModelAccess, ModelGate } from './types.js';

export interface ModelManagerOptions {
  readonly config: GatewayConfig;
  readonly plugins: PluginRegistry;
  readonly log?: Logger;
  readonly clock?: Clock;
  readonly spawner?: Spawner;
  readonly http?: HttpClient;
  /**
   * Running processes to take over from a previous manager (config reload): used for the models
   * whose configuration did not change, keyed by model id.
   */
  readonly adopt?: ReadonlyMap<string, ModelProcess>;
  /** New (not adopted) processes start only once this settles: the previous manager's stops (reload). */
  readonly startGate?: Promise<unknown>;
}

/** Models whose resolved configuration differs between two configs (added, removed or changed). */
export function changedModels(before: GatewayConfig, after: GatewayConfig): Set<string> {
  const changed = new Set<string>();
  for (const id of new Set([...Object.keys(before.models), ...Object.keys(after.models)])) {
    if (JSON.stringify(before.models[id]) !== JSON.stringify(after.models[id])) changed.add(id);
  }
  return changed;
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
};

export class ModelManager extends EventEmitter<ManagerEvents> implements ModelGate {
  readonly config: GatewayConfig;
  readonly #processes = new Map<string, ModelProcess>();
  readonly #names = new Map<string, ModelConfig>();
  readonly #scheduler: Scheduler;
  readonly #waiters = new Map<string, Waiter>();
  /** Scheduler-initiated operations running per model; state changes outside them are `external`. */
  readonly #ownOps = new Map<string, number>();
  readonly #log: Logger;
  #nextRequest = 0;
  #closed = false;
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
        adopted.removeAllListeners('state').removeAllListeners('self-sleep');
        adopted.logs.removeAllListeners('line');
      }
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
        ...(options.startGate ? { startGate: options.startGate } : {}),
      });
      process.on('state', (change) => this.#onState(change));
      process.on('self-sleep', (status) => this.emit('self-sleep', status));
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
      if (this.#processes.get(process.id) === process && process.state !== 'stopped') {
        this.#apply({ type: 'external', model: process.id, state: process.state });
      }
    }
  }

  /**
   * After a new manager adopted the processes of `keep` (config reload): stop the rest and take
   * no more requests. Requests already in progress here finish normally.
   */
  async handOver(keep: ReadonlySet<string>): Promise<void> {
    this.#closed = true;
    this.#apply({ type: 'shutdown' });
    const stopping = this.processes().filter((process) => !keep.has(process.id)).map((process) => process.shutdown());
    this.#processes.clear();
    await Promise.all(stopping);
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
    const process = this.#processes.get(id);
    if (!process) throw new GatewayError('model_not_found', `Model "${id}" is not configured`);
    return process;
  }

  processes(): ModelProcess[] {
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
    if (this.#closed) return Promise.reject(new GatewayError('shutting_down'));
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
      const waiter: Waiter = { model: id, askedAt: performance.now(), resolve: settle(resolve), reject: settle(reject), onProgress: options.onProgress, position: null, outcome: null, granted: false };
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
    if (this.#closed) return undefined; // acquire() gives the right error (also after a reload's hand-over)
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

  async unload(id: string): Promise<void> {
    await this.process(id).stop('api');
  }

  async unloadAll(): Promise<void> {
    await Promise.all(this.processes().map((process) => process.stop('unload all')));
  }

  /** Last resort when the gateway must exit at once: SIGKILL every child group, synchronously. */
  killAllNow(): void {
    for (const process of this.#processes.values()) {
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
  async close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      this.#apply({ type: 'shutdown' });
    }
    await Promise.all(this.processes().map((process) => process.shutdown()));
  }

  // ---- scheduler glue ----

  #apply(event: SchedulerEvent): void {
    for (const effect of this.#scheduler.handle(event)) this.#perform(effect);
  }

  #perform(effect: SchedulerEffect): void {
    switch (effect.type) {
      case 'load':
        this.#runOwn(effect.model, () => this.#reaping.then(() => this.process(effect.model).ensureReady()), (outcome) => {
          for (const waiter of this.#waiters.values()) if (waiter.model === effect.model && !waiter.granted) waiter.outcome ??= outcome;
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
        });
        return;
      case 'evict': {
        const process = this.process(effect.model);
        const operation = (): Promise<'asleep' | 'stopped'> => (effect.action === 'sleep' ? process.sleep('evicted') : process.stop('evicted').then(() => 'stopped' as const));
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
  #runOwn<T>(model: string, operation: () => Promise<T>, onDone: (value: T) => SchedulerEvent, onError: (error: unknown) => SchedulerEvent): void {
    this.#ownOps.set(model, (this.#ownOps.get(model) ?? 0) + 1);
    const finish = (event: SchedulerEvent): void => {
      this.#ownOps.set(model, (this.#ownOps.get(model) ?? 1) - 1);
      this.#apply(event);
    };
    operation().then((value) => finish(onDone(value)), (error: unknown) => finish(onError(error)));
  }

  #grant(requestId: string): void {
    const waiter = this.#waiters.get(requestId);
    if (!waiter) return;
    waiter.granted = true;
    this.#waiters.delete(requestId);
    // The scheduler grants once the model is ready; acquire() is then immediate. Should the process
    // have gone away meanwhile (crash), acquire() starts it again.
    this.process(waiter.model).acquire().then(
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
    this.emit('state', change);
    for (const waiter of this.#waiters.values()) {
      if (waiter.model === change.model) waiter.onProgress?.({ state: change.to, position: waiter.position });
    }
    if ((this.#ownOps.get(change.model) ?? 0) === 0 && change.to !== 'shutdown') {
      this.#apply({ type: 'external', model: change.model, state: change.to });
    }
  }
}

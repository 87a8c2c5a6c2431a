/**
 * The owner of one model's server process and its state. Only this object changes the model's
 * state; every change is checked against the transition table and emitted as a `state` event
 * (the one stream the scheduler learns states from; a failed start's error comes with it).
 * It composes the machinery: the child runner (spawn, port, pid file, readiness, kill), the recipe
 * runner (sleep and wake steps, confirmation, warm-up) and the lease count; it keeps the state
 * machine, the operation queue, the idle ladder and reload adoption.
 *
 * Operations (start, wake, sleep, stop) run one at a time, in arrival order. A caller that needs
 * the model awake calls `acquire()`: it shares any start or wake in progress, waits behind a sleep
 * that is draining, and gets a lease that counts the request as in flight. A model is never put
 * to sleep while leases are out: `sleep` first stops admitting (state `sleeping`), then waits.
 *
 * Length (~530 lines, over the ~300 of the house rule): the state machine and its operations stay
 * in one file so every transition can be read in one place, as the scheduler keeps its rules; the
 * machinery it drives is in child-runner.ts, recipe-runner.ts, leases.ts and idle-timers.ts.
 */
import { EventEmitter } from 'node:events';
import type { ModelConfig } from '../config/types.js';
import { systemClock, type Clock } from '../clock.js';
import { GatewayError } from '../errors.js';
import { silentLogger, type Logger } from '../logger.js';
import { checkEndpointOf } from '../plugins/defaults.js';
import { resolveRecipe, type RecipeTimeouts } from '../plugins/recipes.js';
import type { BackendPlugin, PluginContext, ResolvedRecipe } from '../plugins/types.js';
import { ChildRunner } from './child-runner.js';
import { nodeHttpClient, pluginHttp, type HttpClient } from './http.js';
import { IdleTimers } from './idle-timers.js';
import { Leases, type Lease } from './leases.js';
import { LogRing } from './log-ring.js';
import { guardedTarget, procPortGuard, type PortGuard } from './port-check.js';
import { cudaStepExecutor, httpStepExecutor, RecipeRunner, type StepTiming } from './recipe-runner.js';
import { restartFields } from './reload-effect.js';
import { realSpawner, type Spawner } from './spawner.js';
import { canTransition, type ModelState, type StateChange } from './states.js';
import { upstreamBase } from './upstream-url.js';

export { RELOAD_EFFECT, restartFields } from './reload-effect.js';
export type { Lease } from './leases.js';

export interface ModelProcessOptions {
  readonly model: ModelConfig;
  readonly plugin: BackendPlugin;
  readonly timeouts: RecipeTimeouts;
  readonly spawner?: Spawner;
  readonly http?: HttpClient;
  /** Port-free check before a start and listener ownership after it (default: connect probe plus /proc); unit tests inject a fake. */
  readonly portGuard?: PortGuard;
  /** Every timer (idle ladder, status polling, readiness back-off, kill grace, drain bound); inject a FakeClock in tests. */
  readonly clock?: Clock;
  readonly log?: Logger;
  /** Directory for pid files; null = none. */
  readonly stateDir?: string | null;
  readonly logs?: LogRing;
  /** How often a backend that sleeps by itself is asked whether it sleeps (default 2 s). */
  readonly statusPollMs?: number;
  /**
   * The first start waits for this (config reload: the previous process of the same model is
   * still stopping, and it holds the port the new one will bind).
   */
  readonly startGate?: Promise<unknown>;
}

export type ReadyAction = 'none' | 'started' | 'woke';

export interface ReadyOutcome {
  readonly action: ReadyAction;
  /** How long the start or wake took. */
  readonly ms: number;
}

type Events = {
  /**
   * Every state change, in order. `failure` comes with the change that ends a start that failed
   * (to `stopped`): the error `acquire` and `ensureReady` reject with (the scheduler rejects the
   * requests that waited for the start with it; lib/scheduler rule 7).
   */
  state: [change: StateChange, failure?: GatewayError];
  /** A backend that sleeps by itself changed its sleep status (llama-server --sleep-idle-seconds). */
  'self-sleep': [{ model: string; asleep: boolean }];
  /** The last request in flight finished (inFlight is 0 again). */
  drained: [];
  /** A start runs the plugin's afterStart (e.g. `restoring prompt cache`); the state stays `starting`. */
  step: [{ model: string; text: string }];
  /** One step of a sleep or wake recipe succeeded, in `ms` (metrics, status page). */
  'sleep-step': [StepTiming & { model: string }];
};

export class ModelProcess extends EventEmitter<Events> {
  /** The configuration in use; a config reload may swap it for one that differs only in-place (`adopt`). */
  #model: ModelConfig;
  readonly plugin: BackendPlugin;
  readonly logs: LogRing;
  readonly #timeouts: RecipeTimeouts;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #checkEndpoint: string | null;
  readonly #child: ChildRunner;
  readonly #recipes: RecipeRunner;
  readonly #leases: Leases;
  readonly #idle: IdleTimers;
  /** The context of the plugin's beforeStop / afterStart hooks: their own deadline, not the shutdown signal (a save runs at shutdown too). */
  readonly #hookContext: (signal: AbortSignal, timeoutMs: number) => PluginContext;

  #state: ModelState = 'stopped';
  #stateSince = performance.now();
  #lastUsedAt: number;
  #lastChange: StateChange | null = null;
  #asleepWith: ResolvedRecipe | null = null;
  #selfAsleep: boolean | undefined;
  #ops: Promise<unknown> = Promise.resolve();
  #readyPromise: Promise<ReadyOutcome> | null = null;
  /** Resolves when shutdown() is called: a drain in progress stops waiting. */
  #cutDrain!: () => void;
  readonly #drainCut = new Promise<void>((resolve) => (this.#cutDrain = resolve));
  readonly #abort = new AbortController();
  #startGate: Promise<unknown> | null;
  /** Resolves when shutdown() is called, so a cold start in progress gives up at once. */
  readonly #aborted = new Promise<string>((resolve) => this.#abort.signal.addEventListener('abort', () => resolve(typeof this.#abort.signal.reason === 'string' ? this.#abort.signal.reason : 'the gateway is shutting down'), { once: true }));

  constructor(options: ModelProcessOptions) {
    super();
    this.#model = options.model;
    this.plugin = options.plugin;
    this.#timeouts = options.timeouts;
    this.#clock = options.clock ?? systemClock;
    this.#log = options.log ?? silentLogger;
    this.#startGate = options.startGate ?? null;
    this.logs = options.logs ?? new LogRing();
    this.#lastUsedAt = this.#clock.now();
    // The proxy URL's origin and path: every health check, recipe step and plugin call is joined to it.
    const upstream = upstreamBase(this.model.proxy);
    const http = options.http ?? nodeHttpClient;
    this.#checkEndpoint = checkEndpointOf(this.model, this.plugin);
    this.#child = new ChildRunner({
      model: () => this.#model,
      plugin: this.plugin,
      spawner: options.spawner ?? realSpawner,
      http,
      portGuard: options.portGuard ?? procPortGuard,
      clock: this.#clock,
      log: this.#log,
      logs: this.logs,
      stateDir: options.stateDir ?? null,
      upstream,
      checkEndpoint: this.#checkEndpoint,
      localTarget: guardedTarget(this.model, this.#checkEndpoint),
      onUnexpectedExit: (how) => this.#onCrash(how),
    });
    this.#recipes = new RecipeRunner({
      plugin: this.plugin,
      executors: { http: httpStepExecutor(http, upstream), 'cuda-checkpoint': cudaStepExecutor(() => this.#child.pid, this.#log, () => this.id) },
      context: (timeoutMs) => ({ model: this.model, baseUrl: upstream, http: pluginHttp(http, upstream, timeoutMs, this.#abort.signal), log: this.#log, signal: this.#abort.signal }),
      clock: this.#clock,
      log: this.#log,
      id: () => this.id,
      onStep: (timing) => this.emit('sleep-step', { model: this.id, ...timing }),
    });
    this.#hookContext = (signal, timeoutMs) => ({ model: this.model, baseUrl: upstream, http: pluginHttp(http, upstream, timeoutMs, signal), log: this.#log, signal });
    this.#leases = new Leases(this.#clock, {
      onTake: () => this.#onTake(),
      onRelease: () => (this.#lastUsedAt = this.#clock.now()),
      onDrained: () => {
        this.#idleFromNow();
        this.emit('drained');
      },
    });
    this.#idle = new IdleTimers({
      clock: this.#clock,
      statusPollMs: options.statusPollMs ?? 2000,
      onDue: (step, index) => {
        if (this.inFlight > 0) return;
        this.#idle.stepsDone = index + 1;
        const after = `idle ${Math.round(step.afterMs / 1000)}s`;
        const action = step.action === 'stop' ? this.stop(after) : this.sleep(after, step.level ?? this.model.sleep.level);
        action.catch((error: unknown) => this.#log.warn('idle step failed', { model: this.id, error: (error as Error).message }));
      },
      poll: () => this.refreshSelfSleep(),
      keepPolling: () => this.#state === 'ready',
    });
  }

  get model(): ModelConfig {
    return this.#model;
  }
  get id(): string {
    return this.#model.id;
  }
  get state(): ModelState {
    return this.#state;
  }
  get inFlight(): number {
    return this.#leases.inFlight;
  }
  get lastUsedAt(): number {
    return this.#lastUsedAt;
  }
  get pid(): number | null {
    return this.#child.pid;
  }
  /** The level the model sleeps at, when asleep. */
  get asleepLevel(): number | null {
    return this.#state === 'asleep' ? (this.#asleepWith?.level ?? null) : null;
  }
  /** For backends that sleep by themselves: the last answer of their probe. */
  get selfAsleep(): boolean | undefined {
    return this.#selfAsleep;
  }
  get lastChange(): StateChange | null {
    return this.#lastChange;
  }
  /** The readiness path in use: the model's own, else its plugin's default, else `/health`; null = none. */
  get checkEndpoint(): string | null {
    return this.#checkEndpoint;
  }

  /** Whether an eviction (or a sleep request) at `level` can sleep this model rather than stop it. */
  canSleep(level: number = this.model.sleep.level): boolean {
    return resolveRecipe(this.model, this.plugin, this.#timeouts, level) !== null;
  }

  /**
   * Make the model ready and count one request in flight. Shares a start or wake in progress;
   * waits behind a sleep or stop in progress. Rejects with `start_failed` or `shutting_down`.
   */
  async acquire(): Promise<{ lease: Lease; outcome: ReadyOutcome }> {
    let outcome: ReadyOutcome = { action: 'none', ms: 0 };
    while (this.#state !== 'ready' || this.#readyPromise) {
      if (this.#state === 'shutdown') throw new GatewayError('shutting_down');
      const result = await this.ensureReady();
      if (result.action !== 'none') outcome = result;
    }
    return { lease: this.#leases.take(), outcome };
  }

  /** A lease at once when the model is ready and nothing is under way (what `acquire` would give without waiting); else null. */
  tryLease(): Lease | null {
    return this.#state === 'ready' && !this.#readyPromise ? this.#leases.take() : null;
  }

  /** Start or wake the model unless it is ready; concurrent callers share one start or wake. */
  ensureReady(): Promise<ReadyOutcome> {
    if (this.#readyPromise) return this.#readyPromise;
    if (this.#state === 'ready') return Promise.resolve({ action: 'none', ms: 0 });
    const promise = this.#enqueue(() => this.#makeReady());
    this.#readyPromise = promise;
    const clear = (): void => {
      if (this.#readyPromise === promise) this.#readyPromise = null;
    };
    promise.then(clear, clear);
    return promise;
  }

  /**
   * Put the model to sleep at `level` (default: its configured level). Waits for in-flight
   * requests first. Falls back to a full stop when it cannot sleep or a step fails.
   */
  sleep(reason: string, level: number = this.model.sleep.level): Promise<'asleep' | 'stopped'> {
    return this.#enqueue(() => this.#doSleep(reason, level));
  }

  /**
   * Stop the server process (cmdStop or SIGTERM to its group, SIGKILL after unloadTimeout). With
   * `drainMs`, the requests in flight finish first: the state turns `stopping` at once (no new
   * lease; a request meanwhile waits and starts the model again after the stop), and the process
   * is stopped once the last lease is released, or after `drainMs` (logged), or at a shutdown.
   */
  stop(reason: string, options: { readonly drainMs?: number } = {}): Promise<void> {
    return this.#enqueue(() => this.#doStop(reason, options.drainMs));
  }

  /**
   * This process is being replaced (config reload): a start or wake in progress is abandoned, the
   * requests in flight are drained as by `stop` (at most `drainMs`), then the process stops for
   * good (state `shutdown`, so it never starts again; its successor starts instead).
   */
  async retire(reason: string, drainMs: number): Promise<void> {
    this.#abort.abort(`${reason}: replaced by a new process`);
    await this.#enqueue(() => this.#stopForGood(reason, drainMs));
  }

  /**
   * Take a new configuration of this model that differs from the current one only in fields that
   * apply in place (RELOAD_EFFECT): the process keeps running. A changed idle ladder is armed anew.
   */
  adopt(model: ModelConfig): void {
    const restart = restartFields(this.#model, model);
    if (model.id !== this.#model.id || restart.length > 0) {
      throw new Error(`bug: model ${this.id} cannot adopt a configuration that changes ${[model.id !== this.#model.id ? 'id' : '', ...restart].filter(Boolean).join(', ')}`);
    }
    const ladderChanged = JSON.stringify(model.idle) !== JSON.stringify(this.#model.idle);
    this.#model = model;
    if (ladderChanged) {
      this.#idle.stepsDone = 0;
      if ((this.#state === 'ready' || this.#state === 'asleep') && this.inFlight === 0) this.#armTimers();
    }
  }

  /** Stop and refuse every later request. A drain in progress is cut short. */
  async shutdown(): Promise<void> {
    this.#abort.abort();
    this.#cutDrain();
    await this.#enqueue(() => this.#stopForGood('shutdown'));
  }

  /** Ask a backend that sleeps by itself whether it sleeps now (also runs on a timer while ready). */
  async refreshSelfSleep(): Promise<boolean | undefined> {
    if (!this.plugin.sleepsBySelf || !this.plugin.isAsleep || this.#state !== 'ready') return this.#selfAsleep;
    const asleep = await this.#recipes.probeAsleep(5000);
    if (asleep !== undefined && asleep !== this.#selfAsleep) {
      this.#selfAsleep = asleep;
      this.emit('self-sleep', { model: this.id, asleep });
      this.#log.info(asleep ? 'model sleeps by itself' : 'model woke by itself', { model: this.id });
    }
    return this.#selfAsleep;
  }

  // ---- operations (run one at a time) ----

  #enqueue<T>(operation: () => Promise<T>): Promise<T> {
    const run = this.#ops.then(operation, operation);
    this.#ops = run.catch(() => undefined);
    return run;
  }

  async #makeReady(): Promise<ReadyOutcome> {
    switch (this.#state) {
      case 'ready':
        return { action: 'none', ms: 0 };
      case 'shutdown':
        throw new GatewayError('shutting_down');
      case 'asleep': {
        const started = performance.now();
        try {
          await this.#doWake();
          return { action: 'woke', ms: performance.now() - started };
        } catch (error) {
          const message = (error as Error).message;
          this.#log.warn('wake failed, cold-starting', { model: this.id, error: message });
          await this.#doStop(`wake failed: ${message}`);
          const coldStarted = performance.now();
          await this.#doStart('cold start after failed wake');
          return { action: 'started', ms: performance.now() - coldStarted };
        }
      }
      default: {
        if (this.#state !== 'stopped') await this.#doStop('restart');
        const started = performance.now();
        await this.#doStart('request');
        return { action: 'started', ms: performance.now() - started };
      }
    }
  }

  async #doStart(reason: string): Promise<void> {
    this.#transition('starting', reason);
    if (this.#startGate) {
      const gate = this.#startGate;
      this.#startGate = null;
      await gate.catch(() => undefined);
    }
    this.#selfAsleep = undefined;
    const result = await this.#child.start(this.#aborted);
    if (!result.ok) {
      this.#transition('stopped', result.stateReason, result.error);
      throw result.error;
    }
    if (this.plugin.afterStart) {
      const text = this.plugin.afterStartText?.(this.model);
      if (text) this.emit('step', { model: this.id, text });
      await this.#runHook('afterStart', this.#timeouts.wakeTimeoutMs);
    }
    this.#transition('ready', reason);
    this.#idleFromNow();
  }

  async #doWake(reason = 'request'): Promise<void> {
    const recipe = this.#asleepWith;
    this.#transition('waking', reason);
    await this.#recipes.wake(recipe, this.#timeouts.wakeTimeoutMs);
    // Whatever answered the wake steps, a model whose process is gone is not awake.
    if (!this.#child.alive) throw new Error('the model process exited during the wake');
    await this.#recipes.warmUp(this.#timeouts.wakeTimeoutMs);
    this.#asleepWith = null;
    this.#transition('ready', 'woke');
    this.#idleFromNow();
  }

  async #doSleep(reason: string, level: number): Promise<'asleep' | 'stopped'> {
    if (this.#state === 'stopped' || this.#state === 'shutdown') return 'stopped';
    if (this.#state === 'asleep') {
      if ((this.#asleepWith?.level ?? 0) >= level) return 'asleep';
      // A deeper level from a shallower sleep: vLLM cannot re-sleep a sleeping engine, so wake it
      // briefly and sleep again at the new level.
      // This brief wake is not a use: keep the idle ladder measured from the last completed request.
      const lastUsedAt = this.#lastUsedAt;
      const idleStepsDone = this.#idle.stepsDone;
      try {
        await this.#doWake(`wake for deeper sleep (level ${level})`);
      } catch (error) {
        await this.#doStop(`wake for deeper sleep failed: ${(error as Error).message}`);
        return 'stopped';
      }
      this.#lastUsedAt = lastUsedAt;
      this.#idle.stepsDone = idleStepsDone;
    }
    const recipe = resolveRecipe(this.model, this.plugin, this.#timeouts, level);
    if (!recipe) {
      await this.#doStop(`${reason} (cannot sleep)`);
      return 'stopped';
    }
    this.#idle.cancel();
    this.#transition('sleeping', reason);
    await this.#leases.drained();
    try {
      await this.#recipes.sleep(recipe, this.#timeouts.sleepTimeoutMs);
    } catch (error) {
      const message = (error as Error).message;
      this.#log.warn('sleep failed, stopping instead', { model: this.id, error: message });
      await this.#doStop(`sleep failed: ${message}`);
      return 'stopped';
    }
    this.#asleepWith = recipe;
    this.#transition('asleep', `${reason} (level ${recipe.level})`);
    this.#armTimers();
    return 'asleep';
  }

  async #doStop(reason: string, drainMs?: number): Promise<void> {
    if (this.#state === 'stopped' || this.#state === 'shutdown') return;
    const wasReady = this.#state === 'ready';
    this.#idle.cancel();
    this.#transition('stopping', reason);
    if (drainMs !== undefined) await this.#drainFor(drainMs, reason);
    if (wasReady) await this.#runHook('beforeStop', this.#timeouts.sleepTimeoutMs);
    await this.#child.kill();
    this.#asleepWith = null;
    this.#transition('stopped', reason);
  }

  async #stopForGood(reason: string, drainMs?: number): Promise<void> {
    await this.#doStop(reason, drainMs);
    this.#idle.cancel();
    if (this.#state === 'stopped') this.#transition('shutdown', reason);
  }

  /** Run the plugin's beforeStop / afterStart on a live process, at most `timeoutMs`; a failure is logged, never thrown. */
  async #runHook(hook: 'beforeStop' | 'afterStart', timeoutMs: number): Promise<void> {
    if (!this.plugin[hook] || !this.#child.alive) return;
    const controller = new AbortController();
    const timer = this.#clock.setTimer(timeoutMs, () => controller.abort(new Error(`${hook} timed out after ${timeoutMs} ms`)));
    const started = performance.now();
    try {
      const timedOut = new Promise<never>((_, reject) => controller.signal.addEventListener('abort', () => reject(controller.signal.reason as Error), { once: true }));
      await Promise.race([this.plugin[hook]?.(this.#hookContext(controller.signal, timeoutMs)), timedOut]);
      this.#log.debug('plugin hook done', { model: this.id, hook, ms: Math.round(performance.now() - started) });
    } catch (error) {
      this.#log.warn('plugin hook failed', { model: this.id, hook, error: (error as Error).message });
      this.logs.push('siesta', `${hook} failed: ${(error as Error).message}`);
    } finally {
      timer.cancel();
      controller.abort();
    }
  }

  /** The child exited by itself. Starting/sleeping/waking/stopping are owned by a running operation, which sees the failure itself. */
  #onCrash(how: string): void {
    if (this.#state !== 'ready' && this.#state !== 'asleep') return;
    this.#idle.cancel();
    this.#asleepWith = null;
    this.#transition('stopped', `exited (${how})`);
  }

  // ---- leases ----

  #onTake(): void {
    this.#idle.cancelStep();
    if (this.#selfAsleep === true) {
      // A backend that sleeps by itself wakes on this request (llama-server reloads before answering).
      this.#selfAsleep = false;
      this.emit('self-sleep', { model: this.id, asleep: false });
    }
  }

  /** Wait for the requests in flight to finish, at most `drainMs` (then log and go on) or until a shutdown. */
  async #drainFor(drainMs: number, reason: string): Promise<void> {
    if (this.inFlight === 0) return;
    this.#log.info('draining model', { model: this.id, inFlight: this.inFlight, drainMs, reason });
    if ((await this.#leases.drainFor(drainMs, this.#drainCut)) !== 'timeout') return;
    this.#log.warn('drain timed out, stopping with requests in flight', { model: this.id, inFlight: this.inFlight, drainMs, reason });
    this.logs.push('siesta', `${this.inFlight} request(s) still in flight ${drainMs} ms after the stop began (${reason}): stopping anyway`);
  }

  // ---- timers: idle ladder and self-sleep status ----

  /** The model just became ready, or its last request ended: the idle ladder starts over from now. */
  #idleFromNow(): void {
    this.#lastUsedAt = this.#clock.now();
    this.#idle.stepsDone = 0;
    this.#armTimers();
  }

  #armTimers(): void {
    if (this.inFlight > 0) {
      this.#idle.cancel();
      return;
    }
    const position = this.#state === 'ready' ? { state: 'ready' as const } : this.#state === 'asleep' ? { state: 'asleep' as const, level: this.#asleepWith?.level ?? this.model.sleep.level } : null;
    this.#idle.arm({
      position,
      ladder: this.model.idle,
      defaultLevel: this.model.sleep.level,
      idleSince: this.#lastUsedAt,
      pollStatus: this.#state === 'ready' && this.plugin.sleepsBySelf === true && this.plugin.isAsleep !== undefined,
    });
  }

  #transition(to: ModelState, reason: string, failure?: GatewayError): void {
    const from = this.#state;
    if (!canTransition(from, to)) throw new Error(`bug: model ${this.id} cannot go from ${from} to ${to} (${reason})`);
    const now = performance.now();
    const change: StateChange = { model: this.id, from, to, reason, durationMs: now - this.#stateSince, at: Date.now() };
    this.#state = to;
    this.#stateSince = now;
    this.#lastChange = change;
    this.emit('state', change, failure);
  }
}

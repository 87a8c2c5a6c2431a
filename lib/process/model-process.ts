/**
 * The owner of one model's server process and its state. Only this object changes the model's
 * state; every change is checked against the transition table and emitted as a `state` event.
 *
 * Operations (start, wake, sleep, stop) run one at a time, in arrival order. A caller that needs
 * the model awake calls `acquire()`: it shares any start or wake in progress, waits behind a sleep
 * that is draining, and gets a lease that counts the request as in flight. A model is never put
 * to sleep while leases are out: `sleep` first stops admitting (state `sleeping`), then waits.
 */
import { EventEmitter } from 'node:events';
import type { HttpStep, ModelConfig } from '../config/types.js';
import { systemClock, type Clock, type TimerHandle } from '../clock.js';
import { GatewayError } from '../errors.js';
import { silentLogger, type Logger } from '../logger.js';
import { checkEndpointOf } from '../plugins/defaults.js';
import { resolveRecipe, type RecipeTimeouts } from '../plugins/recipes.js';
import type { BackendPlugin, PluginContext, ResolvedRecipe } from '../plugins/types.js';
import { nodeHttpClient, pluginHttp, type HttpClient } from './http.js';
import { nextIdleStep } from './idle-ladder.js';
import { guardedTarget, procPortGuard, runsContainer, type LocalTarget, type PortGuard } from './port-check.js';
import { LogRing } from './log-ring.js';
import { removePidFile, writePidFile } from './pid-files.js';
import { waitReady } from './readiness.js';
import { realSpawner, type ChildHandle, type Spawner } from './spawner.js';
import { canTransition, type ModelState, type StateChange } from './states.js';
import { joinUpstream, upstreamBase } from './upstream-url.js';

export interface ModelProcessOptions {
  readonly model: ModelConfig;
  readonly plugin: BackendPlugin;
  readonly timeouts: RecipeTimeouts;
  readonly spawner?: Spawner;
  readonly http?: HttpClient;
  /** Port-free check before a start and listener ownership after it (default: connect probe plus /proc); unit tests inject a fake. */
  readonly portGuard?: PortGuard;
  /** Drives the idle ladder and status polling; inject a FakeClock in tests. */
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

/**
 * What a change of each configuration field does to a model's running process on a config reload
 * (issue 11 defect 7). `restart`: the field shapes the process, or how it is reached, started,
 * stopped, put to sleep or woken, so the old process is drained and a new one started. `in-place`:
 * the field is read per request or per decision (routing, forwarding, queueing, idle ladder, stop
 * grace), so the running process is kept and simply takes the new value. A `Record` over every key
 * of ModelConfig: a new field does not compile until it is classified here.
 */
export const RELOAD_EFFECT: Readonly<Record<keyof ModelConfig, 'restart' | 'in-place'>> = {
  id: 'restart', // the identity; two configs are compared per id, so it never differs
  cmd: 'restart',
  env: 'restart',
  proxy: 'restart', // where the process is reached (and the port guarded)
  port: 'restart', // ${PORT}: the port the process was told to listen on
  checkEndpoint: 'restart', // the readiness the process was started against
  backend: 'restart', // the plugin: defaults (env, checkEndpoint), probes and recipes
  options: 'restart', // plugin options may shape the command line or the recipes
  cmdStop: 'restart', // tied to how the process was started (a container name, a pid file)
  sleep: 'restart', // a sleeping process must be woken by the recipe it slept with; vLLM needs
  sleepEndpoints: 'restart', // --enable-sleep-mode at start: recipe and process go together
  wakeEndpoints: 'restart',
  name: 'in-place',
  description: 'in-place',
  aliases: 'in-place',
  unlisted: 'in-place',
  metadata: 'in-place',
  capabilities: 'in-place',
  useModelName: 'in-place',
  filters: 'in-place',
  concurrencyLimit: 'in-place',
  sendLoadingState: 'in-place',
  ignoreWebsockets: 'in-place',
  timeouts: 'in-place', // proxy timeouts, read per forwarded request
  idle: 'in-place', // the idle ladder (ttl included) is re-armed on the running process
  priority: 'in-place', // queue order, read by the new scheduler
  resources: 'in-place', // budgets, read by the new scheduler
  unloadTimeoutMs: 'in-place', // read when the process is stopped
  healthCheckTimeoutMs: 'in-place', // read when a process starts; a running one is past it
};

/** The fields whose change needs a new process (see RELOAD_EFFECT); empty = the running process can adopt `after`. */
export function restartFields(before: ModelConfig, after: ModelConfig): (keyof ModelConfig)[] {
  return (Object.keys(RELOAD_EFFECT) as (keyof ModelConfig)[]).filter(
    (field) => RELOAD_EFFECT[field] === 'restart' && JSON.stringify(before[field]) !== JSON.stringify(after[field]),
  );
}

export type ReadyAction = 'none' | 'started' | 'woke';

export interface ReadyOutcome {
  readonly action: ReadyAction;
  /** How long the start or wake took. */
  readonly ms: number;
}

export interface Lease {
  /** Marks the request finished; idempotent. */
  release(): void;
}

type Events = {
  state: [StateChange];
  /** A backend that sleeps by itself changed its sleep status (llama-server --sleep-idle-seconds). */
  'self-sleep': [{ model: string; asleep: boolean }];
  /** The last request in flight finished (inFlight is 0 again). */
  drained: [];
};

export class ModelProcess extends EventEmitter<Events> {
  /** The configuration in use; a config reload may swap it for one that differs only in-place (`adopt`). */
  #model: ModelConfig;
  readonly plugin: BackendPlugin;
  readonly logs: LogRing;
  readonly #timeouts: RecipeTimeouts;
  readonly #spawner: Spawner;
  readonly #http: HttpClient;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #stateDir: string | null;
  readonly #statusPollMs: number;
  readonly #portGuard: PortGuard;
  /** The proxy URL's origin and path: every health check, recipe step and plugin call is joined to it. */
  readonly #upstream: string;
  readonly #checkEndpoint: string | null;
  /** A model on this machine: its port must be free before a start, and its listener the child's. */
  readonly #localTarget: LocalTarget | null;

  #state: ModelState = 'stopped';
  #stateSince = performance.now();
  #child: ChildHandle | null = null;
  #exitExpected = false;
  #inFlight = 0;
  #lastUsedAt: number;
  #lastChange: StateChange | null = null;
  #asleepWith: ResolvedRecipe | null = null;
  #selfAsleep: boolean | undefined;
  #ops: Promise<unknown> = Promise.resolve();
  #readyPromise: Promise<ReadyOutcome> | null = null;
  #drainWaiters: (() => void)[] = [];
  /** Resolves when shutdown() is called: a drain in progress stops waiting. */
  #cutDrain!: () => void;
  readonly #drainCut = new Promise<void>((resolve) => (this.#cutDrain = resolve));
  #idleTimer: TimerHandle | null = null;
  #idleStepsDone = 0;
  #statusTimer: TimerHandle | null = null;
  readonly #abort = new AbortController();
  #startGate: Promise<unknown> | null;
  /** Resolves when shutdown() is called, so a cold start in progress gives up at once. */
  readonly #aborted = new Promise<string>((resolve) => this.#abort.signal.addEventListener('abort', () => resolve(typeof this.#abort.signal.reason === 'string' ? this.#abort.signal.reason : 'the gateway is shutting down'), { once: true }));

  constructor(options: ModelProcessOptions) {
    super();
    this.#model = options.model;
    this.plugin = options.plugin;
    this.#timeouts = options.timeouts;
    this.#spawner = options.spawner ?? realSpawner;
    this.#http = options.http ?? nodeHttpClient;
    this.#clock = options.clock ?? systemClock;
    this.#log = options.log ?? silentLogger;
    this.#stateDir = options.stateDir ?? null;
    this.#statusPollMs = options.statusPollMs ?? 2000;
    this.#startGate = options.startGate ?? null;
    this.#portGuard = options.portGuard ?? procPortGuard;
    this.#upstream = upstreamBase(this.model.proxy);
    this.#checkEndpoint = checkEndpointOf(this.model, this.plugin);
    this.#localTarget = guardedTarget(this.model, this.#checkEndpoint);
    this.logs = options.logs ?? new LogRing();
    this.#lastUsedAt = this.#clock.now();
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
    return this.#inFlight;
  }
  get lastUsedAt(): number {
    return this.#lastUsedAt;
  }
  get pid(): number | null {
    return this.#child?.pid ?? null;
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
    return { lease: this.#lease(), outcome };
  }

  /** A lease at once when the model is ready and nothing is under way (what `acquire` would give without waiting); else null. */
  tryLease(): Lease | null {
    return this.#state === 'ready' && !this.#readyPromise ? this.#lease() : null;
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
    await this.#enqueue(async () => {
      await this.#doStop(reason, drainMs);
      this.#cancelTimers();
      if (this.#state === 'stopped') this.#transition('shutdown', reason);
    });
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
      this.#idleStepsDone = 0;
      if ((this.#state === 'ready' || this.#state === 'asleep') && this.#inFlight === 0) this.#armTimers();
    }
  }

  /** Stop and refuse every later request. A drain in progress is cut short. */
  async shutdown(): Promise<void> {
    this.#abort.abort();
    this.#cutDrain();
    await this.#enqueue(async () => {
      await this.#doStop('shutdown');
      this.#cancelTimers();
      if (this.#state === 'stopped') this.#transition('shutdown', 'shutdown');
    });
  }

  /** Ask a backend that sleeps by itself whether it sleeps now (also runs on a timer while ready). */
  async refreshSelfSleep(): Promise<boolean | undefined> {
    if (!this.plugin.sleepsBySelf || !this.plugin.isAsleep || this.#state !== 'ready') return this.#selfAsleep;
    let asleep: boolean | undefined;
    try {
      asleep = await this.plugin.isAsleep(this.#context(5000));
    } catch {
      asleep = undefined;
    }
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
    // A server that already answers on the model's port is not ours: its health check would pass and
    // requests (prompts, API keys) would go to a stranger. Fail clearly instead, without spawning.
    const target = this.#localTarget;
    const holder = target ? await this.#portGuard.holder(target) : null;
    if (target && holder) {
      const fix = this.model.port === null ? "change the model's port" : 'change startPort';
      const message = `port ${target.port} is already in use by ${holder.description} (stop that process, or ${fix})`;
      this.logs.push('siesta', holder.commandLine ? `${message}: ${holder.commandLine}` : message);
      this.#log.warn('port in use', { model: this.id, port: target.port, holder: holder.description, command: holder.commandLine });
      this.#transition('stopped', 'port in use');
      throw new GatewayError('start_failed', `Model "${this.id}" could not start: port ${target.port} is already in use`, { detail: `model ${this.id} could not be started: ${message}` });
    }
    const env = { ...this.plugin.defaults?.env, ...this.model.env };
    let child: ChildHandle;
    try {
      child = await this.#spawner.spawn(this.model.cmd, env);
    } catch (error) {
      this.logs.push('siesta', (error as Error).message);
      this.#transition('stopped', 'spawn failed');
      const code = (error as NodeJS.ErrnoException).code;
      throw new GatewayError('start_failed', `Model "${this.id}" could not start: its command could not be run${code ? ` (${code})` : ''}`, { cause: error, detail: `model ${this.id} could not be started: ${(error as Error).message}` });
    }
    this.#child = child;
    this.#exitExpected = false;
    this.#selfAsleep = undefined;
    this.logs.push('siesta', `started pid ${child.pid}: ${this.model.cmd.join(' ')}`);
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => this.logs.write('stdout', chunk));
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => this.logs.write('stderr', chunk));
    child.stdout?.on('end', () => this.logs.flush('stdout'));
    child.stderr?.on('end', () => this.logs.flush('stderr'));
    if (this.#stateDir) {
      await writePidFile(this.#stateDir, {
        model: this.id,
        pid: child.pid,
        argv: this.model.cmd,
        gatewayPid: process.pid,
        startedAt: new Date().toISOString(),
      }).catch((error: unknown) => this.#log.warn('cannot write pid file', { model: this.id, error: (error as Error).message }));
    }
    let exitedEarly: string | null = null;
    const exitReason = child.exited.then(({ code, signal }) => {
      this.#onExit(child, code, signal);
      exitedEarly = `process exited early (${signal ? `signal ${signal}` : `code ${String(code)}`})`;
      return exitedEarly;
    });

    const checkEndpoint = this.#checkEndpoint;
    const result = checkEndpoint === null
      ? ({ ready: true } as const)
      : await waitReady({
          url: joinUpstream(this.#upstream, checkEndpoint),
          deadlineMs: this.model.healthCheckTimeoutMs,
          http: this.#http,
          abandon: Promise.race([exitReason, this.#aborted]),
          onActivity: (poke) => {
            this.logs.on('line', poke);
            return () => this.logs.off('line', poke);
          },
        });
    // Ready only when the answer came from the process siesta started: it must still run, and on
    // Linux the socket listening on the port must be its own (or its descendants').
    const failure = !result.ready ? result.reason : checkEndpoint === null ? exitedEarly : ((await this.#listenerProblem(child)) ?? exitedEarly);
    if (failure !== null) {
      await this.#killChild();
      this.#transition('stopped', `start failed: ${failure}`);
      const tail = this.logs.tail(15);
      // API clients get a short reason; the command line and the server's output are for the logs and admins.
      const summary = !result.ready ? result.summary : failure === exitedEarly ? failure : `another process answers on port ${this.#localTarget?.port ?? '?'}`;
      throw new GatewayError('start_failed', `Model "${this.id}" could not start: ${summary}`, {
        detail: `model ${this.id} failed to start: ${failure}${tail ? `\n--- last log lines ---\n${tail}` : ''}`,
      });
    }
    this.#transition('ready', reason);
    this.#idleFromNow();
  }

  async #doWake(reason = 'request'): Promise<void> {
    const recipe = this.#asleepWith;
    this.#transition('waking', reason);
    if (recipe) await this.#runSteps(recipe.wake, 'wake');
    await this.#confirmSleepState(false, this.#timeouts.wakeTimeoutMs);
    // Whatever answered the wake steps, a model whose process is gone is not awake.
    if (this.#child === null) throw new Error('the model process exited during the wake');
    if (this.plugin.warmup) {
      try {
        await this.plugin.warmup(this.#context(this.#timeouts.wakeTimeoutMs));
      } catch (error) {
        this.#log.warn('warm-up failed', { model: this.id, error: (error as Error).message });
      }
    }
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
      const idleStepsDone = this.#idleStepsDone;
      try {
        await this.#doWake(`wake for deeper sleep (level ${level})`);
      } catch (error) {
        await this.#doStop(`wake for deeper sleep failed: ${(error as Error).message}`);
        return 'stopped';
      }
      this.#lastUsedAt = lastUsedAt;
      this.#idleStepsDone = idleStepsDone;
    }
    const recipe = resolveRecipe(this.model, this.plugin, this.#timeouts, level);
    if (!recipe) {
      await this.#doStop(`${reason} (cannot sleep)`);
      return 'stopped';
    }
    this.#cancelTimers();
    this.#transition('sleeping', reason);
    await this.#drain();
    try {
      await this.#runSteps(recipe.sleep, 'sleep');
      await this.#confirmSleepState(true, this.#timeouts.sleepTimeoutMs);
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
    this.#cancelTimers();
    this.#transition('stopping', reason);
    if (drainMs !== undefined) await this.#drainFor(drainMs, reason);
    await this.#killChild();
    this.#asleepWith = null;
    this.#transition('stopped', reason);
  }

  // ---- effects ----

  async #runSteps(steps: readonly HttpStep[], what: 'sleep' | 'wake'): Promise<void> {
    for (const step of steps) {
      let status: number;
      try {
        ({ status } = await this.#http.request({
          method: step.method,
          url: joinUpstream(this.#upstream, step.endpoint),
          ...(step.body === undefined ? {} : { body: step.body }),
          timeoutMs: step.timeoutMs,
        }));
      } catch (error) {
        throw new Error(`${what} step ${step.method} ${step.endpoint} failed: ${(error as Error).message}`, { cause: error });
      }
      if (status < 200 || status > 299) throw new Error(`${what} step ${step.method} ${step.endpoint} answered HTTP ${status}`);
    }
  }

  /** Where the backend can tell, poll until it reports the expected sleep state or the deadline passes. */
  async #confirmSleepState(expectAsleep: boolean, deadlineMs: number): Promise<void> {
    if (!this.plugin.isAsleep || this.plugin.sleepsBySelf) return;
    const deadline = performance.now() + deadlineMs;
    let delayMs = 5;
    for (;;) {
      const asleep = await this.plugin.isAsleep(this.#context(deadlineMs));
      if (asleep === undefined || asleep === expectAsleep) return;
      if (performance.now() + delayMs > deadline) {
        throw new Error(`backend still reports is_sleeping=${String(asleep)} after ${Math.round(deadlineMs)} ms`);
      }
      await new Promise((resolve) => setTimeout(resolve, delayMs));
      delayMs = Math.min(100, delayMs * 2);
    }
  }

  async #killChild(): Promise<void> {
    const child = this.#child;
    if (!child) return;
    this.#exitExpected = true;
    const graceMs = this.model.unloadTimeoutMs;
    if (this.model.cmdStop) {
      const argv = this.model.cmdStop.map((arg) => arg.replaceAll('${PID}', String(child.pid)));
      const code = await this.#spawner.run(argv, { ...this.plugin.defaults?.env, ...this.model.env });
      if (code !== 0) {
        this.#log.warn('cmdStop failed, sending SIGTERM', { model: this.id, code });
        this.#spawner.signalGroup(child.pid, 'SIGTERM');
      }
    } else {
      this.#spawner.signalGroup(child.pid, 'SIGTERM');
    }
    let graceTimer: NodeJS.Timeout | undefined;
    const exitedInTime = await Promise.race([
      child.exited.then(() => true),
      new Promise<boolean>((resolve) => (graceTimer = setTimeout(resolve, graceMs, false))),
    ]);
    clearTimeout(graceTimer);
    if (!exitedInTime) {
      this.#log.warn('model did not stop in time, killing', { model: this.id, pid: child.pid, graceMs });
      this.logs.push('siesta', `no exit ${graceMs} ms after SIGTERM: SIGKILL`);
    }
    // The leader may be gone while children of its group linger (vLLM's engine core): kill the group.
    this.#spawner.signalGroup(child.pid, 'SIGKILL');
    await child.exited;
    if (this.#child === child) this.#child = null;
    if (this.#stateDir) await removePidFile(this.#stateDir, this.id).catch(() => undefined);
  }

  /**
   * After a passed health check: why the answer may not have come from `child` (another process
   * listens on the model's port), or null. Skipped for remote servers and containers (their port is
   * published by the runtime, outside the child's tree); where /proc cannot tell, logged once.
   */
  async #listenerProblem(child: ChildHandle): Promise<string | null> {
    const target = this.#localTarget;
    if (!target || runsContainer(this.model.cmd)) return null;
    const owner = await this.#portGuard.owner(target.port, child.pid);
    switch (owner.kind) {
      case 'child':
        return null;
      case 'foreign':
        this.logs.push('siesta', `port ${target.port} is answered by ${owner.holder.description}${owner.holder.commandLine ? `: ${owner.holder.commandLine}` : ''}`);
        this.#log.warn('port answered by another process', { model: this.id, port: target.port, holder: owner.holder.description, command: owner.holder.commandLine });
        return `port ${target.port} is answered by another process, ${owner.holder.description}, not by the model's process (pid ${child.pid})`;
      case 'no-listener':
        this.#log.debug('no listening socket seen on the port: the check was answered through NAT or another network namespace', { model: this.id, port: target.port });
        return null;
      case 'unknown':
        if (owner.firstTime) this.#log.info('readiness is not tied to the listening process', { model: this.id, port: target.port, reason: owner.reason });
        return null;
    }
  }

  #onExit(child: ChildHandle, code: number | null, signal: NodeJS.Signals | null): void {
    const how = signal ? `signal ${signal}` : `code ${String(code)}`;
    this.logs.push('siesta', `process ${child.pid} exited (${how})`);
    if (this.#child !== child || this.#exitExpected) return;
    this.#child = null;
    // Kill whatever the leader left in its group.
    this.#spawner.signalGroup(child.pid, 'SIGKILL');
    if (this.#stateDir) void removePidFile(this.#stateDir, this.id).catch(() => undefined);
    this.#log.warn('model process exited', { model: this.id, pid: child.pid, how });
    // Starting/sleeping/waking/stopping are owned by a running operation, which sees the failure itself.
    if (this.#state === 'ready' || this.#state === 'asleep') {
      this.#cancelTimers();
      this.#asleepWith = null;
      this.#transition('stopped', `exited (${how})`);
    }
  }

  #lease(): Lease {
    this.#inFlight++;
    this.#cancelIdleTimer();
    if (this.#selfAsleep === true) {
      // A backend that sleeps by itself wakes on this request (llama-server reloads before answering).
      this.#selfAsleep = false;
      this.emit('self-sleep', { model: this.id, asleep: false });
    }
    let released = false;
    return {
      release: () => {
        if (released) return;
        released = true;
        this.#inFlight--;
        this.#lastUsedAt = this.#clock.now();
        if (this.#inFlight === 0) {
          const waiters = this.#drainWaiters;
          this.#drainWaiters = [];
          for (const waiter of waiters) waiter();
          this.#idleFromNow();
          this.emit('drained');
        }
      },
    };
  }

  #drain(): Promise<void> {
    if (this.#inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.#drainWaiters.push(resolve));
  }

  /** Wait for the requests in flight to finish, at most `drainMs` (then log and go on) or until a shutdown. */
  async #drainFor(drainMs: number, reason: string): Promise<void> {
    if (this.#inFlight === 0) return;
    const inFlight = this.#inFlight;
    this.#log.info('draining model', { model: this.id, inFlight, drainMs, reason });
    let timer: TimerHandle | undefined;
    const outcome = await Promise.race([
      this.#drain().then(() => 'drained' as const),
      this.#drainCut.then(() => 'cut' as const),
      new Promise<'timeout'>((resolve) => (timer = this.#clock.setTimer(drainMs, () => resolve('timeout')))),
    ]);
    timer?.cancel();
    if (outcome === 'timeout') {
      this.#log.warn('drain timed out, stopping with requests in flight', { model: this.id, inFlight: this.#inFlight, drainMs, reason });
      this.logs.push('siesta', `${this.#inFlight} request(s) still in flight ${drainMs} ms after the stop began (${reason}): stopping anyway`);
    }
  }

  // ---- timers: idle ladder and self-sleep status ----

  /** The model just became ready, or its last request ended: the idle ladder starts over from now. */
  #idleFromNow(): void {
    this.#lastUsedAt = this.#clock.now();
    this.#idleStepsDone = 0;
    this.#armTimers();
  }

  #armTimers(): void {
    this.#cancelTimers();
    if (this.#inFlight > 0) return;
    const position = this.#state === 'ready' ? { state: 'ready' as const } : this.#state === 'asleep' ? { state: 'asleep' as const, level: this.#asleepWith?.level ?? this.model.sleep.level } : null;
    if (!position) return;
    const next = nextIdleStep(this.model.idle, position, this.model.sleep.level, this.#idleStepsDone);
    if (next) {
      const dueAt = this.#lastUsedAt + next.step.afterMs;
      this.#idleTimer = this.#clock.setTimer(dueAt - this.#clock.now(), () => {
        this.#idleTimer = null;
        if (this.#inFlight > 0) return;
        this.#idleStepsDone = next.index + 1;
        const after = `idle ${Math.round(next.step.afterMs / 1000)}s`;
        const action = next.step.action === 'stop'
          ? this.stop(after)
          : this.sleep(after, next.step.level ?? this.model.sleep.level);
        action.catch((error: unknown) => this.#log.warn('idle step failed', { model: this.id, error: (error as Error).message }));
      });
    }
    if (this.#state === 'ready' && this.plugin.sleepsBySelf && this.plugin.isAsleep) this.#armStatusPoll();
  }

  #armStatusPoll(): void {
    this.#statusTimer = this.#clock.setTimer(this.#statusPollMs, () => {
      this.#statusTimer = null;
      void this.refreshSelfSleep().finally(() => {
        if (this.#state === 'ready' && !this.#statusTimer) this.#armStatusPoll();
      });
    });
  }

  #cancelIdleTimer(): void {
    this.#idleTimer?.cancel();
    this.#idleTimer = null;
  }

  #cancelTimers(): void {
    this.#cancelIdleTimer();
    this.#statusTimer?.cancel();
    this.#statusTimer = null;
  }

  #context(timeoutMs: number): PluginContext {
    return {
      model: this.model,
      baseUrl: this.#upstream,
      http: pluginHttp(this.#http, this.#upstream, timeoutMs, this.#abort.signal),
      log: this.#log,
      signal: this.#abort.signal,
    };
  }

  #transition(to: ModelState, reason: string): void {
    const from = this.#state;
    if (!canTransition(from, to)) throw new Error(`bug: model ${this.id} cannot go from ${from} to ${to} (${reason})`);
    const now = performance.now();
    const change: StateChange = { model: this.id, from, to, reason, durationMs: now - this.#stateSince, at: Date.now() };
    this.#state = to;
    this.#stateSince = now;
    this.#lastChange = change;
    this.emit('state', change);
  }

}

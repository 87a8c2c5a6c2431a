/**
 * Carries out the scheduler's effects on the model processes and the waiting requests: `load`
 * and `evict` start process operations (whose outcome the scheduler learns from the processes'
 * state stream, relayed by the manager, not from here), `grant` hands the request a lease,
 * `reject` and `position` settle or inform a waiter.
 *
 * The lease hand-over: a load ends holding a lease (`ModelProcess.acquire`), and the scheduler
 * grants the waiting requests as soon as the process reports `ready`, which is a moment before
 * that acquire returns. So a request granted while the load it waited for is still under way
 * waits for it: the first one takes the load's lease (one count, no second acquire), the others
 * a lease of the ready process; when nobody was granted the load's lease is released.
 */
import { GatewayError, toGatewayError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { Lease, ModelProcess, ReadyOutcome } from '../process/model-process.js';
import type { SchedulerEffect, SchedulerEvent } from '../scheduler/types.js';
import { unloadDrainMs } from './reload-plan.js';
import type { Waiter, Waiters } from './waiters.js';

export interface EffectRunnerOptions {
  readonly waiters: Waiters;
  /** The process of a model (after a config reload: the next manager's). */
  readonly process: (model: string) => ModelProcess;
  /** Feed the scheduler: a granted request's `serve-done`. */
  readonly apply: (event: SchedulerEvent) => void;
  /** Loads wait for this first (the crash clean-up at start); never rejects. */
  readonly beforeLoad: () => Promise<void>;
  readonly log: Logger;
}

/** A load the scheduler asked for, while its acquire() runs. */
interface PendingLoad {
  readonly process: ModelProcess;
  /** The requests granted meanwhile, in grant order; they wait for the load's lease. */
  readonly granted: Waiter[];
  /** acquire() calls under way for it (a load asked for again after a crash shares the entry). */
  running: number;
}

const NOTHING_DONE: ReadyOutcome = { action: 'none', ms: 0 };

export class EffectRunner {
  readonly #options: EffectRunnerOptions;
  readonly #loads = new Map<string, PendingLoad>();

  constructor(options: EffectRunnerOptions) {
    this.#options = options;
  }

  perform(effect: SchedulerEffect): void {
    switch (effect.type) {
      case 'load':
        this.#load(effect.model);
        return;
      case 'evict': {
        const process = this.#options.process(effect.model);
        const evicted = effect.action === 'sleep' ? process.sleep('evicted') : process.stop('evicted', { drainMs: unloadDrainMs(process) });
        evicted.catch((error: unknown) => this.#options.log.error('eviction failed', { model: effect.model, error: (error as Error).message }));
        return;
      }
      case 'grant':
        this.#grant(effect.requestId);
        return;
      case 'reject': {
        const waiter = this.#options.waiters.take(effect.requestId);
        // A failed start rejects with the process's own error (its detail reaches the logs and the admin API).
        waiter?.reject(effect.cause !== undefined ? toGatewayError(effect.cause) : new GatewayError(effect.code, effect.message));
        return;
      }
      case 'position': {
        const waiter = this.#options.waiters.get(effect.requestId);
        if (!waiter) return;
        waiter.position = effect.position;
        waiter.onProgress?.({ state: this.#options.process(waiter.model).state, position: effect.position });
        return;
      }
    }
  }

  /** The process's lease, which on release also tells the scheduler the granted request is done (once). */
  servedLease(requestId: string, lease: Lease): Lease {
    let done = false;
    return {
      release: () => {
        if (done) return;
        done = true;
        lease.release();
        this.#options.apply({ type: 'serve-done', requestId, at: Date.now() });
      },
    };
  }

  #load(model: string): void {
    // The process of this manager, taken now: after a reload `process()` answers for the successor.
    const process = this.#options.process(model);
    const known = this.#loads.get(model);
    const pending = known?.process === process ? known : { process, granted: [], running: 0 };
    pending.running++;
    this.#loads.set(model, pending);
    const end = (): Waiter[] => {
      if (--pending.running === 0 && this.#loads.get(model) === pending) this.#loads.delete(model);
      return pending.granted.splice(0);
    };
    this.#options.beforeLoad().then(() => process.acquire()).then(
      ({ lease, outcome }) => {
        const granted = end();
        for (const waiter of [...granted, ...this.#options.waiters.ofModel(model)]) waiter.outcome ??= outcome;
        const [first, ...others] = granted;
        if (!first) return lease.release();
        this.#resolve(first, lease, first.outcome ?? NOTHING_DONE);
        for (const waiter of others) this.#serve(waiter, process);
      },
      (error: unknown) => {
        // The requests still queued were rejected when the process reported the failure (scheduler
        // rule 7); a request granted before it (the model crashed once ready, then failed to start
        // again) fails with it.
        for (const waiter of end()) this.#fail(waiter, error);
      },
    );
  }

  #grant(requestId: string): void {
    const waiter = this.#options.waiters.take(requestId);
    if (!waiter) return;
    const process = this.#options.process(waiter.model);
    const pending = this.#loads.get(waiter.model);
    if (pending?.process === process) pending.granted.push(waiter);
    else this.#serve(waiter, process);
  }

  /** A lease of the ready process at once; should the process have gone away meanwhile (crash, admin stop), acquire() starts it again. */
  #serve(waiter: Waiter, process: ModelProcess): void {
    const lease = process.tryLease();
    if (lease) return this.#resolve(waiter, lease, waiter.outcome ?? NOTHING_DONE);
    process.acquire().then(
      ({ lease: acquired, outcome }) => this.#resolve(waiter, acquired, outcome.action !== 'none' ? outcome : (waiter.outcome ?? outcome)),
      (error: unknown) => this.#fail(waiter, error),
    );
  }

  #resolve(waiter: Waiter, lease: Lease, outcome: ReadyOutcome): void {
    waiter.resolve({ lease: this.servedLease(waiter.requestId, lease), outcome, waitedMs: performance.now() - waiter.askedAt });
  }

  /** A granted request that got no lease: done for the scheduler, failed for its client. */
  #fail(waiter: Waiter, error: unknown): void {
    this.#options.apply({ type: 'serve-done', requestId: waiter.requestId, at: Date.now() });
    waiter.reject(error);
  }
}

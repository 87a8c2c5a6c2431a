/** Builders and a small driver for scheduler tests: no processes, no timers. */
import type { GroupConfig, ResourceAmounts } from '../../../lib/config/types.js';
import type { ModelState } from '../../../lib/process/states.js';
import { Scheduler } from '../../../lib/scheduler/index.js';
import type { CompiledMatrix, EvictAction, SchedulerEffect, SchedulerModel, SchedulerOptions } from '../../../lib/scheduler/index.js';

export const GiB = 2 ** 30;

export function model(id: string, options: Partial<Omit<SchedulerModel, 'id'>> = {}): SchedulerModel {
  return { id, canSleep: true, priority: 0, resources: {}, ...options };
}

/** llama-swap's defaults: swap and exclusive on, persistent off. */
export function group(id: string, members: readonly string[], options: Partial<Pick<GroupConfig, 'swap' | 'exclusive' | 'persistent'>> = {}): GroupConfig {
  return { id, swap: true, exclusive: true, persistent: false, members, ...options };
}

export const load = (m: string): SchedulerEffect => ({ type: 'load', model: m });
export const evict = (m: string, action: EvictAction): SchedulerEffect => ({ type: 'evict', model: m, action });
export const grant = (requestId: string, m: string): SchedulerEffect => ({ type: 'grant', requestId, model: m });
export const position = (requestId: string, p: number): SchedulerEffect => ({ type: 'position', requestId, position: p });
export const startFailed = (requestId: string, message: string): SchedulerEffect => ({ type: 'reject', requestId, code: 'start_failed', message });
/** The rejection of a request whose load failed: the failure (`Driver.failed`) comes back as its cause. */
export const loadFailed = (requestId: string, message: string): SchedulerEffect => ({ type: 'reject', requestId, code: 'start_failed', message, cause: { message } });
export const shuttingDown = (requestId: string): SchedulerEffect => ({
  type: 'reject',
  requestId,
  code: 'shutting_down',
  message: 'the gateway is shutting down',
});

/** Terse event calls; each returns the effects of that one event. Time is explicit (`at`), default 0. */
export class Driver {
  readonly scheduler: Scheduler;

  constructor(options: SchedulerOptions) {
    this.scheduler = new Scheduler(options);
  }

  static groups(models: readonly SchedulerModel[], groups: readonly GroupConfig[], extra: Partial<SchedulerOptions> = {}): Driver {
    return new Driver({ models, groups, ...extra });
  }

  static budgets(models: readonly SchedulerModel[], budgets: ResourceAmounts, extra: Partial<SchedulerOptions> = {}): Driver {
    return new Driver({ models, groups: [group('(default)', models.map((m) => m.id), { swap: false, exclusive: false })], budgets, ...extra });
  }

  /** Matrix mode: groups carry no rules there, so none are given. */
  static matrix(models: readonly SchedulerModel[], matrix: CompiledMatrix, extra: Partial<SchedulerOptions> = {}): Driver {
    return new Driver({ models, groups: [], matrix, ...extra });
  }

  request(requestId: string, m: string, at = 0): SchedulerEffect[] {
    return this.scheduler.handle({ type: 'request', requestId, model: m, at });
  }
  done(requestId: string, at = 0): SchedulerEffect[] {
    return this.scheduler.handle({ type: 'serve-done', requestId, at });
  }
  cancel(requestId: string): SchedulerEffect[] {
    return this.scheduler.handle({ type: 'cancel', requestId });
  }
  /** The model's process reports a state change (the one stream the scheduler learns states from). */
  report(m: string, state: ModelState): SchedulerEffect[] {
    return this.scheduler.handle({ type: 'state', model: m, state });
  }
  /** A load (start or wake) finished: the process is ready. */
  loaded(m: string): SchedulerEffect[] {
    return this.report(m, 'ready');
  }
  /** A start failed: the process is stopped, with the failure (the error object its callers get). */
  failed(m: string, message: string): SchedulerEffect[] {
    return this.scheduler.handle({ type: 'state', model: m, state: 'stopped', failure: { message } });
  }
  /** An eviction (or an idle step, an API action) finished: the process rests asleep or stopped. */
  released(m: string, to: 'asleep' | 'stopped'): SchedulerEffect[] {
    return this.report(m, to);
  }
  shutdown(): SchedulerEffect[] {
    return this.scheduler.handle({ type: 'shutdown' });
  }

  /** Put a model in a state as if something outside the scheduler did it (no effects expected). */
  set(m: string, state: 'ready' | 'asleep' | 'stopped'): SchedulerEffect[] {
    return this.report(m, state);
  }

  /** Use a ready model once at `at` so its last use is known (for LRU). */
  use(m: string, at: number): void {
    const id = `use-${m}-${at}`;
    this.request(id, m, at);
    this.done(id, at);
  }

  state(m: string): string | undefined {
    return this.scheduler.stateOf(m);
  }
}

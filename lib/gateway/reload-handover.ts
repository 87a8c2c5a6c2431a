/**
 * The config reload hand-over between two managers (the decisions are in reload-plan.ts). The old
 * manager retires the processes of restarted and removed models and forwards its queued requests;
 * the new one adopts the processes that keep running and tells its scheduler their state, and
 * holds a model as releasing while an old process in its way still stops.
 */
import type { GatewayConfig, ModelConfig } from '../config/types.js';
import type { Logger } from '../logger.js';
import type { PluginRegistry } from '../plugins/registry.js';
import type { RecipeTimeouts } from '../plugins/recipes.js';
import { LogRing } from '../process/log-ring.js';
import { ModelProcess, type ModelProcessOptions } from '../process/model-process.js';
import type { SchedulerEvent } from '../scheduler/types.js';
import { mustWaitFor, reloadDrainMs, type ReloadHandoff, type ReloadPlan, type Retiring } from './reload-plan.js';
import type { AcquireOptions, ModelAccess } from './types.js';
import type { Waiters } from './waiters.js';

/** What a manager makes its processes from (the rest of `ModelManagerOptions`). */
export interface ProcessSource extends Partial<ReloadHandoff>, Pick<ModelProcessOptions, 'clock' | 'spawner' | 'http' | 'portGuard'> {
  readonly plugins: PluginRegistry;
}

/**
 * The process of `model` on a new manager: the one adopted from the previous manager (its old
 * listeners removed, its new configuration taken), else a new one whose first start waits until
 * every old process in its way (mustWaitFor) has stopped.
 */
export function processFor(model: ModelConfig, config: GatewayConfig, source: ProcessSource, log: Logger): ModelProcess {
  const plugin = source.plugins.get(model.backend);
  if (!plugin) throw new Error(`bug: model ${model.id} names backend ${model.backend}, which is not loaded`);
  const adopted = source.adopt?.get(model.id);
  if (adopted) {
    adopted.removeAllListeners('state').removeAllListeners('self-sleep').removeAllListeners('sleep-step').removeAllListeners('drained').removeAllListeners('step');
    adopted.logs.removeAllListeners('line');
    adopted.adopt(model);
    return adopted;
  }
  const gates = (source.retiring ?? []).filter((old) => mustWaitFor(old.process.model, model, config)).map((old) => old.stopped);
  const timeouts: RecipeTimeouts = { sleepTimeoutMs: config.sleepRequestTimeoutMs, wakeTimeoutMs: config.wakeRequestTimeoutMs };
  return new ModelProcess({
    model,
    plugin,
    timeouts,
    logs: new LogRing(),
    log,
    stateDir: config.stateDir,
    ...(source.clock ? { clock: source.clock } : {}),
    ...(source.spawner ? { spawner: source.spawner } : {}),
    ...(source.http ? { http: source.http } : {}),
    ...(source.portGuard ? { portGuard: source.portGuard } : {}),
    ...(gates.length > 0 ? { startGate: Promise.all(gates) } : {}),
  });
}

/** The new manager, as `takeOver` sees it. */
export interface TakeOverTarget {
  /** Its processes, by model id (emptied when it hands over in turn). */
  readonly processes: ReadonlyMap<string, ModelProcess>;
  readonly apply: (event: SchedulerEvent) => void;
  /** The old processes still stopping, which it keeps (to kill or shut down) until they have stopped. */
  readonly retiring: Set<Retiring>;
  readonly closed: () => boolean;
}

/** The new manager's side: tell its scheduler the state of what it takes over. */
export function takeOver(handoff: Partial<ReloadHandoff>, target: TakeOverTarget): void {
  for (const process of handoff.adopt?.values() ?? []) {
    if (target.processes.get(process.id) !== process) continue;
    if (process.state !== 'stopped') target.apply({ type: 'state', model: process.id, state: process.state });
    // Requests the previous manager granted are still in flight: the scheduler counts them as one
    // grant until the process has none left, so it does not evict a busy model to make room.
    if (process.state === 'ready' && process.inFlight > 0) {
      const requestId = `adopted-${process.id}`;
      target.apply({ type: 'request', requestId, model: process.id, at: Date.now() });
      process.once('drained', () => target.apply({ type: 'serve-done', requestId, at: Date.now() }));
    }
  }
  for (const old of handoff.retiring ?? []) {
    if (old.process.state === 'shutdown') continue; // already gone
    target.retiring.add(old);
    const id = old.process.id;
    const current = target.processes.get(id);
    if (!current) continue;
    // The old process of this model still drains: the model is releasing until it has stopped (the
    // old process's state stands in for the new one's, which has not started).
    if (current.state === 'stopped') target.apply({ type: 'state', model: id, state: 'stopping' });
    void old.stopped.then(() => {
      target.retiring.delete(old);
      const now = target.processes.get(id);
      if (!target.closed() && now && ![...target.retiring].some((other) => other.process.id === id)) target.apply({ type: 'state', model: id, state: now.state });
    });
  }
}

/**
 * The old manager's side, first half: the processes the new manager adopts (plan `adopt`), and the
 * retirement of the others (a start in progress is abandoned, requests in flight finish, then they
 * stop for good).
 */
export function retireReplaced(plan: ReloadPlan, processes: ReadonlyMap<string, ModelProcess>, log: Logger): { adopt: Map<string, ModelProcess>; retired: Retiring[] } {
  const adopt = new Map(plan.adopt.filter((id) => processes.has(id)).map((id) => [id, processes.get(id)!]));
  const retired = [...plan.restart, ...plan.removed].filter((id) => processes.has(id)).map((id) => {
    const process = processes.get(id)!;
    const stopped = process.retire('config reload', reloadDrainMs(process)).catch((error: unknown) => {
      log.error('stopping a replaced model failed', { model: id, error: (error as Error).message });
    });
    return { process, stopped };
  });
  return { adopt, retired };
}

/**
 * The old manager's side, second half: every request still waiting moves to the next manager (it
 * is not rejected): `cancel` takes it off this scheduler, and it asks again there, keeping its
 * signal, its progress listener and the time it has waited.
 */
export function forwardWaiters(waiters: Waiters, cancel: (requestId: string) => void, next: { acquire(id: string, options: AcquireOptions): Promise<ModelAccess> }): void {
  for (const waiter of waiters.takeAll()) {
    cancel(waiter.requestId);
    waiter.detach();
    next.acquire(waiter.model, { signal: waiter.signal, ...(waiter.onProgress ? { onProgress: waiter.onProgress } : {}) }).then(
      (access) => waiter.resolve({ ...access, waitedMs: performance.now() - waiter.askedAt }),
      waiter.reject,
    );
  }
}

/**
 * What a config reload does to each model, as pure decisions: which processes the new manager
 * adopts, which are drained and stopped (and for how long a drain may last), and which new process
 * must wait for an old one to stop first. The hand-over itself is `ModelManager.handOver`.
 */
import type { GatewayConfig, ModelConfig } from '../config/types.js';
import { restartFields, type ModelProcess } from '../process/model-process.js';

/** An old process being replaced on a config reload: it drains, then stops for good. */
export interface Retiring {
  readonly process: ModelProcess;
  /** Settles (never rejects) once the process has stopped. */
  readonly stopped: Promise<void>;
}

/** What a new manager takes over from the previous one on a reload. */
export interface ReloadHandoff {
  /**
   * Running processes, keyed by model id: the models whose configuration did not change or
   * changed only in fields that apply in place; each adopts its new configuration.
   */
  readonly adopt: ReadonlyMap<string, ModelProcess>;
  /**
   * Processes of the previous configuration still draining and stopping. A model's new process
   * starts only after the old process of the same model, or one on the same port or proxy, or of
   * a model no longer configured, has stopped; until then the scheduler sees the model as
   * releasing, so its requests wait (they are not rejected) and a swap partner does not load early.
   */
  readonly retiring: readonly Retiring[];
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
export function unloadDrainMs(process: ModelProcess): number {
  return process.model.unloadTimeoutMs;
}
export function reloadDrainMs(process: ModelProcess): number {
  return Math.max(process.model.unloadTimeoutMs, RELOAD_DRAIN_MS);
}

/** Whether `next` must not start before `old` has stopped: same model, same port or proxy, or a model no longer configured. */
export function mustWaitFor(old: ModelConfig, next: ModelConfig, configured: GatewayConfig): boolean {
  return old.id === next.id || old.proxy === next.proxy || (old.port !== null && old.port === next.port) || !Object.hasOwn(configured.models, old.id);
}

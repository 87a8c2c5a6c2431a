/**
 * When a model sleeps or stops: llmsnap's `sleepMode` (proxy/config/model_config.go at f9a99e0:
 * default disable, endpoints required by enable) with its `sleepEndpoints` / `wakeEndpoints`
 * recipes and defaults, siesta's `sleep.level`, and the idle ladder (`idle` steps plus
 * `ttl`/`globalTTL`). Pure; every problem is reported through the callbacks, none thrown.
 */
import type { HttpStep, IdleStep, ModelConfig } from './types.js';
import type { RawHttpStep, RawModel } from './raw.js';
import { DEFAULTS, list, num } from './defaults.js';
import type { DocPath, ModelMacros } from './model-macros.js';
import type { Report } from './routing.js';
import { formatDuration } from './units.js';

/** What `resolveSleep` needs from the whole document. */
export interface SleepContext {
  readonly issue: Report;
  readonly warn: Report;
  readonly defaults: { readonly sleepRequestTimeoutMs: number; readonly wakeRequestTimeoutMs: number; readonly cudaCheckpointPath: string };
}

/** An explicit endpoint recipe (`sleepEndpoints` / `wakeEndpoints`), or null when the list is empty or absent. */
function resolveSteps(id: string, stepList: readonly RawHttpStep[] | undefined, key: string, defaultTimeoutMs: number, macros: ModelMacros): HttpStep[] | null {
  if (list(stepList).length === 0) return null;
  return list(stepList).map((step, index) => {
    const at = ['models', id, key, index];
    const endpoint = typeof step.endpoint === 'string' ? macros.expandText(step.endpoint, [...at, 'endpoint']) : '';
    const out: { endpoint: string; method: string; body?: string; timeoutMs: number } = {
      endpoint,
      method: typeof step.method === 'string' ? step.method.toUpperCase() : DEFAULTS.httpMethod,
      timeoutMs: num(step.timeout, defaultTimeoutMs),
    };
    if (typeof step.body === 'string') out.body = macros.expandText(step.body, [...at, 'body']);
    else if (step.body !== undefined && step.body !== null) {
      out.body = JSON.stringify(macros.expandTyped(step.body, [...at, 'body']));
    }
    return out;
  });
}

/**
 * Sleep: llmsnap's `sleepMode` and endpoint recipes, siesta's `sleep.level`. llmsnap's default is
 * sleepMode: disable; a model that names one of siesta's backends (or has siesta's `sleep:` block)
 * keeps siesta's default: sleep whenever the backend can.
 */
export function resolveSleep(
  id: string,
  raw: RawModel,
  macros: ModelMacros,
  ctx: SleepContext,
): Pick<ModelConfig, 'sleep' | 'sleepEndpoints' | 'wakeEndpoints'> {
  const at = (...rest: DocPath): DocPath => ['models', id, ...rest];
  const sleepEndpoints = resolveSteps(id, raw.sleepEndpoints, 'sleepEndpoints', ctx.defaults.sleepRequestTimeoutMs, macros);
  const wakeEndpoints = resolveSteps(id, raw.wakeEndpoints, 'wakeEndpoints', ctx.defaults.wakeRequestTimeoutMs, macros);
  const sleepLevel = raw.sleep?.level === 1 || raw.sleep?.level === 2 ? raw.sleep.level : DEFAULTS.sleepLevel;
  const siestaStyle = typeof raw.backend === 'string' || raw.sleep !== undefined;
  if (raw.sleep?.method === 'cuda-checkpoint') {
    // CUDA checkpoint needs no endpoints: it sleeps any backend, whatever llmsnap's sleepMode default.
    if (raw.sleepMode === 'disable') ctx.warn(at('sleepMode'), 'is disable: this model is stopped, not checkpointed (remove sleepMode to use sleep.method: cuda-checkpoint)');
    if (raw.sleep.level !== undefined) ctx.warn(at('sleep', 'level'), 'does not apply to sleep.method: cuda-checkpoint');
    if (sleepEndpoints) ctx.warn(at('sleepEndpoints'), 'are not used with sleep.method: cuda-checkpoint');
    const enabled = raw.sleepMode !== 'disable';
    return { sleep: { enabled, level: sleepLevel, method: 'cuda-checkpoint', checkpointBinary: ctx.defaults.cudaCheckpointPath }, sleepEndpoints, wakeEndpoints };
  }
  const sleepEnabled = raw.sleepMode === 'enable' || (siestaStyle && raw.sleepMode !== 'disable');
  if (sleepEnabled) {
    // llmsnap: sleepMode: enable needs both lists; a siesta backend brings its own recipe.
    if (!siestaStyle && !sleepEndpoints) ctx.issue(at('sleepEndpoints'), "required when sleepMode is 'enable' (or name a backend with a sleep recipe, e.g. backend: vllm)");
    if (!wakeEndpoints && (sleepEndpoints || !siestaStyle)) ctx.issue(at('wakeEndpoints'), sleepEndpoints ? 'is required when sleepEndpoints is set' : "required when sleepMode is 'enable'");
    if (wakeEndpoints && !sleepEndpoints && siestaStyle) ctx.issue(at('sleepEndpoints'), 'is required when wakeEndpoints is set');
  } else if (sleepEndpoints && raw.sleepMode === undefined) {
    ctx.warn(at('sleepMode'), "is not set, and llmsnap's default is disable: this model is stopped, not slept; add sleepMode: enable to use its sleepEndpoints");
  }
  return { sleep: { enabled: sleepEnabled, level: sleepLevel }, sleepEndpoints, wakeEndpoints };
}

/** The idle ladder: user steps (strictly increasing, `stop` last) plus `ttl`/`globalTTL` as a final stop. */
export function resolveIdle(id: string, raw: RawModel, globalTTLMs: number, issue: Report): IdleStep[] {
  const idle: IdleStep[] = [];
  const rawSteps = list(raw.idle);
  let stopIndex = -1;
  rawSteps.forEach((step, index) => {
    if (step === null || typeof step !== 'object' || typeof step.after !== 'number') return;
    const previous = idle[idle.length - 1];
    if (previous && step.after <= previous.afterMs) {
      issue(['models', id, 'idle', index, 'after'], `must be later than the step before it (${formatDuration(previous.afterMs)})`);
    }
    if (stopIndex >= 0) issue(['models', id, 'idle', stopIndex, 'do'], 'stop must be the last step of the idle ladder');
    if (step.do === 'stop') {
      stopIndex = index;
      if (step.level !== undefined) issue(['models', id, 'idle', index, 'level'], 'only applies to do: sleep');
      idle.push({ afterMs: step.after, action: 'stop' });
    } else if (step.do === 'sleep') {
      idle.push(step.level === 1 || step.level === 2 ? { afterMs: step.after, action: 'sleep', level: step.level } : { afterMs: step.after, action: 'sleep' });
    }
  });
  const ttlSet = typeof raw.ttl === 'number' && raw.ttl !== -1;
  const ttlMs = ttlSet && typeof raw.ttl === 'number' ? raw.ttl : globalTTLMs;
  if (ttlMs > 0) {
    const last = idle[idle.length - 1];
    if (stopIndex >= 0) {
      if (ttlSet) issue(['models', id, 'ttl'], `cannot be combined with an idle ladder that stops (idle[${stopIndex}]); remove one of them`);
    } else if (last && ttlMs <= last.afterMs) {
      const source = ttlSet ? 'ttl' : `globalTTL (${formatDuration(ttlMs)})`;
      issue(['models', id, 'ttl'], `${source} must be later than the last idle step (${formatDuration(last.afterMs)}), or set ttl: 0`);
    } else {
      idle.push({ afterMs: ttlMs, action: 'stop' });
    }
  }
  return idle;
}

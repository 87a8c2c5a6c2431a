/**
 * What the admin API, the event stream and the status page show about a model: a plain JSON view
 * built from the model's process and the scheduler's snapshot, plus the actions that make sense in
 * its current state. Pure, so the rules are tested as a table.
 */
import type { ModelConfig, ModelResources } from '../config/types.js';
import type { LogLine } from '../process/log-ring.js';
import type { ModelProcess } from '../process/model-process.js';
import type { ModelState, StateChange } from '../process/states.js';
import { recipeName, resolveRecipe, type RecipeTimeouts } from '../plugins/recipes.js';
import type { BackendPlugin } from '../plugins/types.js';
import type { StepTiming } from '../process/recipe-runner.js';
import type { ModelSnapshot } from '../scheduler/types.js';

export const MODEL_ACTIONS = ['load', 'sleep', 'wake', 'unload'] as const;
export type ModelAction = (typeof MODEL_ACTIONS)[number];

export interface ModelView {
  readonly id: string;
  readonly name: string;
  readonly description: string;
  readonly aliases: readonly string[];
  readonly backend: string;
  readonly state: ModelState;
  /** The configured sleep level (what an eviction or `POST .../sleep` uses). */
  readonly sleepLevel: number;
  /** The level it sleeps at now, when asleep. */
  readonly asleepLevel: number | null;
  readonly canSleep: boolean;
  /** The sleep recipe in words, e.g. `level 1` or `stop/start`. */
  readonly recipe: string;
  /** How an eviction frees its memory (see `sleepMethodOf`). */
  readonly sleepMethod: SleepMethod;
  /** The steps that succeeded in the last sleep and the last wake, with their durations (ms, rounded). */
  readonly lastSteps: { readonly sleep: readonly StepDuration[]; readonly wake: readonly StepDuration[] };
  /** Epoch ms of the last request granted or completed; null when never used. */
  readonly lastUsedAt: number | null;
  readonly inFlight: number;
  readonly queued: number;
  readonly resources: ModelResources;
  readonly pid: number | null;
  /** Backends that sleep by themselves (llama-server): the last answer of their probe. */
  readonly selfAsleep: boolean | null;
  readonly lastChange: Omit<StateChange, 'model'> | null;
  /** Which admin actions make sense now (the status page enables its buttons from this). */
  readonly actions: Readonly<Record<ModelAction, boolean>>;
}

/** One log line as the event stream and the status page see it; `model` null = the gateway's own log. */
export interface LogEntry {
  readonly model: string | null;
  readonly source: string;
  readonly text: string;
  readonly at: number;
  readonly seq: number;
}

export function logEntry(model: string | null, line: LogLine): LogEntry {
  return { model, source: line.source, text: line.text, at: line.at, seq: line.seq };
}

/**
 * How a model sleeps: `http` (a plugin's HTTP recipe or `sleepEndpoints`), `cuda-checkpoint`,
 * `self` (it cannot be put to sleep, but unloads itself: llama-server `--sleep-idle-seconds`), or
 * `stop` (an eviction stops it).
 */
export type SleepMethod = 'http' | 'self' | 'cuda-checkpoint' | 'stop';

export interface StepDuration {
  readonly step: string;
  readonly ms: number;
}

export function sleepMethodOf(model: ModelConfig, plugin: BackendPlugin, timeouts: RecipeTimeouts): SleepMethod {
  const recipe = resolveRecipe(model, plugin, timeouts);
  if (recipe) return recipe.cuda ? 'cuda-checkpoint' : 'http';
  return plugin.sleepsBySelf === true && model.cmd.some((arg) => arg.startsWith('--sleep-idle-seconds')) ? 'self' : 'stop';
}

/** The last sleep's and the last wake's steps, per model: a new sleep (or wake) starts its list afresh. */
export class StepLog {
  readonly #steps = new Map<string, { sleep: StepDuration[]; wake: StepDuration[] }>();

  /** A sleep or wake begins (the model enters `sleeping` / `waking`). */
  begin(model: string, what: 'sleep' | 'wake'): void {
    const entry = this.#steps.get(model) ?? { sleep: [], wake: [] };
    entry[what] = [];
    this.#steps.set(model, entry);
  }

  add(model: string, timing: Pick<StepTiming, 'what' | 'step' | 'ms'>): void {
    const entry = this.#steps.get(model) ?? { sleep: [], wake: [] };
    entry[timing.what].push({ step: timing.step, ms: Math.round(timing.ms) });
    this.#steps.set(model, entry);
  }

  of(model: string): { readonly sleep: readonly StepDuration[]; readonly wake: readonly StepDuration[] } {
    const entry = this.#steps.get(model);
    return { sleep: [...(entry?.sleep ?? [])], wake: [...(entry?.wake ?? [])] };
  }
}

const UNLOADABLE: ReadonlySet<ModelState> = new Set(['starting', 'ready', 'sleeping', 'asleep', 'waking']);

/** The actions that make sense for a model in `state`. */
export function possibleActions(state: ModelState, canSleep: boolean): Record<ModelAction, boolean> {
  return {
    load: state === 'stopped',
    sleep: canSleep && state === 'ready',
    wake: state === 'asleep',
    unload: UNLOADABLE.has(state),
  };
}

export function modelView(process: ModelProcess, scheduled: ModelSnapshot | undefined, timeouts: RecipeTimeouts, steps?: StepLog): ModelView {
  const { model } = process;
  const canSleep = process.canSleep();
  const change = process.lastChange;
  return {
    id: model.id,
    name: model.name,
    description: model.description,
    aliases: model.aliases,
    backend: model.backend,
    state: process.state,
    sleepLevel: model.sleep.level,
    asleepLevel: process.asleepLevel,
    canSleep,
    recipe: recipeName(model, process.plugin, timeouts),
    sleepMethod: sleepMethodOf(model, process.plugin, timeouts),
    lastSteps: steps?.of(model.id) ?? { sleep: [], wake: [] },
    lastUsedAt: scheduled?.lastUsedAt ?? null,
    inFlight: process.inFlight,
    queued: scheduled?.queued ?? 0,
    resources: model.resources,
    pid: process.pid,
    selfAsleep: process.selfAsleep ?? null,
    lastChange: change ? { from: change.from, to: change.to, reason: change.reason, durationMs: Math.round(change.durationMs), at: change.at } : null,
    actions: possibleActions(process.state, canSleep),
  };
}

/** The part of the model manager the views need. */
export interface ViewSource {
  readonly config: { readonly sleepRequestTimeoutMs: number; readonly wakeRequestTimeoutMs: number };
  processes(): ModelProcess[];
  snapshot(): { readonly models: readonly ModelSnapshot[] };
  /** The steps of each model's last sleep and wake (the manager's). */
  readonly sleepSteps?: StepLog;
}

function recipeTimeouts(source: ViewSource): RecipeTimeouts {
  return { sleepTimeoutMs: source.config.sleepRequestTimeoutMs, wakeTimeoutMs: source.config.wakeRequestTimeoutMs };
}

/** Views of every model, in configuration order. */
export function modelViews(source: ViewSource): ModelView[] {
  const scheduled = new Map(source.snapshot().models.map((entry) => [entry.id, entry]));
  const timeouts = recipeTimeouts(source);
  return source.processes().map((process) => modelView(process, scheduled.get(process.id), timeouts, source.sleepSteps));
}

/** The view of the model with id `id` (not an alias), or null; builds only that one view. */
export function findModelView(source: ViewSource, id: string): ModelView | null {
  const process = source.processes().find((candidate) => candidate.id === id);
  if (!process) return null;
  return modelView(process, source.snapshot().models.find((entry) => entry.id === id), recipeTimeouts(source), source.sleepSteps);
}

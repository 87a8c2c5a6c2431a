/**
 * What the admin API, the event stream and the status page show about a model: a plain JSON view
 * built from the model's process and the scheduler's snapshot, plus the actions that make sense in
 * its current state. Pure, so the rules are tested as a table.
 */
import type { ModelResources } from '../config/types.js';
import type { LogLine } from '../process/log-ring.js';
import type { ModelProcess } from '../process/model-process.js';
import type { ModelState, StateChange } from '../process/states.js';
import { recipeName, type RecipeTimeouts } from '../plugins/recipes.js';
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

export function modelView(process: ModelProcess, scheduled: ModelSnapshot | undefined, timeouts: RecipeTimeouts): ModelView {
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
}

function recipeTimeouts(source: ViewSource): RecipeTimeouts {
  return { sleepTimeoutMs: source.config.sleepRequestTimeoutMs, wakeTimeoutMs: source.config.wakeRequestTimeoutMs };
}

/** Views of every model, in configuration order. */
export function modelViews(source: ViewSource): ModelView[] {
  const scheduled = new Map(source.snapshot().models.map((entry) => [entry.id, entry]));
  const timeouts = recipeTimeouts(source);
  return source.processes().map((process) => modelView(process, scheduled.get(process.id), timeouts));
}

/** The view of the model with id `id` (not an alias), or null; builds only that one view. */
export function findModelView(source: ViewSource, id: string): ModelView | null {
  const process = source.processes().find((candidate) => candidate.id === id);
  if (!process) return null;
  return modelView(process, source.snapshot().models.find((entry) => entry.id === id), recipeTimeouts(source));
}

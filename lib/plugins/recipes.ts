/** Which sleep/wake recipe a model uses: pure, tested as a table. */
import type { HttpStep, ModelConfig } from '../config/types.js';
import type { BackendPlugin, RecipeStep, ResolvedRecipe } from './types.js';

export interface RecipeTimeouts {
  readonly sleepTimeoutMs: number;
  readonly wakeTimeoutMs: number;
}

function resolveSteps(steps: readonly RecipeStep[], timeoutMs: number): HttpStep[] {
  return steps.map((step) => ({
    endpoint: step.endpoint,
    method: (step.method ?? 'POST').toUpperCase(),
    ...(step.body === undefined ? {} : { body: step.body }),
    timeoutMs: step.timeoutMs ?? timeoutMs,
  }));
}

/** The recipe of `sleep.method: cuda-checkpoint`: one suspend step, one resume step (levels do not apply). */
function cudaRecipe(model: ModelConfig, timeouts: RecipeTimeouts, level: number): ResolvedRecipe {
  const binary = model.sleep.checkpointBinary ?? 'cuda-checkpoint';
  return {
    name: 'cuda-checkpoint',
    // The level asked for, so a deeper idle step finds the model asleep "deep enough" and does not wake it.
    level,
    sleep: [],
    wake: [],
    cuda: {
      sleep: [{ kind: 'cuda-checkpoint', action: 'suspend', binary, timeoutMs: timeouts.sleepTimeoutMs }],
      wake: [{ kind: 'cuda-checkpoint', action: 'resume', binary, timeoutMs: timeouts.wakeTimeoutMs }],
    },
  };
}

/**
 * The recipe for putting `model` to sleep at `level` (default: its configured level), or null when
 * it cannot sleep and eviction must stop it. Explicit `sleepEndpoints`/`wakeEndpoints` win over the
 * plugin's recipe; `sleep.method: cuda-checkpoint` wins over both; `sleepMode: disable` always means stop/start.
 */
export function resolveRecipe(
  model: ModelConfig,
  plugin: BackendPlugin,
  timeouts: RecipeTimeouts,
  level: number = model.sleep.level,
): ResolvedRecipe | null {
  if (!model.sleep.enabled) return null;
  if (model.sleep.method === 'cuda-checkpoint') return cudaRecipe(model, timeouts, level);
  if (model.sleepEndpoints && model.sleepEndpoints.length > 0) {
    return { name: 'sleepEndpoints', level, sleep: model.sleepEndpoints, wake: model.wakeEndpoints ?? [] };
  }
  const recipe = plugin.sleepLevels?.[level];
  if (!recipe) return null;
  return {
    name: recipe.name,
    level,
    sleep: resolveSteps(recipe.sleep, timeouts.sleepTimeoutMs),
    wake: resolveSteps(recipe.wake, timeouts.wakeTimeoutMs),
  };
}

/** A short description for `siesta check` and the status page. */
export function recipeName(model: ModelConfig, plugin: BackendPlugin | undefined, timeouts: RecipeTimeouts): string {
  if (!plugin) return 'stop/start';
  const recipe = resolveRecipe(model, plugin, timeouts);
  if (!recipe) return plugin.sleepsBySelf ? 'stop/start (sleeps by itself)' : 'stop/start';
  return recipe.name === 'sleepEndpoints'
    ? `endpoints (${recipe.sleep.length} sleep / ${recipe.wake.length} wake steps)`
    : recipe.name;
}

/**
 * `siesta check`: a loaded configuration → the lines to print, one per model. Pure; the CLI
 * entry does the I/O. The sleep recipe's name comes from a callback so the plugin registry can
 * supply real names (e.g. `vllm level 2`); without it, a name is derived from the config alone.
 */
import { quote } from 'shell-quote';
import type { IdleStep, LoadedConfig, ModelConfig } from '../config/types.js';
import { formatIssue } from '../config/errors.js';
import { formatDuration } from '../config/units.js';

export interface CheckOptions {
  /** Name of the model's sleep recipe; return undefined to fall back to the built-in description. */
  readonly recipeName?: (model: ModelConfig) => string | undefined;
}

/** The recipe description `siesta check` shows when no plugin registry names it. */
export function defaultRecipeName(model: ModelConfig): string {
  if (!model.sleep.enabled) return 'stop/start';
  if (model.sleepEndpoints && model.wakeEndpoints) {
    return `endpoints (${model.sleepEndpoints.length} sleep / ${model.wakeEndpoints.length} wake steps)`;
  }
  if (model.backend !== 'generic') return `plugin ${model.backend} level ${model.sleep.level}`;
  return 'stop/start';
}

/** `5m sleep L1 → 30m sleep L2 → 2h stop`, or `never`. */
export function formatIdleLadder(steps: readonly IdleStep[], defaultLevel: number): string {
  if (steps.length === 0) return 'never';
  return steps
    .map((step) =>
      step.action === 'sleep'
        ? `${formatDuration(step.afterMs)} sleep L${step.level ?? defaultLevel}`
        : `${formatDuration(step.afterMs)} stop`,
    )
    .join(' → ');
}

/** Shell-quoted argv for display (never executed). */
export function formatArgv(argv: readonly string[]): string {
  return quote([...argv]);
}

export function formatModelLine(model: ModelConfig, options: CheckOptions = {}): string {
  const recipe = options.recipeName?.(model) ?? defaultRecipeName(model);
  return [
    model.id,
    `backend=${model.backend}`,
    `proxy=${model.proxy}`,
    `sleep=${recipe}`,
    `idle=${formatIdleLadder(model.idle, model.sleep.level)}`,
    `cmd=${formatArgv(model.cmd)}`,
  ].join('  ');
}

/** One line per model, in id order. */
export function checkLines(loaded: LoadedConfig, options: CheckOptions = {}): string[] {
  return Object.keys(loaded.config.models)
    .sort()
    .map((id) => formatModelLine(loaded.config.models[id] as ModelConfig, options));
}

/** Warning lines for stderr. */
export function warningLines(loaded: LoadedConfig): string[] {
  return loaded.warnings.map((warning) => `warning: ${formatIssue(warning)}`);
}

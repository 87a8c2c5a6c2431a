/** The scheduler's public surface: pure decisions (events in, effects out), see `scheduler.ts`. */
import type { GatewayConfig, ModelConfig } from '../config/types.js';
import type { RouterChoice } from './matrix/types.js';
import { Scheduler } from './scheduler.js';
import type { SchedulerOptions } from './types.js';

export { DEFAULT_MAX_BYPASS_MS, Scheduler } from './scheduler.js';
export type * from './types.js';
export * from './matrix/index.js';

/** The parts of a loaded configuration the scheduler reads. */
export interface SchedulerConfigSource<M extends Pick<ModelConfig, 'id' | 'priority' | 'resources'>> {
  readonly models: Readonly<Record<string, M>>;
  readonly groups: GatewayConfig['groups'];
  readonly resources: GatewayConfig['resources'];
  /** `routing.router` (or the legacy `matrix:`); absent or `group` = group rules (or budgets). */
  readonly routing?: RouterChoice;
}

function matrixOf(routing: RouterChoice | undefined): Pick<SchedulerOptions, 'matrix'> {
  if (routing?.router !== 'matrix') return {};
  if (routing.matrix === null) throw new Error('routing: the router is matrix but no compiled matrix was given (compileMatrix)');
  return { matrix: routing.matrix };
}

/**
 * Scheduler options from a loaded configuration. `canSleep` says whether an eviction can put the
 * model to sleep (the caller knows the plugins: sleep enabled and a sleep recipe available).
 */
export function schedulerOptionsFromConfig<M extends Pick<ModelConfig, 'id' | 'priority' | 'resources'>>(
  config: SchedulerConfigSource<M>,
  canSleep: (model: M) => boolean,
  extra: Pick<SchedulerOptions, 'maxBypassMs'> = {},
): SchedulerOptions {
  return {
    models: Object.values(config.models).map((model) => ({
      id: model.id,
      canSleep: canSleep(model),
      priority: model.priority,
      resources: model.resources,
    })),
    groups: config.groups,
    budgets: config.resources,
    ...matrixOf(config.routing),
    ...extra,
  };
}

/** A scheduler for a loaded configuration; throws, naming every problem, when groups and models disagree. */
export function createScheduler<M extends Pick<ModelConfig, 'id' | 'priority' | 'resources'>>(
  config: SchedulerConfigSource<M>,
  canSleep: (model: M) => boolean,
  extra: Pick<SchedulerOptions, 'maxBypassMs'> = {},
): Scheduler {
  return new Scheduler(schedulerOptionsFromConfig(config, canSleep, extra));
}

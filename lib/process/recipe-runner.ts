/**
 * The recipe runner: puts a running server to sleep or wakes it by running a recipe's steps in
 * order, each bounded by its own timeout, then confirms the new state where the backend can tell
 * (`isAsleep`, polled on the clock), and warms a woken model up. It knows nothing of model states
 * or leases: the owner (`model-process.ts`) decides when to sleep and what a failure means.
 *
 * A step is a tagged union (`RecipeStep`) run by one executor per kind (`StepExecutors`): an HTTP
 * call to the model's server, or a CUDA checkpoint of its process tree (cuda-checkpoint.ts). The
 * compiler refuses a kind without an executor.
 */
import type { HttpStep } from '../config/types.js';
import { pause, type Clock } from '../clock.js';
import type { Logger } from '../logger.js';
import type { BackendPlugin, CudaCheckpointStep, PluginContext, ResolvedRecipe } from '../plugins/types.js';
import { CudaCheckpointer, execFileRunner, procTree, type ExecFn } from './cuda-checkpoint.js';
import type { HttpClient } from './http.js';
import { joinUpstream } from './upstream-url.js';

/** An HTTP call to the model's server: a sleep or wake endpoint (the plugins' recipes, sleepEndpoints). */
export interface HttpRecipeStep extends HttpStep {
  readonly kind: 'http';
}

export type { CudaCheckpointStep } from '../plugins/types.js';

/** One step of a sleep or wake recipe. */
export type RecipeStep = HttpRecipeStep | CudaCheckpointStep;

/** Runs one step within its `timeoutMs`; throws with the reason when it failed. */
export type StepExecutor<S extends RecipeStep> = (step: S) => Promise<void>;

/** One executor per kind of step. */
export type StepExecutors = { readonly [K in RecipeStep['kind']]: StepExecutor<Extract<RecipeStep, { kind: K }>> };

/** What a failed step is called in messages: `POST /sleep?level=1`. */
export function describeStep(step: RecipeStep): string {
  switch (step.kind) {
    case 'http':
      return `${step.method} ${step.endpoint}`;
    case 'cuda-checkpoint':
      return `cuda-checkpoint ${step.action}`;
  }
}

/** The steps of a recipe for `what`: its CUDA steps when it has them, else its HTTP steps. */
export function recipeSteps(recipe: ResolvedRecipe, what: 'sleep' | 'wake'): RecipeStep[] {
  return recipe.cuda ? [...recipe.cuda[what]] : httpSteps(recipe[what]);
}

/** A recipe's HTTP steps as recipe steps. */
export function httpSteps(steps: readonly HttpStep[]): HttpRecipeStep[] {
  return steps.map((step) => ({ ...step, kind: 'http' as const }));
}

/** The HTTP executor: the call must answer 2xx within the step's timeout (the client's deadline). */
export function httpStepExecutor(http: HttpClient, upstream: string): StepExecutor<HttpRecipeStep> {
  return async (step) => {
    const { status } = await http.request({
      method: step.method,
      url: joinUpstream(upstream, step.endpoint),
      ...(step.body === undefined ? {} : { body: step.body }),
      timeoutMs: step.timeoutMs,
    });
    if (status < 200 || status > 299) throw new StepAnswered(status);
  };
}

/**
 * The CUDA checkpoint executor: suspends or resumes the process tree rooted at `rootPid()` (the
 * model's child) with the step's binary; `exec` and `tree` are injectable for tests.
 */
export function cudaStepExecutor(
  rootPid: () => number | null,
  log: Logger,
  id: () => string,
  exec: ExecFn = execFileRunner,
  tree: (root: number) => Promise<readonly number[]> = procTree,
): StepExecutor<CudaCheckpointStep> {
  const checkpointer = new CudaCheckpointer({
    exec,
    tree: () => {
      const pid = rootPid();
      return pid === null ? Promise.resolve([]) : tree(pid);
    },
    log,
    id,
  });
  return (step) => checkpointer.run(step);
}

/** A step that was carried out but refused (non-2xx): its message is not prefixed with "failed". */
class StepAnswered extends Error {
  constructor(readonly status: number) {
    super(`answered HTTP ${status}`);
  }
}

/** How long one step of a sleep or wake took (successful steps only; `confirm` = polling the backend's sleep state). */
export interface StepTiming {
  readonly what: 'sleep' | 'wake';
  /** `http` or `cuda-checkpoint`: the kind of the step (the confirm poll counts as `http`). */
  readonly method: RecipeStep['kind'];
  /** `POST /sleep?level=1`, `cuda-checkpoint lock`, `confirm`. */
  readonly step: string;
  readonly ms: number;
}

export interface RecipeRunnerOptions {
  readonly plugin: BackendPlugin;
  readonly executors: StepExecutors;
  /** The plugin's context for a call bounded by `timeoutMs` (model, base URL, HTTP, log, abort signal). */
  readonly context: (timeoutMs: number) => PluginContext;
  readonly clock: Clock;
  readonly log: Logger;
  /** The model id, for log lines. */
  readonly id: () => string;
  /** Told the duration of each step that succeeded (metrics, status page). */
  readonly onStep?: (timing: StepTiming) => void;
}

export class RecipeRunner {
  readonly #options: RecipeRunnerOptions;

  constructor(options: RecipeRunnerOptions) {
    this.#options = options;
  }

  /** Run the sleep steps, then wait until the backend reports itself asleep (within `confirmMs`). Throws on failure. */
  async sleep(recipe: ResolvedRecipe, confirmMs: number): Promise<void> {
    await this.run(recipeSteps(recipe, 'sleep'), 'sleep');
    // A CUDA checkpoint confirms its state itself; the backend's HTTP view of sleep does not apply.
    if (!recipe.cuda) await this.#timedConfirm(true, confirmMs);
  }

  /** Run the wake steps (none when `recipe` is null), then wait until the backend reports itself awake. Throws on failure. */
  async wake(recipe: ResolvedRecipe | null, confirmMs: number): Promise<void> {
    if (recipe) await this.run(recipeSteps(recipe, 'wake'), 'wake');
    if (!recipe?.cuda) await this.#timedConfirm(false, confirmMs);
  }

  /** The plugin's warm-up after a wake, if any; a failure is logged, never thrown (the model serves anyway). */
  async warmUp(timeoutMs: number): Promise<void> {
    const { plugin } = this.#options;
    if (!plugin.warmup) return;
    try {
      await plugin.warmup(this.#options.context(timeoutMs));
    } catch (error) {
      this.#options.log.warn('warm-up failed', { model: this.#options.id(), error: (error as Error).message });
    }
  }

  /** Run `steps` in order; the first failure stops the recipe with a message naming the step. */
  async run(steps: readonly RecipeStep[], what: 'sleep' | 'wake'): Promise<void> {
    for (const step of steps) {
      const startedMs = performance.now();
      try {
        await this.#execute(step);
        this.#options.onStep?.({ what, method: step.kind, step: describeStep(step), ms: performance.now() - startedMs });
      } catch (error) {
        if (error instanceof StepAnswered) throw new Error(`${what} step ${describeStep(step)} ${error.message}`, { cause: error });
        throw new Error(`${what} step ${describeStep(step)} failed: ${(error as Error).message}`, { cause: error });
      }
    }
  }

  #execute(step: RecipeStep): Promise<void> {
    switch (step.kind) {
      case 'http':
        return this.#options.executors.http(step);
      case 'cuda-checkpoint':
        return this.#options.executors['cuda-checkpoint'](step);
    }
  }

  /** `confirm`, reported as a step when the backend can tell its sleep state. */
  async #timedConfirm(expectAsleep: boolean, deadlineMs: number): Promise<void> {
    const startedMs = performance.now();
    await this.confirm(expectAsleep, deadlineMs);
    const { plugin } = this.#options;
    if (plugin.isAsleep && !plugin.sleepsBySelf) {
      this.#options.onStep?.({ what: expectAsleep ? 'sleep' : 'wake', method: 'http', step: 'confirm', ms: performance.now() - startedMs });
    }
  }

  /** Where the backend can tell, poll until it reports the expected sleep state or the deadline passes. */
  async confirm(expectAsleep: boolean, deadlineMs: number): Promise<void> {
    const { plugin, clock } = this.#options;
    if (!plugin.isAsleep || plugin.sleepsBySelf) return;
    const deadline = clock.now() + deadlineMs;
    let delayMs = 5;
    for (;;) {
      const asleep = await plugin.isAsleep(this.#options.context(deadlineMs));
      if (asleep === undefined || asleep === expectAsleep) return;
      if (clock.now() + delayMs > deadline) {
        throw new Error(`backend still reports is_sleeping=${String(asleep)} after ${Math.round(deadlineMs)} ms`);
      }
      await pause(clock, delayMs).done;
      delayMs = Math.min(100, delayMs * 2);
    }
  }

  /** Ask the backend whether it sleeps (a backend that sleeps by itself); undefined when it cannot tell or the probe failed. */
  async probeAsleep(timeoutMs: number): Promise<boolean | undefined> {
    if (!this.#options.plugin.isAsleep) return undefined;
    try {
      return await this.#options.plugin.isAsleep(this.#options.context(timeoutMs));
    } catch {
      return undefined;
    }
  }
}

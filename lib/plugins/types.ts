/**
 * The backend plugin interface. A plugin is a plain typed object: it describes how a backend
 * becomes ready, sleeps and wakes, as data (HTTP steps) plus a few optional probes that receive a
 * context from the host. A plugin never spawns, never holds timers and never reads `process.env`.
 */
import type { Schema } from 'joi';
import type { HttpStep, ModelConfig } from '../config/types.js';

export const PLUGIN_API_VERSION = 1;

/** A recipe step as a plugin writes it: the timeout defaults to the config's sleep/wake request timeout. */
export interface RecipeStep {
  readonly endpoint: string;
  /** Default POST. */
  readonly method?: string;
  readonly body?: string;
  readonly timeoutMs?: number;
}

export interface SleepRecipe {
  /** Human name shown by `siesta check` and the status page, e.g. `vllm level 1`. */
  readonly name: string;
  readonly sleep: readonly RecipeStep[];
  readonly wake: readonly RecipeStep[];
}

/** Minimal HTTP client handed to plugins (backed by siesta's own node:http client, lib/process/http.ts). */
export interface PluginHttp {
  request(options: {
    readonly method?: string;
    readonly path: string;
    readonly json?: unknown;
    readonly timeoutMs?: number;
  }): Promise<{ readonly status: number; readonly body: string }>;
}

export interface PluginLogger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
}

export interface PluginContext {
  readonly model: ModelConfig;
  /** The model's `proxy` URL as calls are joined to it: scheme, host, port and path, no trailing slash (`http.request` paths go after it). */
  readonly baseUrl: string;
  readonly http: PluginHttp;
  readonly log: PluginLogger;
  readonly signal: AbortSignal;
}

export interface BackendPlugin {
  readonly name: string;
  readonly apiVersion: typeof PLUGIN_API_VERSION;
  readonly description?: string;
  /** Joi schema for the model's `options:` block. */
  readonly optionsSchema?: Schema;
  /** Defaults applied under the model's own config. */
  readonly defaults?: {
    readonly env?: Readonly<Record<string, string>>;
    /** The readiness path of a model that does not set `checkEndpoint` (`none`: no check); without it, `/health`. */
    readonly checkEndpoint?: string;
  };
  /**
   * @deprecated Ignored: accepted so that plugins written for earlier versions still load. The
   * readiness probe treats every answer but 200, and a refused connection, as "still loading"
   * until `healthCheckTimeout` (llama-swap's rule); the timeout's message names the last answer.
   */
  readonly loadingStatuses?: readonly number[];
  /** Sleep recipes by level. A plugin without recipes cannot sleep: eviction stops it. */
  readonly sleepLevels?: Readonly<Record<number, SleepRecipe>>;
  /**
   * Whether the backend reports sleeping. Used to confirm a sleep (must become true) and a wake
   * (must become false). Return undefined when the backend cannot tell.
   */
  isAsleep?(ctx: PluginContext): Promise<boolean | undefined>;
  /**
   * True when the backend puts itself to sleep and wakes by itself on the next request
   * (llama-server `--sleep-idle-seconds`); `isAsleep` is then only polled for status.
   */
  readonly sleepsBySelf?: boolean;
  /** A cheap request after a wake so the first real request is not slow (vLLM: 1 token). */
  warmup?(ctx: PluginContext): Promise<void>;
  /**
   * Called before siesta stops a ready process (eviction, idle ladder, unload, shutdown), e.g. to
   * save state the next start restores (llama-server `saveSlots`). Bounded by the host's sleep
   * timeout (`ctx.signal` aborts then); a failure is logged and never blocks the stop.
   */
  beforeStop?(ctx: PluginContext): Promise<void>;
  /**
   * Called after a start, before the model admits requests (the loading stream says
   * `afterStartText`). Bounded by the host's wake timeout; a failure is logged, the model serves.
   */
  afterStart?(ctx: PluginContext): Promise<void>;
  /** What the loading stream shows while `afterStart` runs for this model, e.g. `restoring prompt cache`; undefined: `starting`. */
  afterStartText?(model: ModelConfig): string | undefined;
  /** Config problems only this plugin sees, as warnings (`siesta check`): path like `models.X.options.saveSlots`. */
  configWarnings?(model: ModelConfig): readonly { readonly path: string; readonly message: string }[];
}

/**
 * A step of a CUDA checkpoint recipe: suspend (lock with a timeout, checkpoint, confirm) or resume
 * (restore, unlock, confirm) every process of the model's tree that has CUDA state, with NVIDIA's
 * `cuda-checkpoint` binary. Run by lib/process/cuda-checkpoint.ts.
 */
export interface CudaCheckpointStep {
  readonly kind: 'cuda-checkpoint';
  readonly action: 'suspend' | 'resume';
  /** Path of the binary, or a bare name looked up on PATH. */
  readonly binary: string;
  /** Bound of the whole step (every process, every call). */
  readonly timeoutMs: number;
}

/** A plugin recipe resolved against a model's config: every step has its method and timeout. */
export interface ResolvedRecipe {
  readonly name: string;
  readonly level: number;
  readonly sleep: readonly HttpStep[];
  readonly wake: readonly HttpStep[];
  /**
   * `sleep.method: cuda-checkpoint`: these steps replace `sleep`/`wake` (which are then empty) and
   * the plugin's `isAsleep` is not asked (the steps confirm the CUDA state themselves).
   */
  readonly cuda?: { readonly sleep: readonly CudaCheckpointStep[]; readonly wake: readonly CudaCheckpointStep[] };
}

/**
 * The plugin registry: the built-in backends plus every module in the configured plugin directory.
 * A plugin that fails to load or does not match the interface stops start-up: every problem is
 * listed with its file name and the reason.
 */
import { readdir, realpath } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import Joi from 'joi';
import { genericPlugin } from '../../plugins/generic.js';
import { llamaServerPlugin } from '../../plugins/llama-server.js';
import { sglangPlugin } from '../../plugins/sglang.js';
import { vllmPlugin } from '../../plugins/vllm.js';
import { packageRoot } from '../package-root.js';
import type { ModelConfig } from '../config/types.js';
import { PLUGIN_API_VERSION, type BackendPlugin } from './types.js';

export const BUILTIN_PLUGINS: readonly BackendPlugin[] = [genericPlugin, vllmPlugin, llamaServerPlugin, sglangPlugin];

/** The module files of the built-ins in siesta's own `plugins/` (sources, and the build's copy in dist/). */
const BUILTIN_FILES = /^(generic|llama-server|sglang|vllm)\.(ts|js)$/;
const OWN_PLUGIN_DIRS = ['plugins', 'dist/plugins'].map((relative) => join(packageRoot(), relative));

/** This module runs as TypeScript (tsx), not from the compiled build: `.ts` plugins then load as they are. */
const RUNNING_TYPESCRIPT = import.meta.url.endsWith('.ts');
let typeScriptLoader: Promise<void> | undefined;

/** What a `.ts` plugin's problem says when tsx, an optional dependency, is not installed. */
const TSX_MISSING = 'a TypeScript plugin needs tsx, which is not installed: npm install tsx (or compile the plugin to .js)';

/** Whether `error` is the import of tsx itself failing because the package is not installed. */
function isTsxMissing(error: unknown): boolean {
  const { code, message } = error as { code?: unknown; message?: unknown };
  return code === 'ERR_MODULE_NOT_FOUND' && typeof message === 'string' && message.includes("'tsx'");
}

/**
 * The compiled build loads a `.ts` user plugin through tsx (all of it, as `node --import tsx`),
 * registered on first need. tsx is an optional dependency: only `.ts` plugins need it.
 */
function loadTypeScript(): Promise<void> {
  // A computed specifier: `import('tsx')` would make TypeScript look for tsx's types, which its
  // root entry (a loader with side effects only) does not ship.
  const tsx = 'tsx';
  typeScriptLoader ??= import(tsx).then(
    () => undefined,
    (error: unknown) => {
      throw isTsxMissing(error) ? new Error(TSX_MISSING, { cause: error }) : error;
    },
  );
  return typeScriptLoader;
}

/**
 * The module's exports. A `.ts` plugin outside an ES-module package (no `"type": "module"`) is
 * compiled to CommonJS, and `import()` then wraps its exports once more (`default.default`).
 */
function moduleExports(loaded: Record<string, unknown>): Record<string, unknown> {
  const inner = loaded.default;
  const wrapped = typeof inner === 'object' && inner !== null && (inner as { __esModule?: unknown }).__esModule === true;
  return wrapped ? (inner as Record<string, unknown>) : loaded;
}

async function isOwnPluginDir(dir: string): Promise<boolean> {
  const real = await realpath(dir).catch(() => dir);
  for (const own of OWN_PLUGIN_DIRS) {
    if ((await realpath(own).catch(() => own)) === real) return true;
  }
  return false;
}

const stepSchema = Joi.object({
  endpoint: Joi.string().pattern(/^\//).required(),
  method: Joi.string(),
  body: Joi.string(),
  timeoutMs: Joi.number().positive(),
});

const pluginSchema = Joi.object({
  name: Joi.string().pattern(/^[a-z0-9][a-z0-9._-]*$/).required(),
  apiVersion: Joi.number().valid(PLUGIN_API_VERSION).required().messages({ 'any.only': `{{#label}} must be ${PLUGIN_API_VERSION} (this siesta's plugin API version)` }),
  description: Joi.string(),
  optionsSchema: Joi.object().schema(),
  defaults: Joi.object({ env: Joi.object().pattern(Joi.string(), Joi.string()), checkEndpoint: Joi.string() }),
  loadingStatuses: Joi.array().items(Joi.number().integer()), // deprecated and ignored (types.ts): older plugins still load
  sleepLevels: Joi.object().pattern(
    Joi.number().integer().min(1),
    Joi.object({ name: Joi.string().required(), sleep: Joi.array().items(stepSchema).min(1).required(), wake: Joi.array().items(stepSchema).required() }),
  ),
  isAsleep: Joi.function(),
  sleepsBySelf: Joi.boolean(),
  warmup: Joi.function(),
  beforeStop: Joi.function(),
  afterStart: Joi.function(),
  afterStartText: Joi.function(),
  configWarnings: Joi.function(),
}).unknown(false);

/** Problems with a candidate plugin object, as `key: reason` strings; empty when it is valid. */
export function validatePlugin(candidate: unknown): string[] {
  const { error } = pluginSchema.validate(candidate, { abortEarly: false });
  return error ? error.details.map((detail) => detail.message.replaceAll('"', '')) : [];
}

export class PluginLoadError extends Error {
  readonly problems: readonly { file: string; reason: string }[];
  constructor(problems: readonly { file: string; reason: string }[]) {
    super(`cannot load plugins:\n${problems.map((p) => `  ${p.file}: ${p.reason}`).join('\n')}`);
    this.name = 'PluginLoadError';
    this.problems = problems;
  }
}

export class PluginRegistry {
  readonly #plugins: ReadonlyMap<string, BackendPlugin>;
  constructor(plugins: readonly BackendPlugin[]) {
    this.#plugins = new Map(plugins.map((plugin) => [plugin.name, plugin]));
  }
  get(name: string): BackendPlugin | undefined {
    return this.#plugins.get(name);
  }
  names(): string[] {
    return [...this.#plugins.keys()];
  }
}

/** Each model's warnings from its plugin's `configWarnings` (e.g. llama-server `saveSlots` without `--slot-save-path`), for `siesta check` and the start-up log. */
export function pluginConfigWarnings(models: Iterable<ModelConfig>, plugins: Pick<PluginRegistry, 'get'>): { path: string; message: string }[] {
  return [...models].flatMap((model) => [...(plugins.get(model.backend)?.configWarnings?.(model) ?? [])]);
}

const MODULE_FILE = /\.(ts|mts|js|mjs)$/;
const NOT_A_PLUGIN = /(\.d\.ts|\.test\.[mc]?[jt]s)$/;

/** Load the built-ins and every module in `pluginDir` (missing directory = built-ins only). */
export async function loadPlugins(pluginDir: string | null): Promise<PluginRegistry> {
  const plugins = [...BUILTIN_PLUGINS];
  const problems: { file: string; reason: string }[] = [];
  const dir = pluginDir === null ? null : resolve(pluginDir);
  let files: string[] = [];
  if (dir !== null) {
    try {
      // siesta's own plugins/ as the plugin directory (the demo config): its built-ins are loaded already.
      const own = await isOwnPluginDir(dir);
      files = (await readdir(dir)).filter((name) => MODULE_FILE.test(name) && !NOT_A_PLUGIN.test(name) && !(own && BUILTIN_FILES.test(name))).sort();
    } catch (error) {
      if ((error as { code?: string }).code !== 'ENOENT') problems.push({ file: dir, reason: (error as Error).message });
    }
  }
  for (const file of files) {
    const path = join(dir!, file);
    let loaded: Record<string, unknown>;
    try {
      if (!RUNNING_TYPESCRIPT && /\.m?ts$/.test(file)) await loadTypeScript();
      loaded = moduleExports((await import(pathToFileURL(path).href)) as Record<string, unknown>);
    } catch (error) {
      problems.push({ file: path, reason: `failed to load: ${(error as Error).message}` });
      continue;
    }
    const candidate = loaded.default ?? loaded.plugin;
    if (candidate === undefined) {
      problems.push({ file: path, reason: 'exports no plugin (export default a plugin object, or export const plugin)' });
      continue;
    }
    const reasons = validatePlugin(candidate);
    if (reasons.length > 0) {
      problems.push({ file: path, reason: reasons.join('; ') });
      continue;
    }
    const plugin = candidate as BackendPlugin;
    if (plugins.some((existing) => existing.name === plugin.name)) {
      problems.push({ file: path, reason: `a plugin named "${plugin.name}" is already loaded` });
      continue;
    }
    plugins.push(plugin);
  }
  if (problems.length > 0) throw new PluginLoadError(problems);
  return new PluginRegistry(plugins);
}

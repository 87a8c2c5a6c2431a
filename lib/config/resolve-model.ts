/**
 * One model, from its validated `models.<id>` block to its `ModelConfig`: the macro expander
 * (`ModelMacros`, model-macros.ts, built once per model), then one small function per concern, in
 * the order `resolveModel` calls them: command, proxy, checkEndpoint, aliases, env, filters and
 * metadata, sleep and the idle ladder (resolve-sleep.ts), backend and its options.
 * Pure: the environment, the port allocator and the plugin hooks come in through `ModelContext`;
 * every problem is reported through it, in that order, none thrown.
 */
import type { Schema } from 'joi';
import type { Filters, Modality, ModelCapabilities, ModelConfig, ModelResources, ResourceAmounts } from './types.js';
import type { RawAmounts, RawModel } from './raw.js';
import { CommandSyntaxError, splitCommand, stripCommentLines } from './command.js';
import { DEFAULTS, list, num } from './defaults.js';
import { didYouMean } from './keys.js';
import { findMacroReferences } from './macros.js';
import { checkBaseUrl } from './base-url.js';
import { type DocPath, type MacroContext, ModelMacros } from './model-macros.js';
import { type SleepContext, resolveIdle, resolveSleep } from './resolve-sleep.js';
import { MODEL_TIMEOUTS, type Report, resolveFilters, resolveTimeouts } from './routing.js';
import { VALIDATE_OPTIONS } from './schema.js';

/** What the plugins tell the resolver: the backend names, and each one's schema for `options:`. */
export interface PluginChecks {
  /** Plugin names; when given, `backend` must be one of them. */
  readonly knownBackends?: readonly string[] | undefined;
  /** Each plugin's joi schema for a model's `options:` block, by plugin name. */
  readonly pluginOptionSchemas?: Readonly<Record<string, Schema>> | undefined;
}

/** The global values a model falls back to. */
export interface ModelDefaults {
  readonly sleepRequestTimeoutMs: number;
  /** The global `cudaCheckpoint.path`, else `cuda-checkpoint` (looked up on PATH). */
  readonly cudaCheckpointPath: string;
  readonly wakeRequestTimeoutMs: number;
  readonly healthCheckTimeoutMs: number;
  readonly unloadTimeoutMs: number;
  readonly globalTTLMs: number;
  readonly sendLoadingState: boolean;
}

/** Everything `resolveModel` needs from the whole document; built by `resolveConfig`. */
export interface ModelContext extends PluginChecks, MacroContext, SleepContext {
  readonly defaults: ModelDefaults;
}

export function amountsOf(raw: RawAmounts | undefined): ResourceAmounts {
  const out: { vram?: number; ram?: number } = {};
  if (typeof raw?.vram === 'number') out.vram = raw.vram;
  if (typeof raw?.ram === 'number') out.ram = raw.ram;
  return out;
}

/** cmd → argv, cmdStop → argv or null. llama-swap loads a model without cmd and fails when it starts; so does siesta. */
export function resolveCommand(id: string, raw: RawModel, macros: ModelMacros, ctx: ModelContext): { cmd: string[]; cmdStop: string[] | null } {
  let cmd: string[] = [];
  if (typeof raw.cmd !== 'string' || raw.cmd.trim() === '') {
    ctx.warn(['models', id, 'cmd'], 'is not set: this model cannot be started (requests for it will fail)');
  } else {
    const text = macros.finish(macros.cmdText, ['models', id, 'cmd']);
    try {
      cmd = splitCommand(text);
      if (cmd.length === 0) ctx.warn(['models', id, 'cmd'], 'is empty (only comments or blanks): this model cannot be started');
    } catch (error) {
      if (!(error instanceof CommandSyntaxError)) throw error;
      ctx.issue(['models', id, 'cmd'], error.message);
    }
  }

  let cmdStop: string[] | null = null;
  if (typeof raw.cmdStop === 'string' && raw.cmdStop.trim() !== '') {
    const text = macros.expandText(stripCommentLines(raw.cmdStop), ['models', id, 'cmdStop'], true);
    try {
      cmdStop = splitCommand(text);
      if (cmdStop.length === 0) cmdStop = null;
    } catch (error) {
      if (!(error instanceof CommandSyntaxError)) throw error;
      ctx.issue(['models', id, 'cmdStop'], error.message);
    }
  }
  return { cmd, cmdStop };
}

/** The upstream URL (trailing slashes dropped); the default `http://localhost:${PORT}` needs `${PORT}` in cmd. */
export function resolveProxy(id: string, raw: RawModel, macros: ModelMacros, issue: Report): string {
  const at = ['models', id, 'proxy'];
  const proxySet = typeof raw.proxy === 'string';
  const proxyText = macros.expandText(
    typeof raw.proxy === 'string' ? raw.proxy : DEFAULTS.proxy,
    at,
    false,
    proxySet
      ? undefined
      : `the default proxy ${DEFAULTS.proxy} needs \${PORT} in cmd: use \${PORT} in cmd, or set proxy to the server's URL`,
  );
  const proxy = proxyText.replace(/\/+$/, '');
  // One that still names a macro is no URL yet: not checked.
  if (!findMacroReferences(proxy).length) checkBaseUrl(proxy, at, issue, `is not a valid URL: ${proxy}`);
  return proxy;
}

/**
 * `checkEndpoint`: '' or 'none' turn the check off (null). Unset stays undefined: the plugin's
 * default, else /health, is applied where the plugin is known (lib/plugins/defaults.ts).
 */
export function resolveCheckEndpoint(id: string, raw: RawModel, macros: ModelMacros): string | null | undefined {
  if (typeof raw.checkEndpoint !== 'string') return undefined;
  const text = macros.expandText(raw.checkEndpoint, ['models', id, 'checkEndpoint']).trim();
  return text === '' || text === 'none' ? null : text;
}

/** The model's own aliases (strings or `{ id }`), without blanks and repeats; clashes are checked across models (cross-checks.ts). */
export function resolveAliases(raw: RawModel): string[] {
  const aliases: string[] = [];
  list(raw.aliases).forEach((alias) => {
    const name = typeof alias === 'string' ? alias : alias?.id;
    if (typeof name === 'string' && name !== '' && !aliases.includes(name)) aliases.push(name);
  });
  return aliases;
}

/** The child's environment: llama-swap's list of "NAME=value", or a map. */
export function resolveEnv(id: string, raw: RawModel, macros: ModelMacros, issue: Report): Record<string, string> {
  const childEnv: Record<string, string> = {};
  if (Array.isArray(raw.env)) {
    (raw.env as readonly unknown[]).forEach((entry, index) => {
      if (typeof entry !== 'string') return;
      const eq = entry.indexOf('=');
      if (eq <= 0) {
        issue(['models', id, 'env', index], 'must be NAME=value');
        return;
      }
      childEnv[entry.slice(0, eq)] = macros.expandText(entry.slice(eq + 1), ['models', id, 'env', index]);
    });
  } else if (raw.env && typeof raw.env === 'object') {
    for (const [name, value] of Object.entries(raw.env)) {
      if (name === '' || name.includes('=')) issue(['models', id, 'env', name], 'is not a valid environment variable name');
      else childEnv[name] = macros.expandText(String(value), ['models', id, 'env', name]);
    }
  }
  return childEnv;
}

/** `filters`, macros expanded; llama-swap expands macros in setParamsByID keys too (`"${MODEL_ID}:high"`), and two keys may not meet. */
export function resolveModelFilters(id: string, raw: RawModel, macros: ModelMacros, ctx: ModelContext): Filters {
  const byId: Record<string, Readonly<Record<string, unknown>> | null> = {};
  for (const [key, value] of Object.entries(raw.filters?.setParamsByID ?? {})) {
    const expandedKey = macros.expandText(key, ['models', id, 'filters', 'setParamsByID', key]);
    if (Object.hasOwn(byId, expandedKey)) ctx.issue(['models', id, 'filters', 'setParamsByID', key], `keys "${key}" and "${expandedKey}" resolve to the same value`);
    byId[expandedKey] = value;
  }
  const rawFilters = raw.filters ? { ...raw.filters, setParamsByID: byId } : undefined;
  return resolveFilters(rawFilters, (value, docPath) => macros.expandTyped(value, [...docPath]), ['models', id, 'filters'], ctx.warn);
}

/**
 * The plugin checks for one model: `backend` must name a known plugin, and `options` must pass
 * that plugin's schema (its defaults applied), or be empty when the plugin has none. Without plugin
 * knowledge (`checks` empty) the options are returned as given. Also run on an already resolved
 * config (`applyPluginChecks` in resolve.ts), hence the plain arguments.
 */
export function resolveBackendOptions(
  id: string,
  backend: string,
  given: Readonly<Record<string, unknown>> | undefined,
  checks: PluginChecks,
  issue: Report,
): Record<string, unknown> {
  const at = (...rest: DocPath): DocPath => ['models', id, ...rest];
  if (checks.knownBackends && !checks.knownBackends.includes(backend)) {
    issue(at('backend'), `unknown backend "${backend}"${didYouMean(backend, checks.knownBackends)}; known: ${checks.knownBackends.join(', ')}`);
  }
  let options: Record<string, unknown> = given ? { ...given } : {};
  if (checks.pluginOptionSchemas) {
    const schema = checks.pluginOptionSchemas[backend];
    if (schema) {
      const result = schema.validate(options, VALIDATE_OPTIONS);
      for (const detail of result.error?.details ?? []) issue(at('options', ...detail.path), detail.message);
      if (!result.error && result.value && typeof result.value === 'object') options = result.value as Record<string, unknown>;
    } else if (Object.keys(options).length > 0 && (!checks.knownBackends || checks.knownBackends.includes(backend))) {
      issue(at('options'), `backend "${backend}" takes no options`);
    }
  }
  return options;
}

export function capabilitiesOf(raw: RawModel['capabilities']): ModelCapabilities | null {
  if (!raw) return null;
  const capabilities: ModelCapabilities = {
    in: [...(raw.in ?? [])] as Modality[],
    out: [...(raw.out ?? [])] as Modality[],
    tools: raw.tools === true,
    reranker: raw.reranker === true,
    context: raw.context ?? 0,
  };
  const empty = capabilities.in.length === 0 && capabilities.out.length === 0 && !capabilities.tools && !capabilities.reranker && capabilities.context === 0;
  return empty ? null : capabilities;
}

function resourcesOf(raw: RawModel['resources']): ModelResources {
  return {
    ...amountsOf(raw),
    ...(raw?.asleep ? { asleep: amountsOf(raw.asleep) } : {}),
  };
}

/** A model's whole resolution; the calls run in this order, which is the order of its issues. */
export function resolveModel(id: string, raw: RawModel, ctx: ModelContext): ModelConfig {
  const macros = new ModelMacros(id, raw, ctx);
  const { cmd, cmdStop } = resolveCommand(id, raw, macros, ctx);
  const proxy = resolveProxy(id, raw, macros, ctx.issue);
  const checkEndpoint = resolveCheckEndpoint(id, raw, macros);
  const aliases = resolveAliases(raw);
  const env = resolveEnv(id, raw, macros, ctx.issue);
  const filters = resolveModelFilters(id, raw, macros, ctx);
  const metadata = (raw.metadata ? macros.expandTyped(raw.metadata, ['models', id, 'metadata']) : {}) as Record<string, unknown>;
  const { sleep, sleepEndpoints, wakeEndpoints } = resolveSleep(id, raw, macros, ctx);
  const idle = resolveIdle(id, raw, ctx.defaults.globalTTLMs, ctx.issue);
  const backend = typeof raw.backend === 'string' && raw.backend !== '' ? raw.backend : DEFAULTS.backend;
  const options = resolveBackendOptions(id, backend, raw.options, ctx, ctx.issue);

  return {
    id,
    name: typeof raw.name === 'string' && raw.name !== '' ? raw.name : id,
    description: typeof raw.description === 'string' ? raw.description : '',
    cmd,
    cmdStop,
    proxy,
    port: macros.port,
    aliases,
    env,
    checkEndpoint,
    unlisted: raw.unlisted === true,
    useModelName: typeof raw.useModelName === 'string' && raw.useModelName !== '' ? raw.useModelName : null,
    concurrencyLimit: num(raw.concurrencyLimit, 0) > 0 ? num(raw.concurrencyLimit, 0) : DEFAULTS.concurrencyLimit,
    filters,
    timeouts: resolveTimeouts(raw.timeouts, MODEL_TIMEOUTS),
    capabilities: capabilitiesOf(raw.capabilities),
    ignoreWebsockets: raw.compat?.ignoreWebsockets === true,
    metadata,
    sendLoadingState: typeof raw.sendLoadingState === 'boolean' ? raw.sendLoadingState : ctx.defaults.sendLoadingState,
    backend,
    sleep,
    sleepEndpoints,
    wakeEndpoints,
    idle,
    resources: resourcesOf(raw.resources),
    unloadTimeoutMs: num(raw.unloadTimeout, 0) > 0 ? num(raw.unloadTimeout, 0) : ctx.defaults.unloadTimeoutMs,
    healthCheckTimeoutMs: ctx.defaults.healthCheckTimeoutMs,
    priority: num(raw.priority, DEFAULTS.priority),
    options,
  };
}

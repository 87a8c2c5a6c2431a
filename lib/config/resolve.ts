/**
 * From the validated document to the resolved `GatewayConfig`: llama-swap's defaults and
 * semantics, macro expansion, `${PORT}` allocation, argv splitting, the idle ladder, and the
 * cross-model checks (groups, aliases, preload, ports). Pure: the environment, the base directory
 * and the plugin hooks come in as arguments; every problem is collected, none thrown.
 */
import { isIP } from 'node:net';
import path from 'node:path';
import type { Schema } from 'joi';
import type {
  ConfigIssue,
  GatewayConfig,
  GroupConfig,
  HttpStep,
  IdleStep,
  Modality,
  ModelCapabilities,
  ModelConfig,
  ModelResources,
  ResourceAmounts,
} from './types.js';
import type { RawAmounts, RawConfig, RawGroup, RawHttpStep, RawModel } from './raw.js';
import { CommandSyntaxError, splitCommand, stripCommentLines } from './command.js';
import { formatPath } from './errors.js';
import { didYouMean } from './keys.js';
import {
  type MacroDefinition,
  type MacroValue,
  expandMacros,
  expandMacrosTyped,
  findMacroReferences,
  mergeMacroDefinitions,
  resolveMacroDefinitions,
} from './macros.js';
import { VALIDATE_OPTIONS } from './schema.js';
import { macroDefinitions } from './expand.js';
import {
  MODEL_TIMEOUTS,
  type Names,
  checkPeerNamespace,
  resolveFilters,
  resolvePeers,
  resolvePriorities,
  resolveProfiles,
  resolveRouter,
  resolveSelectors,
  resolveTimeouts,
} from './routing.js';
import { formatDuration } from './units.js';
import { defaultStateDir } from './state-dir.js';
import { canContainAll, compileMatrix } from '../scheduler/matrix/index.js';
import type { CompiledMatrix } from '../scheduler/matrix/types.js';

/** Every default, in one place (llama-swap's where llama-swap has the key). */
export const DEFAULTS = Object.freeze({
  healthCheckTimeoutMs: 120_000,
  /** llama-swap raises a smaller healthCheckTimeout to 15 s. */
  minHealthCheckTimeoutMs: 15_000,
  logLevel: 'info',
  logFormat: 'text',
  startPort: 5800,
  unloadTimeoutMs: 10_000,
  sleepRequestTimeoutMs: 10_000,
  wakeRequestTimeoutMs: 10_000,
  globalTTLMs: 0,
  /** llama-swap: a concurrencyLimit of 0 (its default) means the internal default of 10. */
  concurrencyLimit: 10,
  maxBodyBytes: 32 * 1024 * 1024,
  maxUploadBytes: 2 * 1024 * 1024 * 1024,
  metricsMaxInMemory: 1000,
  /** llama-swap's default captureBuffer: 5 MB. */
  captureBufferMB: 5,
  proxy: 'http://localhost:${PORT}',
  backend: 'generic',
  sleepLevel: 1,
  priority: 0,
  httpMethod: 'POST',
  pluginDir: 'plugins',
  stateDir: '.siesta-state',
  defaultGroupId: '(default)',
  logToStdout: 'proxy',
  /** llama-swap's default for `upstream.ignorePaths`: static assets never load a model. */
  upstreamIgnorePath: '.*\\.(js|json|css|png|gif|jpg|jpeg|ico|txt)$',
} as const);

const LOG_LEVELS: readonly string[] = ['debug', 'info', 'warn', 'error'];

export interface ResolveOptions {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly configPath: string | null;
  /** Directory that relative paths (`pluginDir`, `stateDir`) are resolved against. */
  readonly baseDir: string;
  /** Plugin names; when given, `backend` must be one of them. */
  readonly knownBackends?: readonly string[];
  /** Each plugin's joi schema for a model's `options:` block, by plugin name. */
  readonly pluginOptionSchemas?: Readonly<Record<string, Schema>>;
  /** Macro names in file order (JS objects put integer-like keys first), by document path. */
  readonly keyOrder?: (docPath: readonly string[]) => readonly string[] | undefined;
}

export interface ResolveResult {
  readonly config: GatewayConfig;
  readonly issues: readonly ConfigIssue[];
  readonly warnings: readonly ConfigIssue[];
}

/** `Array.isArray` narrows readonly arrays to `any[]`; this keeps the element type. */
function list<T>(value: readonly T[] | undefined | null): readonly T[] {
  return Array.isArray(value) ? (value as readonly T[]) : [];
}

const num = (value: unknown, fallback: number): number => (typeof value === 'number' && Number.isFinite(value) ? value : fallback);
const LOCAL_HOSTS = new Set(['localhost', '127.0.0.1', '0.0.0.0', '::1', '[::1]', '[::]']);

function amountsOf(raw: RawAmounts | undefined): ResourceAmounts {
  const out: { vram?: number; ram?: number } = {};
  if (typeof raw?.vram === 'number') out.vram = raw.vram;
  if (typeof raw?.ram === 'number') out.ram = raw.ram;
  return out;
}

/** Resolves the validated document. `raw` may still hold invalid parts where joi reported errors. */
export function resolveConfig(raw: RawConfig, options: ResolveOptions): ResolveResult {
  const issues: ConfigIssue[] = [];
  const warnings: ConfigIssue[] = [];
  const issue = (docPath: readonly (string | number)[], message: string): void => {
    issues.push({ path: formatPath(docPath), message });
  };
  const sleepRequestTimeoutMs = num(raw.sleepRequestTimeout, DEFAULTS.sleepRequestTimeoutMs);
  const wakeRequestTimeoutMs = num(raw.wakeRequestTimeout, DEFAULTS.wakeRequestTimeoutMs);
  const healthCheckTimeoutMs = Math.max(num(raw.healthCheckTimeout, DEFAULTS.healthCheckTimeoutMs), DEFAULTS.minHealthCheckTimeoutMs);
  // llama-swap: an unloadTimeout of 0 means the default.
  const globalUnloadTimeoutMs = num(raw.unloadTimeout, 0) > 0 ? num(raw.unloadTimeout, 0) : DEFAULTS.unloadTimeoutMs;
  const globalTTLMs = num(raw.globalTTL, DEFAULTS.globalTTLMs);
  const globalSendLoadingState = raw.sendLoadingState === true;
  const startPort =
    typeof raw.startPort === 'number' && Number.isInteger(raw.startPort) && raw.startPort >= 1 && raw.startPort <= 65535
      ? raw.startPort
      : DEFAULTS.startPort;

  const rawModels: Readonly<Record<string, RawModel>> =
    raw.models !== null && typeof raw.models === 'object' ? raw.models : {};
  const modelIds = Object.keys(rawModels).sort();
  const globalMacros = macroDefinitions(raw.macros, ['macros'], options.keyOrder);

  const models: Record<string, ModelConfig> = {};
  let nextPort = startPort;
  for (const id of modelIds) {
    const rawModel = rawModels[id];
    if (rawModel === null || typeof rawModel !== 'object') continue;
    const model = resolveModel(id, rawModel, {
      ...options,
      globalMacros,
      allocatePort: () => nextPort++,
      issue,
      push: (found) => issues.push(found),
      warn: (docPath, message) => warnings.push({ path: formatPath(docPath), message }),
      defaults: {
        sleepRequestTimeoutMs,
        wakeRequestTimeoutMs,
        healthCheckTimeoutMs,
        unloadTimeoutMs: globalUnloadTimeoutMs,
        globalTTLMs,
        sendLoadingState: globalSendLoadingState,
      },
    });
    models[id] = model;
  }

  const warn = (docPath: readonly (string | number)[], message: string): void => {
    warnings.push({ path: formatPath(docPath), message });
  };
  if (modelIds.length === 0 && Object.keys(raw.peers ?? {}).length === 0) warn(['models'], 'no models and no peers: nothing to serve');
  checkAliases(models, issue, warn);
  const names: Names = {
    models: new Set(modelIds),
    aliases: new Map(Object.values(models).flatMap((model) => model.aliases.map((alias) => [alias, model.id] as const))),
  };
  const router = resolveRouter(raw, issue);
  const groups = resolveGroups(router.groups, models, issue, warn);
  let matrix: CompiledMatrix | null = null;
  if (router.matrix) {
    const { raw: rawMatrix, docPath } = router.matrix;
    // Sets in file order (the tie-break order): JS objects would put integer-like names first.
    const rawSets = rawMatrix.sets;
    const setOrder = options.keyOrder?.([...docPath, 'sets']);
    const sets =
      rawSets !== null && typeof rawSets === 'object' && !Array.isArray(rawSets) && setOrder
        ? setOrder.filter((name) => Object.hasOwn(rawSets, name)).map((name) => [name, (rawSets as Record<string, unknown>)[name]] as const)
        : rawSets;
    const compiled = compileMatrix({ ...rawMatrix, sets }, modelIds, docPath.join('.'));
    issues.push(...compiled.issues);
    matrix = compiled.matrix;
    if (raw.resources?.vram !== undefined || raw.resources?.ram !== undefined) {
      issue(['resources'], 'budgets and the matrix router cannot be combined: the matrix decides evictions by its sets');
    }
  }
  // In matrix mode two models run together when one set holds both; else groups decide.
  checkPortsShared(models, groups, warn, matrix ? (a, b) => canContainAll(matrix, [a, b]) : undefined);
  const preload = resolvePreload(raw, models, warn);
  const priorities = resolvePriorities(raw, names, issue);
  for (const [id, priority] of priorities) {
    const model = models[id];
    if (model) models[id] = { ...model, priority };
  }
  const expandGlobal = (value: unknown): unknown => value; // global macros were expanded before joi (expand.ts)
  const peers = resolvePeers(raw, expandGlobal, issue, warn);
  checkPeerNamespace(peers, names, raw, issue);
  const groupOf = new Map(groups.flatMap((group) => group.members.map((member) => [member, group] as const)));
  const selectors = resolveSelectors(
    raw,
    names,
    peers,
    (local) => {
      // Spillover targets must be able to run at the same time.
      if (router.router === 'matrix') {
        return matrix === null || canContainAll(matrix, local) ? null : 'must all appear together in one expanded matrix set';
      }
      const group = groupOf.get(local[0] ?? '');
      if (!group) return `target "${local[0] ?? ''}" is not in a routing group`;
      if (group.swap) return 'spillover targets must share a group with swap: false';
      return local.every((id) => groupOf.get(id) === group) ? null : 'spillover targets must share one routing group';
    },
    issue,
  );
  const profiles = resolveProfiles(raw, names, peers, issue);

  const ignorePaths = list(raw.upstream?.ignorePaths).length > 0 ? list(raw.upstream?.ignorePaths) : [DEFAULTS.upstreamIgnorePath];
  ignorePaths.forEach((pattern, index) => {
    try {
      new RegExp(pattern);
    } catch (error) {
      issue(['upstream', 'ignorePaths', index], `invalid regular expression "${pattern}": ${error instanceof Error ? error.message : String(error)}`);
    }
  });

  const logLevelText = (raw.logLevel ?? '').trim().toLowerCase();
  if (logLevelText !== '' && !LOG_LEVELS.includes(logLevelText)) warn(['logLevel'], `unknown level "${raw.logLevel ?? ''}": info is used (debug, info, warn, error)`);

  const keys = (keyList: readonly string[] | undefined, name: string): string[] =>
    list(keyList).flatMap((key, index) => {
      if (typeof key !== 'string') return [];
      // Macros (global ones and ${env.NAME}) were expanded before validation (expand.ts).
      if (key.trim() === '') issue([name, index], 'must not be empty');
      else if (/\s/.test(key)) issue([name, index], 'must not contain spaces');
      return [key];
    });

  const config: GatewayConfig = {
    configPath: options.configPath,
    logLevel: (LOG_LEVELS.includes(logLevelText) ? logLevelText : DEFAULTS.logLevel) as GatewayConfig['logLevel'],
    logFormat: raw.logFormat ?? DEFAULTS.logFormat,
    healthCheckTimeoutMs,
    startPort,
    sendLoadingState: globalSendLoadingState,
    includeAliasesInList: raw.includeAliasesInList === true,
    apiKeys: keys(raw.apiKeys, 'apiKeys'),
    adminKeys: keys(raw.adminKeys, 'adminKeys'),
    groups,
    preload,
    resources: amountsOf(raw.resources),
    pluginDir: path.resolve(options.baseDir, typeof raw.pluginDir === 'string' ? raw.pluginDir : DEFAULTS.pluginDir),
    stateDir: typeof raw.stateDir === 'string' ? path.resolve(options.baseDir, raw.stateDir) : defaultStateDir(options.baseDir, options.configPath),
    maxBodyBytes: num(raw.maxBodySize, DEFAULTS.maxBodyBytes),
    models,
    sleepRequestTimeoutMs,
    wakeRequestTimeoutMs,
    routing: { router: matrix ? 'matrix' : 'group', matrix },
    peers,
    profiles,
    selectors,
    upstreamIgnorePaths: ignorePaths,
    logToStdout: raw.logToStdout ?? DEFAULTS.logToStdout,
    logTimeFormat: (raw.logTimeFormat ?? '').trim(),
    metricsMaxInMemory: raw.metricsMaxInMemory ?? DEFAULTS.metricsMaxInMemory,
    captureBufferBytes: (raw.captureBuffer ?? DEFAULTS.captureBufferMB) * 1024 * 1024,
    corsOrigins: list(raw.cors?.origins).length > 0 ? list(raw.cors?.origins) : ['*'],
    maxUploadBytes: num(raw.maxUploadSize, DEFAULTS.maxUploadBytes),
    trustedProxies: resolveTrustedProxies(raw, issue),
    allowedHosts: list(raw.allowedHosts).map((host) => host.trim().toLowerCase()).filter((host) => host !== ''),
  };
  return { config, issues, warnings };
}

interface ModelContext extends ResolveOptions {
  readonly globalMacros: readonly MacroDefinition[];
  readonly allocatePort: () => number;
  readonly issue: (docPath: readonly (string | number)[], message: string) => void;
  /** Adds an issue whose path is already formatted (macro definitions). */
  readonly push: (found: ConfigIssue) => void;
  readonly warn: (docPath: readonly (string | number)[], message: string) => void;
  readonly defaults: {
    readonly sleepRequestTimeoutMs: number;
    readonly wakeRequestTimeoutMs: number;
    readonly healthCheckTimeoutMs: number;
    readonly unloadTimeoutMs: number;
    readonly globalTTLMs: number;
    readonly sendLoadingState: boolean;
  };
}

function resolveModel(id: string, raw: RawModel, ctx: ModelContext): ModelConfig {
  const at = (...rest: (string | number)[]): (string | number)[] => ['models', id, ...rest];
  const { env, issue } = ctx;

  // Macros: MODEL_ID, then global and per-model definitions merged llama-swap's way.
  const localMacros = macroDefinitions(raw.macros, ['models', id, 'macros'], ctx.keyOrder);
  const macros = resolveMacroDefinitions(
    mergeMacroDefinitions(ctx.globalMacros, localMacros),
    new Map<string, MacroValue>([['MODEL_ID', id]]),
    env,
  );
  for (const found of macros.issues) ctx.push(found);

  // Phase 1: user macros, MODEL_ID and ${env.NAME}. ${PORT} and ${PID} stay for later.
  const phase1 = (text: string, docPath: (string | number)[]): string => {
    const result = expandMacros(text, macros.values, env);
    for (const variable of result.missingEnv) {
      if (!macros.reported.has(`env.${variable}`)) issue(docPath, `environment variable ${variable} is not set`);
    }
    return result.text;
  };

  const cmdText = typeof raw.cmd === 'string' ? phase1(stripCommentLines(raw.cmd), at('cmd')) : '';
  const port = cmdText.includes('${PORT}') ? ctx.allocatePort() : null;
  if (port !== null && port > 65535) issue(at('cmd'), `no port left for \${PORT}: ${port} is above 65535 (lower startPort)`);

  // Phase 2: ${PORT}, then anything left over is an error (except ${PID} in cmdStop).
  const finish = (text: string, docPath: (string | number)[], allowPid = false, portHint?: string): string => {
    const out = port === null ? text : text.replaceAll('${PORT}', String(port));
    for (const ref of new Set(findMacroReferences(out))) {
      if ((ref === 'PID' && allowPid) || macros.reported.has(ref)) continue;
      if (/^env\.[A-Za-z_][A-Za-z0-9_]*$/.test(ref)) continue; // an unset variable, reported in phase 1
      if (ref === 'PORT') issue(docPath, portHint ?? 'uses ${PORT}, but cmd does not; ${PORT} is only allocated for models whose cmd uses it');
      else if (ref === 'PID') issue(docPath, '${PID} is only available in cmdStop');
      else issue(docPath, `unknown macro \${${ref}}`);
    }
    return out;
  };
  const expandText = (text: string, docPath: (string | number)[], allowPid = false, portHint?: string): string =>
    finish(phase1(text, docPath), docPath, allowPid, portHint);
  const expandTyped = (value: unknown, docPath: (string | number)[]): unknown => {
    if (typeof value === 'string') {
      const typed = expandMacrosTyped(value, macros.values, env);
      for (const variable of typed.missingEnv) {
        if (!macros.reported.has(`env.${variable}`)) issue(docPath, `environment variable ${variable} is not set`);
      }
      if (typeof typed.value !== 'string') return typed.value;
      if (typed.value === '${PORT}' && port !== null) return port;
      return finish(typed.value, docPath);
    }
    if (Array.isArray(value)) return value.map((item, index) => expandTyped(item, [...docPath, index]));
    if (value !== null && typeof value === 'object') {
      return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, expandTyped(item, [...docPath, key])]));
    }
    return value;
  };

  // cmd → argv. llama-swap loads a model without cmd and fails when it starts; so does siesta.
  let cmd: string[] = [];
  if (typeof raw.cmd !== 'string' || raw.cmd.trim() === '') {
    ctx.warn(at('cmd'), 'is not set: this model cannot be started (requests for it will fail)');
  } else {
    const text = finish(cmdText, at('cmd'));
    try {
      cmd = splitCommand(text);
      if (cmd.length === 0) ctx.warn(at('cmd'), 'is empty (only comments or blanks): this model cannot be started');
    } catch (error) {
      if (!(error instanceof CommandSyntaxError)) throw error;
      issue(at('cmd'), error.message);
    }
  }

  let cmdStop: string[] | null = null;
  if (typeof raw.cmdStop === 'string' && raw.cmdStop.trim() !== '') {
    const text = expandText(stripCommentLines(raw.cmdStop), at('cmdStop'), true);
    try {
      cmdStop = splitCommand(text);
      if (cmdStop.length === 0) cmdStop = null;
    } catch (error) {
      if (!(error instanceof CommandSyntaxError)) throw error;
      issue(at('cmdStop'), error.message);
    }
  }

  // proxy
  const proxySet = typeof raw.proxy === 'string';
  const proxyText = expandText(
    typeof raw.proxy === 'string' ? raw.proxy : DEFAULTS.proxy,
    at('proxy'),
    false,
    proxySet
      ? undefined
      : `the default proxy ${DEFAULTS.proxy} needs \${PORT} in cmd: use \${PORT} in cmd, or set proxy to the server's URL`,
  );
  const proxy = proxyText.replace(/\/+$/, '');
  if (!findMacroReferences(proxy).length) {
    let url: URL | null = null;
    try {
      url = new URL(proxy);
    } catch {
      issue(at('proxy'), `is not a valid URL: ${proxy}`);
    }
    if (url && url.protocol !== 'http:' && url.protocol !== 'https:') issue(at('proxy'), 'must be an http:// or https:// URL');
  }

  // checkEndpoint
  // Unset stays undefined: the plugin's default, else /health, is applied where the plugin is known (lib/plugins/defaults.ts).
  let checkEndpoint: string | null | undefined;
  if (typeof raw.checkEndpoint === 'string') {
    const text = expandText(raw.checkEndpoint, at('checkEndpoint')).trim();
    checkEndpoint = text === '' || text === 'none' ? null : text;
  }

  // aliases
  const aliases: string[] = [];
  list(raw.aliases).forEach((alias) => {
    const name = typeof alias === 'string' ? alias : alias?.id;
    if (typeof name === 'string' && name !== '' && !aliases.includes(name)) aliases.push(name);
  });

  // env: llama-swap's list of "NAME=value", or a map
  const childEnv: Record<string, string> = {};
  if (Array.isArray(raw.env)) {
    (raw.env as readonly unknown[]).forEach((entry, index) => {
      if (typeof entry !== 'string') return;
      const eq = entry.indexOf('=');
      if (eq <= 0) {
        issue(at('env', index), 'must be NAME=value');
        return;
      }
      childEnv[entry.slice(0, eq)] = expandText(entry.slice(eq + 1), at('env', index));
    });
  } else if (raw.env && typeof raw.env === 'object') {
    for (const [name, value] of Object.entries(raw.env)) {
      if (name === '' || name.includes('=')) issue(at('env', name), 'is not a valid environment variable name');
      else childEnv[name] = expandText(String(value), at('env', name));
    }
  }

  // llama-swap expands macros in setParamsByID keys too (`"${MODEL_ID}:high"`); two keys may not meet.
  const byId: Record<string, Readonly<Record<string, unknown>> | null> = {};
  for (const [key, value] of Object.entries(raw.filters?.setParamsByID ?? {})) {
    const expandedKey = expandText(key, at('filters', 'setParamsByID', key));
    if (Object.hasOwn(byId, expandedKey)) issue(at('filters', 'setParamsByID', key), `keys "${key}" and "${expandedKey}" resolve to the same value`);
    byId[expandedKey] = value;
  }
  const rawFilters = raw.filters ? { ...raw.filters, setParamsByID: byId } : undefined;
  const filters = resolveFilters(rawFilters, (value, docPath) => expandTyped(value, [...docPath]), at('filters'), ctx.warn);
  const metadata = (raw.metadata ? expandTyped(raw.metadata, at('metadata')) : {}) as Record<string, unknown>;

  // sleep (llmsnap's sleepMode + siesta's sleep.level) and explicit endpoint recipes
  const steps = (stepList: readonly RawHttpStep[] | undefined, key: string, defaultTimeoutMs: number): HttpStep[] | null => {
    if (list(stepList).length === 0) return null;
    return list(stepList).map((step, index) => {
      const endpoint = typeof step.endpoint === 'string' ? expandText(step.endpoint, at(key, index, 'endpoint')) : '';
      const out: { endpoint: string; method: string; body?: string; timeoutMs: number } = {
        endpoint,
        method: typeof step.method === 'string' ? step.method.toUpperCase() : DEFAULTS.httpMethod,
        timeoutMs: num(step.timeout, defaultTimeoutMs),
      };
      if (typeof step.body === 'string') out.body = expandText(step.body, at(key, index, 'body'));
      else if (step.body !== undefined && step.body !== null) {
        out.body = JSON.stringify(expandTyped(step.body, at(key, index, 'body')));
      }
      return out;
    });
  };
  const sleepEndpoints = steps(raw.sleepEndpoints, 'sleepEndpoints', ctx.defaults.sleepRequestTimeoutMs);
  const wakeEndpoints = steps(raw.wakeEndpoints, 'wakeEndpoints', ctx.defaults.wakeRequestTimeoutMs);
  const sleepLevel = raw.sleep?.level === 1 || raw.sleep?.level === 2 ? raw.sleep.level : DEFAULTS.sleepLevel;
  // llmsnap's default is sleepMode: disable. A model that names one of siesta's backends (or has
  // siesta's `sleep:` block) keeps siesta's default: sleep whenever the backend can.
  const siestaStyle = typeof raw.backend === 'string' || raw.sleep !== undefined;
  const sleepEnabled = raw.sleepMode === 'enable' || (siestaStyle && raw.sleepMode !== 'disable');
  const sleep = { enabled: sleepEnabled, level: sleepLevel };
  if (sleepEnabled) {
    // llmsnap: sleepMode: enable needs both lists; a siesta backend brings its own recipe.
    if (!siestaStyle && !sleepEndpoints) issue(at('sleepEndpoints'), "required when sleepMode is 'enable' (or name a backend with a sleep recipe, e.g. backend: vllm)");
    if (!wakeEndpoints && (sleepEndpoints || !siestaStyle)) issue(at('wakeEndpoints'), sleepEndpoints ? 'is required when sleepEndpoints is set' : "required when sleepMode is 'enable'");
    if (wakeEndpoints && !sleepEndpoints && siestaStyle) issue(at('sleepEndpoints'), 'is required when wakeEndpoints is set');
  } else if (sleepEndpoints && raw.sleepMode === undefined) {
    ctx.warn(at('sleepMode'), "is not set, and llmsnap's default is disable: this model is stopped, not slept; add sleepMode: enable to use its sleepEndpoints");
  }

  const idle = resolveIdle(id, raw, ctx.defaults.globalTTLMs, issue);

  // backend and its options
  const backend = typeof raw.backend === 'string' && raw.backend !== '' ? raw.backend : DEFAULTS.backend;
  if (ctx.knownBackends && !ctx.knownBackends.includes(backend)) {
    issue(at('backend'), `unknown backend "${backend}"${didYouMean(backend, ctx.knownBackends)}; known: ${ctx.knownBackends.join(', ')}`);
  }
  let options: Record<string, unknown> = raw.options ? { ...raw.options } : {};
  if (ctx.pluginOptionSchemas) {
    const schema = ctx.pluginOptionSchemas[backend];
    if (schema) {
      const result = schema.validate(options, VALIDATE_OPTIONS);
      for (const detail of result.error?.details ?? []) issue(at('options', ...detail.path), detail.message);
      if (!result.error && result.value && typeof result.value === 'object') options = result.value as Record<string, unknown>;
    } else if (Object.keys(options).length > 0 && (!ctx.knownBackends || ctx.knownBackends.includes(backend))) {
      issue(at('options'), `backend "${backend}" takes no options`);
    }
  }

  const resources: ModelResources = {
    ...amountsOf(raw.resources),
    ...(raw.resources?.asleep ? { asleep: amountsOf(raw.resources.asleep) } : {}),
  };

  return {
    id,
    name: typeof raw.name === 'string' && raw.name !== '' ? raw.name : id,
    description: typeof raw.description === 'string' ? raw.description : '',
    cmd,
    cmdStop,
    proxy,
    port,
    aliases,
    env: childEnv,
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
    resources,
    unloadTimeoutMs: num(raw.unloadTimeout, 0) > 0 ? num(raw.unloadTimeout, 0) : ctx.defaults.unloadTimeoutMs,
    healthCheckTimeoutMs: ctx.defaults.healthCheckTimeoutMs,
    priority: num(raw.priority, DEFAULTS.priority),
    options,
  };
}

function capabilitiesOf(raw: RawModel['capabilities']): ModelCapabilities | null {
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

/** The idle ladder: user steps (strictly increasing, `stop` last) plus `ttl`/`globalTTL` as a final stop. */
function resolveIdle(
  id: string,
  raw: RawModel,
  globalTTLMs: number,
  issue: (docPath: readonly (string | number)[], message: string) => void,
): IdleStep[] {
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

type Report = (docPath: readonly (string | number)[], message: string) => void;

/**
 * Aliases are unique across models (llama-swap refuses duplicates). An alias that is another
 * model's id loads in llama-swap and is never used (ids win): a warning here. Each
 * `filters.setParamsByID` key other than the model's own id becomes an alias too, as in llama-swap,
 * and there a clash with a model id or another model's alias is an error.
 */
function checkAliases(models: Record<string, ModelConfig>, issue: Report, warn: Report): void {
  const owner = new Map<string, string>();
  for (const model of Object.values(models)) {
    model.aliases.forEach((alias, index) => {
      if (Object.hasOwn(models, alias)) {
        warn(['models', model.id, 'aliases', index], alias === model.id ? "is the model's own id; ignored" : `"${alias}" is the id of another model, which takes precedence; ignored`);
        return;
      }
      const previous = owner.get(alias);
      if (previous !== undefined) issue(['models', model.id, 'aliases', index], `duplicate alias "${alias}": already an alias of model ${previous}`);
      else owner.set(alias, model.id);
    });
  }
  for (const id of Object.keys(models).sort()) {
    const model = models[id] as ModelConfig;
    const added: string[] = [];
    for (const key of Object.keys(model.filters.setParamsByID)) {
      const where = ['models', id, 'filters', 'setParamsByID', key];
      if (key === id) continue;
      if (Object.hasOwn(models, key)) {
        issue(where, `key "${key}" conflicts with an existing model ID`);
        continue;
      }
      const existing = owner.get(key);
      if (existing !== undefined) {
        if (existing !== id) issue(where, `duplicate alias "${key}", already used by model ${existing}`);
        continue;
      }
      owner.set(key, id);
      added.push(key);
    }
    if (added.length > 0) models[id] = { ...model, aliases: [...model.aliases, ...added] };
  }
}

/**
 * llama-swap's groups plus the implicit `(default)` group holding every model not in a group.
 * A member that names no model loads in llama-swap and does nothing: a warning here.
 */
function resolveGroups(
  rawGroups: Readonly<Record<string, RawGroup>>,
  models: Readonly<Record<string, ModelConfig>>,
  issue: Report,
  warn: Report,
): GroupConfig[] {
  const groups: GroupConfig[] = [];
  const memberOf = new Map<string, string>();
  const ids = Object.keys(models);
  const aliasOwner = new Map(Object.values(models).flatMap((model) => model.aliases.map((alias) => [alias, model.id] as const)));
  for (const [groupId, group] of Object.entries(rawGroups)) {
    if (group === null || typeof group !== 'object') continue;
    if (groupId === DEFAULTS.defaultGroupId) {
      issue(['groups', groupId], `${DEFAULTS.defaultGroupId} is reserved for models that are in no group`);
      continue;
    }
    const members: string[] = [];
    const seen = new Set<string>();
    list(group.members).forEach((member, index) => {
      if (typeof member !== 'string') return;
      const where = ['groups', groupId, 'members', index];
      if (seen.has(member)) {
        issue(where, `duplicate model member ${member} found in group: ${groupId}`);
        return;
      }
      seen.add(member);
      const other = memberOf.get(member);
      if (other !== undefined) {
        issue(where, `model member ${member} is used in multiple groups: ${other} and ${groupId}`);
        return;
      }
      memberOf.set(member, groupId);
      if (!Object.hasOwn(models, member)) {
        const alias = aliasOwner.get(member);
        warn(where, alias ? `"${member}" is an alias; groups match model ids, so it has no effect (use "${alias}")` : `"${member}" is not a model; ignored${didYouMean(member, ids)}`);
        return;
      }
      members.push(member);
    });
    groups.push({
      id: groupId,
      swap: group.swap !== false,
      exclusive: group.exclusive !== false,
      persistent: group.persistent === true,
      members,
    });
  }
  groups.push({
    id: DEFAULTS.defaultGroupId,
    swap: true,
    exclusive: true,
    persistent: false,
    members: ids.filter((id) => !memberOf.has(id)).sort(),
  });
  return groups;
}

/**
 * Two models may share a proxy host:port safely only when they can never run together: same group
 * with swap: true. llama-swap does not check this; the second server then fails to bind when both
 * are asked for, so it is a warning here.
 */
function checkPortsShared(
  models: Readonly<Record<string, ModelConfig>>,
  groups: readonly GroupConfig[],
  warn: Report,
  runTogether?: (a: string, b: string) => boolean,
): void {
  const groupOf = new Map(groups.flatMap((group) => group.members.map((member) => [member, group] as const)));
  const seen = new Map<string, string>();
  for (const id of Object.keys(models).sort()) {
    const model = models[id] as ModelConfig;
    let url: URL;
    try {
      url = new URL(model.proxy);
    } catch {
      continue;
    }
    const portText = url.port !== '' ? url.port : url.protocol === 'https:' ? '443' : '80';
    const host = LOCAL_HOSTS.has(url.hostname) ? 'local' : url.hostname;
    const key = `${host}:${portText}`;
    const other = seen.get(key);
    if (other === undefined) {
      seen.set(key, id);
      continue;
    }
    const group = groupOf.get(id);
    if (runTogether ? !runTogether(id, other) : group && group.swap && groupOf.get(other) === group) continue;
    warn(['models', id, 'proxy'], `port ${portText} is also used by model ${other}, and both could run at the same time: the second one to start will fail (put them in one group with swap: true, or use \${PORT})`);
  }
}

/** `trustedProxies`: each an IP address or a CIDR range (`10.0.0.0/8`, `fd00::/8`). */
function resolveTrustedProxies(raw: RawConfig, issue: Report): string[] {
  return list(raw.trustedProxies).filter((entry, index) => {
    const [address = '', bits, extra] = entry.split('/');
    const family = isIP(address);
    const maxBits = family === 6 ? 128 : 32;
    const ok = family !== 0 && extra === undefined && (bits === undefined || (/^\d+$/.test(bits) && Number(bits) <= maxBits));
    if (!ok) issue(['trustedProxies', index], `"${entry}" is not an IP address or a CIDR range (such as 10.0.0.0/8)`);
    return ok;
  });
}

/** `hooks.on_startup.preload`: ids or aliases; llama-swap drops an entry that names no model (a warning here). */
function resolvePreload(raw: RawConfig, models: Readonly<Record<string, ModelConfig>>, warn: Report): string[] {
  const entries = list(raw.hooks?.on_startup?.preload);
  const ids = Object.keys(models);
  const preload: string[] = [];
  entries.forEach((entry, index) => {
    if (typeof entry !== 'string' || entry.trim() === '') return;
    const name = entry.trim();
    const id = Object.hasOwn(models, name) ? name : Object.values(models).find((model) => model.aliases.includes(name))?.id;
    if (id === undefined) {
      const candidates = [...ids, ...Object.values(models).flatMap((model) => model.aliases)];
      warn(['hooks', 'on_startup', 'preload', index], `"${name}" is not a model; ignored${didYouMean(name, candidates)}`);
    } else if (!preload.includes(id)) {
      preload.push(id);
    }
  });
  return preload;
}

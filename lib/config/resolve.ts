/**
 * From the validated document to the resolved `GatewayConfig`: the orchestration. Global values
 * and their defaults are read here; each model is resolved by `resolveModel` (resolve-model.ts:
 * macros, `${PORT}`, argv, sleep, the idle ladder); the checks across models (aliases, groups,
 * ports, preload, trustedProxies) are in cross-checks.ts; routing (router, matrix, peers,
 * priorities) in routing.ts, selectors and profiles in selectors.ts. Pure: the environment, the base directory and the
 * plugin hooks come in as arguments; every problem is collected, none thrown.
 */
import path from 'node:path';
import type { ConfigIssue, GatewayConfig, GroupConfig, ModelConfig } from './types.js';
import type { RawConfig, RawModel } from './raw.js';
import { checkAliases, checkPortsShared, resolveGroups, resolvePreload, resolveTrustedProxies } from './cross-checks.js';
import { DEFAULTS, list, num } from './defaults.js';
import { formatPath } from './errors.js';
import { macroDefinitions } from './expand.js';
import { type ModelContext, type PluginChecks, amountsOf, resolveBackendOptions, resolveModel } from './resolve-model.js';
import {
  type Names,
  type Report,
  type RouterSource,
  checkPeerNamespace,
  resolvePeers,
  resolvePriorities,
  resolveRouter,
} from './routing.js';
import { type CoexistCheck, resolveProfiles, resolveSelectors } from './selectors.js';
import { defaultStateDir } from './state-dir.js';
import { resolveCluster } from './cluster.js';
import { canContainAll, compileMatrix } from '../scheduler/matrix/index.js';
import type { CompiledMatrix } from '../scheduler/matrix/types.js';

export { DEFAULTS } from './defaults.js';

const LOG_LEVELS: readonly string[] = ['debug', 'info', 'warn', 'error'];

export interface ResolveOptions extends PluginChecks {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly configPath: string | null;
  /** Directory that relative paths (`pluginDir`, `stateDir`) are resolved against. */
  readonly baseDir: string;
  /** Macro names in file order (JS objects put integer-like keys first), by document path. */
  readonly keyOrder?: (docPath: readonly string[]) => readonly string[] | undefined;
}

export interface ResolveResult {
  readonly config: GatewayConfig;
  readonly issues: readonly ConfigIssue[];
  readonly warnings: readonly ConfigIssue[];
}

/** Resolves the validated document. `raw` may still hold invalid parts where joi reported errors. */
export function resolveConfig(raw: RawConfig, options: ResolveOptions): ResolveResult {
  const issues: ConfigIssue[] = [];
  const warnings: ConfigIssue[] = [];
  const issue: Report = (docPath, message) => {
    issues.push({ path: formatPath(docPath), message });
  };
  const warn: Report = (docPath, message) => {
    warnings.push({ path: formatPath(docPath), message });
  };
  const sleepRequestTimeoutMs = num(raw.sleepRequestTimeout, DEFAULTS.sleepRequestTimeoutMs);
  const wakeRequestTimeoutMs = num(raw.wakeRequestTimeout, DEFAULTS.wakeRequestTimeoutMs);
  const healthCheckTimeoutMs = Math.max(num(raw.healthCheckTimeout, DEFAULTS.healthCheckTimeoutMs), DEFAULTS.minHealthCheckTimeoutMs);
  const globalSendLoadingState = raw.sendLoadingState === true;
  const startPort =
    typeof raw.startPort === 'number' && Number.isInteger(raw.startPort) && raw.startPort >= 1 && raw.startPort <= 65535
      ? raw.startPort
      : DEFAULTS.startPort;

  // 1. Each model, in id order (the order of `${PORT}` allocation).
  const rawModels: Readonly<Record<string, RawModel>> =
    raw.models !== null && typeof raw.models === 'object' ? raw.models : {};
  const modelIds = Object.keys(rawModels).sort();
  let nextPort = startPort;
  const context: ModelContext = {
    ...options,
    globalMacros: macroDefinitions(raw.macros, ['macros'], options.keyOrder),
    allocatePort: () => nextPort++,
    issue,
    push: (found) => issues.push(found),
    warn,
    defaults: {
      sleepRequestTimeoutMs,
      cudaCheckpointPath: typeof raw.cudaCheckpoint?.path === 'string' && raw.cudaCheckpoint.path !== '' ? raw.cudaCheckpoint.path : DEFAULTS.cudaCheckpointPath,
      wakeRequestTimeoutMs,
      healthCheckTimeoutMs,
      // llama-swap: an unloadTimeout of 0 means the default.
      unloadTimeoutMs: num(raw.unloadTimeout, 0) > 0 ? num(raw.unloadTimeout, 0) : DEFAULTS.unloadTimeoutMs,
      globalTTLMs: num(raw.globalTTL, DEFAULTS.globalTTLMs),
      sendLoadingState: globalSendLoadingState,
    },
  };
  const resolvedModels: Record<string, ModelConfig> = {};
  for (const id of modelIds) {
    const rawModel = rawModels[id];
    if (rawModel === null || typeof rawModel !== 'object') continue;
    resolvedModels[id] = resolveModel(id, rawModel, context);
  }

  // 2. Across models: aliases, the router and its groups or matrix, shared ports, preload.
  if (modelIds.length === 0 && Object.keys(raw.peers ?? {}).length === 0) warn(['models'], 'no models and no peers: nothing to serve');
  const { models, aliases } = checkAliases(resolvedModels, issue, warn);
  const names: Names = { models: new Set(modelIds), aliases };
  const router = resolveRouter(raw, issue);
  const groups = resolveGroups(router.groups, models, aliases, issue, warn);
  const matrix = router.matrix ? compileRouterMatrix(raw, router.matrix, modelIds, options.keyOrder, issues, issue) : null;
  // In matrix mode two models run together when one set holds both; else groups decide.
  checkPortsShared(models, groups, warn, matrix ? (a, b) => canContainAll(matrix, [a, b]) : undefined);
  const preload = resolvePreload(raw, models, aliases, warn);

  // 3. Routing: priorities, peers, selectors, profiles.
  const priorities = resolvePriorities(raw, names, issue);
  for (const [id, priority] of priorities) {
    const model = models[id];
    if (model) models[id] = { ...model, priority };
  }
  const expandGlobal = (value: unknown): unknown => value; // global macros were expanded before joi (expand.ts)
  const peers = resolvePeers(raw, expandGlobal, issue, warn);
  checkPeerNamespace(peers, names, raw, issue);
  const selectors = resolveSelectors(raw, names, peers, spilloverRule(router.router, matrix, groups), issue);
  const profiles = resolveProfiles(raw, names, peers, issue);

  // 4. The remaining global keys, in the order of the result's fields.
  const upstreamIgnorePaths = resolveIgnorePaths(raw, issue);
  const logLevelText = (raw.logLevel ?? '').trim().toLowerCase();
  if (logLevelText !== '' && !LOG_LEVELS.includes(logLevelText)) warn(['logLevel'], `unknown level "${raw.logLevel ?? ''}": info is used (debug, info, warn, error)`);
  const apiKeys = resolveKeys(raw.apiKeys, 'apiKeys', issue);
  const adminKeys = resolveKeys(raw.adminKeys, 'adminKeys', issue);
  const trustedProxies = resolveTrustedProxies(raw, issue);
  const cluster = resolveCluster(raw, issue, warn);

  const config: GatewayConfig = {
    configPath: options.configPath,
    logLevel: (LOG_LEVELS.includes(logLevelText) ? logLevelText : DEFAULTS.logLevel) as GatewayConfig['logLevel'],
    logFormat: raw.logFormat ?? DEFAULTS.logFormat,
    healthCheckTimeoutMs,
    startPort,
    sendLoadingState: globalSendLoadingState,
    includeAliasesInList: raw.includeAliasesInList === true,
    apiKeys,
    adminKeys,
    groups,
    preload,
    resources: amountsOf(raw.resources),
    pluginDir: pluginDirOf(raw, options.baseDir),
    stateDir: typeof raw.stateDir === 'string' ? path.resolve(options.baseDir, raw.stateDir) : defaultStateDir(options.baseDir, options.configPath),
    maxBodyBytes: num(raw.maxBodySize, DEFAULTS.maxBodyBytes),
    models,
    sleepRequestTimeoutMs,
    wakeRequestTimeoutMs,
    routing: { router: matrix ? 'matrix' : 'group', matrix },
    peers,
    profiles,
    selectors,
    upstreamIgnorePaths,
    logToStdout: raw.logToStdout ?? DEFAULTS.logToStdout,
    logTimeFormat: (raw.logTimeFormat ?? '').trim(),
    metricsMaxInMemory: raw.metricsMaxInMemory ?? DEFAULTS.metricsMaxInMemory,
    captureBufferBytes: (raw.captureBuffer ?? DEFAULTS.captureBufferMB) * 1024 * 1024,
    corsOrigins: list(raw.cors?.origins).length > 0 ? list(raw.cors?.origins) : ['*'],
    maxUploadBytes: num(raw.maxUploadSize, DEFAULTS.maxUploadBytes),
    trustedProxies,
    allowedHosts: list(raw.allowedHosts).map((host) => host.trim().toLowerCase()).filter((host) => host !== ''),
    shutdownTimeoutMs: num(raw.shutdownTimeout, DEFAULTS.shutdownTimeoutMs),
    ...(cluster ? { cluster } : {}),
  };
  return { config, issues, warnings };
}

/**
 * The plugin checks of `resolveModel` (backend names, each plugin's `options:` schema with its
 * defaults), run on a config that was resolved without them: for callers that learn the plugins
 * from the config itself (lib/gateway/load-config.ts). The same rules and messages, model by model
 * in id order; returns the config with each model's options as the schema left them.
 */
export function applyPluginChecks(config: GatewayConfig, checks: PluginChecks): { config: GatewayConfig; issues: ConfigIssue[] } {
  const issues: ConfigIssue[] = [];
  const issue: Report = (docPath, message) => {
    issues.push({ path: formatPath(docPath), message });
  };
  const models: Record<string, ModelConfig> = {};
  for (const [id, model] of Object.entries(config.models)) {
    models[id] = { ...model, options: resolveBackendOptions(id, model.backend, model.options, checks, issue) };
  }
  return { config: { ...config, models }, issues };
}

/** The plugin directory, absolute: `pluginDir` (default `plugins`) against the config's directory. */
function pluginDirOf(raw: RawConfig, baseDir: string): string {
  return path.resolve(baseDir, typeof raw.pluginDir === 'string' ? raw.pluginDir : DEFAULTS.pluginDir);
}

/** The matrix router's sets compiled; its issues are added as they come (their paths are formatted already). */
function compileRouterMatrix(
  raw: RawConfig,
  source: NonNullable<RouterSource['matrix']>,
  modelIds: readonly string[],
  keyOrder: ResolveOptions['keyOrder'],
  issues: ConfigIssue[],
  issue: Report,
): CompiledMatrix | null {
  const { raw: rawMatrix, docPath } = source;
  // Sets in file order (the tie-break order): JS objects would put integer-like names first.
  const rawSets = rawMatrix.sets;
  const setOrder = keyOrder?.([...docPath, 'sets']);
  const sets =
    rawSets !== null && typeof rawSets === 'object' && !Array.isArray(rawSets) && setOrder
      ? setOrder.filter((name) => Object.hasOwn(rawSets, name)).map((name) => [name, (rawSets as Record<string, unknown>)[name]] as const)
      : rawSets;
  const compiled = compileMatrix({ ...rawMatrix, sets }, modelIds, docPath.join('.'));
  issues.push(...compiled.issues);
  if (raw.resources?.vram !== undefined || raw.resources?.ram !== undefined) {
    issue(['resources'], 'budgets and the matrix router cannot be combined: the matrix decides evictions by its sets');
  }
  return compiled.matrix;
}

/** Spillover targets must be able to run at the same time: null when they can, else the reason. */
function spilloverRule(
  routerName: RouterSource['router'],
  matrix: CompiledMatrix | null,
  groups: readonly GroupConfig[],
): CoexistCheck {
  const groupOf = new Map(groups.flatMap((group) => group.members.map((member) => [member, group] as const)));
  return (local) => {
    if (routerName === 'matrix') {
      return matrix === null || canContainAll(matrix, local) ? null : 'must all appear together in one expanded matrix set';
    }
    const group = groupOf.get(local[0] ?? '');
    if (!group) return `target "${local[0] ?? ''}" is not in a routing group`;
    if (group.swap) return 'spillover targets must share a group with swap: false';
    return local.every((id) => groupOf.get(id) === group) ? null : 'spillover targets must share one routing group';
  };
}

/** `upstream.ignorePaths` (llama-swap's default when empty); each must be a regular expression. */
function resolveIgnorePaths(raw: RawConfig, issue: Report): readonly string[] {
  const ignorePaths = list(raw.upstream?.ignorePaths).length > 0 ? list(raw.upstream?.ignorePaths) : [DEFAULTS.upstreamIgnorePath];
  ignorePaths.forEach((pattern, index) => {
    try {
      new RegExp(pattern);
    } catch (error) {
      issue(['upstream', 'ignorePaths', index], `invalid regular expression "${pattern}": ${error instanceof Error ? error.message : String(error)}`);
    }
  });
  return ignorePaths;
}

/** `apiKeys` / `adminKeys`: non-empty, without spaces. */
function resolveKeys(keyList: readonly string[] | undefined, name: string, issue: Report): string[] {
  return list(keyList).flatMap((key, index) => {
    if (typeof key !== 'string') return [];
    // Macros (global ones and ${env.NAME}) were expanded before validation (expand.ts).
    if (key.trim() === '') issue([name, index], 'must not be empty');
    else if (/\s/.test(key)) issue([name, index], 'must not contain spaces');
    return [key];
  });
}

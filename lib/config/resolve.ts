/**
 * From the validated document to the resolved `GatewayConfig`: llama-swap's defaults and
 * semantics, macro expansion, `${PORT}` allocation, argv splitting, the idle ladder, and the
 * cross-model checks (groups, aliases, preload, ports). Pure: the environment, the base directory
 * and the plugin hooks come in as arguments; every problem is collected, none thrown.
 */
import path from 'node:path';
import type { Schema } from 'joi';
import type {
  ConfigIssue,
  GatewayConfig,
  GroupConfig,
  HttpStep,
  IdleStep,
  ModelConfig,
  ModelResources,
  ResourceAmounts,
} from './types.js';
import type { RawAmounts, RawConfig, RawHttpStep, RawModel } from './raw.js';
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
import { formatDuration } from './units.js';

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
  proxy: 'http://localhost:${PORT}',
  checkEndpoint: '/health',
  backend: 'generic',
  sleepLevel: 1,
  priority: 0,
  httpMethod: 'POST',
  pluginDir: 'plugins',
  stateDir: '.siesta-state',
  defaultGroupId: '(default)',
} as const);

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

function macroDefinitions(
  macros: Readonly<Record<string, unknown>> | undefined,
  docPath: readonly string[],
  keyOrder: ResolveOptions['keyOrder'],
): MacroDefinition[] {
  if (!macros) return [];
  const order = keyOrder?.(docPath)?.filter((name) => Object.hasOwn(macros, name)) ?? Object.keys(macros);
  return order.map((name) => ({ name, value: macros[name], path: formatPath([...docPath, name]) }));
}

/** Resolves the validated document. `raw` may still hold invalid parts where joi reported errors. */
export function resolveConfig(raw: RawConfig, options: ResolveOptions): ResolveResult {
  const issues: ConfigIssue[] = [];
  const warnings: ConfigIssue[] = [];
  const issue = (docPath: readonly (string | number)[], message: string): void => {
    issues.push({ path: formatPath(docPath), message });
  };
  const env = options.env;

  const sleepRequestTimeoutMs = num(raw.sleepRequestTimeout, DEFAULTS.sleepRequestTimeoutMs);
  const wakeRequestTimeoutMs = num(raw.wakeRequestTimeout, DEFAULTS.wakeRequestTimeoutMs);
  const healthCheckTimeoutMs = Math.max(num(raw.healthCheckTimeout, DEFAULTS.healthCheckTimeoutMs), DEFAULTS.minHealthCheckTimeoutMs);
  const globalUnloadTimeoutMs = num(raw.unloadTimeout, DEFAULTS.unloadTimeoutMs);
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

  checkAliases(models, issue);
  const groups = resolveGroups(raw, models, issue);
  checkPortsShared(models, groups, issue);
  const preload = resolvePreload(raw, models, issue);

  const keys = (keyList: readonly string[] | undefined, name: string): string[] =>
    list(keyList).flatMap((key, index) => {
      if (typeof key !== 'string') return [];
      const expanded = expandMacros(key, new Map(), env);
      for (const variable of expanded.missingEnv) issue([name, index], `environment variable ${variable} is not set`);
      const leftover = findMacroReferences(expanded.text).filter((ref) => !ref.startsWith('env.'));
      for (const ref of leftover) issue([name, index], `unknown macro \${${ref}} (only \${env.NAME} is expanded here)`);
      if (expanded.text.trim() === '') issue([name, index], 'must not be empty');
      else if (/\s/.test(expanded.text)) issue([name, index], 'must not contain spaces');
      return [expanded.text];
    });

  const config: GatewayConfig = {
    configPath: options.configPath,
    logLevel: raw.logLevel ?? DEFAULTS.logLevel,
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
    stateDir: path.resolve(options.baseDir, typeof raw.stateDir === 'string' ? raw.stateDir : DEFAULTS.stateDir),
    maxBodyBytes: num(raw.maxBodySize, DEFAULTS.maxBodyBytes),
    models,
    sleepRequestTimeoutMs,
    wakeRequestTimeoutMs,
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
      if (ref === 'PORT' && typeof raw.cmd !== 'string') continue; // cmd itself is reported missing
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

  // cmd → argv
  let cmd: string[] = [];
  if (typeof raw.cmd === 'string') {
    const text = finish(cmdText, at('cmd'));
    try {
      cmd = splitCommand(text);
      if (cmd.length === 0) issue(at('cmd'), 'is empty (only comments or blanks)');
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
  let checkEndpoint: string | null = DEFAULTS.checkEndpoint;
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

  // filters
  const stripSource = raw.filters?.stripParams ?? raw.filters?.strip_params;
  const stripKey = raw.filters?.stripParams !== undefined ? 'stripParams' : 'strip_params';
  const stripList =
    typeof stripSource === 'string'
      ? expandText(stripSource, at('filters', stripKey)).split(',')
      : Array.isArray(stripSource)
        ? stripSource.map((item, index) => (typeof item === 'string' ? expandText(item, at('filters', stripKey, index)) : ''))
        : [];
  // llama-swap: trimmed, without blanks and duplicates, sorted; `model` can never be stripped.
  const stripParams = [...new Set(stripList.map((item) => item.trim()).filter((item) => item !== '' && item !== 'model'))].sort();
  const setParams: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(raw.filters?.setParams ?? {})) {
    if (key === 'model') {
      ctx.warn(at('filters', 'setParams', 'model'), 'the model parameter cannot be set; ignored');
      continue;
    }
    setParams[key] = expandTyped(value, at('filters', 'setParams', key));
  }
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
  if (sleepEndpoints && !wakeEndpoints) issue(at('wakeEndpoints'), 'is required when sleepEndpoints is set');
  if (wakeEndpoints && !sleepEndpoints) issue(at('sleepEndpoints'), 'is required when wakeEndpoints is set');
  const sleepLevel = raw.sleep?.level === 1 || raw.sleep?.level === 2 ? raw.sleep.level : DEFAULTS.sleepLevel;
  const sleep = { enabled: raw.sleepMode !== 'disable', level: sleepLevel };

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
    filters: { stripParams, setParams },
    metadata,
    sendLoadingState: typeof raw.sendLoadingState === 'boolean' ? raw.sendLoadingState : ctx.defaults.sendLoadingState,
    backend,
    sleep,
    sleepEndpoints,
    wakeEndpoints,
    idle,
    resources,
    unloadTimeoutMs: num(raw.unloadTimeout, ctx.defaults.unloadTimeoutMs),
    healthCheckTimeoutMs: ctx.defaults.healthCheckTimeoutMs,
    priority: num(raw.priority, DEFAULTS.priority),
    options,
  };
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

function checkAliases(models: Readonly<Record<string, ModelConfig>>, issue: (docPath: readonly (string | number)[], message: string) => void): void {
  const owner = new Map<string, string>();
  for (const model of Object.values(models)) {
    model.aliases.forEach((alias, index) => {
      if (Object.hasOwn(models, alias)) {
        issue(['models', model.id, 'aliases', index], alias === model.id ? 'is the model\'s own id' : `"${alias}" is the id of another model`);
        return;
      }
      const previous = owner.get(alias);
      if (previous !== undefined) issue(['models', model.id, 'aliases', index], `"${alias}" is already an alias of model ${previous}`);
      else owner.set(alias, model.id);
    });
  }
}

/** llama-swap's groups plus the implicit `(default)` group holding every model not in a group. */
function resolveGroups(
  raw: RawConfig,
  models: Readonly<Record<string, ModelConfig>>,
  issue: (docPath: readonly (string | number)[], message: string) => void,
): GroupConfig[] {
  const groups: GroupConfig[] = [];
  const memberOf = new Map<string, string>();
  const ids = Object.keys(models);
  const aliasOwner = new Map(Object.values(models).flatMap((model) => model.aliases.map((alias) => [alias, model.id] as const)));
  const rawGroups = raw.groups !== null && typeof raw.groups === 'object' ? raw.groups : {};
  for (const [groupId, group] of Object.entries(rawGroups)) {
    if (group === null || typeof group !== 'object') continue;
    if (groupId === DEFAULTS.defaultGroupId) {
      issue(['groups', groupId], `${DEFAULTS.defaultGroupId} is reserved for models that are in no group`);
      continue;
    }
    const members: string[] = [];
    list(group.members).forEach((member, index) => {
      if (typeof member !== 'string') return;
      const where = ['groups', groupId, 'members', index];
      if (!Object.hasOwn(models, member)) {
        const alias = aliasOwner.get(member);
        issue(where, alias ? `"${member}" is an alias; use the model id "${alias}"` : `unknown model "${member}"${didYouMean(member, ids)}`);
        return;
      }
      if (members.includes(member)) {
        issue(where, `"${member}" is listed twice`);
        return;
      }
      const other = memberOf.get(member);
      if (other !== undefined) {
        issue(where, `model "${member}" is already in group ${other}; a model may be in one group only`);
        return;
      }
      memberOf.set(member, groupId);
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
 * Two models may share a proxy host:port only when they can never run together: same group with
 * swap: true. (A fixed port shared by every model in one swap group is a common llama-swap setup.)
 */
function checkPortsShared(
  models: Readonly<Record<string, ModelConfig>>,
  groups: readonly GroupConfig[],
  issue: (docPath: readonly (string | number)[], message: string) => void,
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
    if (group && group.swap && groupOf.get(other) === group) continue;
    issue(['models', id, 'proxy'], `port ${portText} is also used by model ${other}, and both could run at the same time (put them in one group with swap: true, or use \${PORT})`);
  }
}

function resolvePreload(
  raw: RawConfig,
  models: Readonly<Record<string, ModelConfig>>,
  issue: (docPath: readonly (string | number)[], message: string) => void,
): string[] {
  const entries = list(raw.hooks?.on_startup?.preload);
  const ids = Object.keys(models);
  const preload: string[] = [];
  entries.forEach((entry, index) => {
    if (typeof entry !== 'string' || entry.trim() === '') return;
    const name = entry.trim();
    const id = Object.hasOwn(models, name) ? name : Object.values(models).find((model) => model.aliases.includes(name))?.id;
    if (id === undefined) {
      const candidates = [...ids, ...Object.values(models).flatMap((model) => model.aliases)];
      issue(['hooks', 'on_startup', 'preload', index], `unknown model "${name}"${didYouMean(name, candidates)}`);
    } else if (!preload.includes(id)) {
      preload.push(id);
    }
  });
  return preload;
}

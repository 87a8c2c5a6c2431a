/**
 * The loader: YAML text → macro expansion (llama-swap's: every value) → key check (unknown keys
 * are warnings) → joi validation → resolution → deep freeze. Every problem is collected and thrown
 * together as one `ConfigError`; with `strict`, every warning is a problem too.
 */
import { accessSync, constants, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { isMap, isScalar, parseDocument } from 'yaml';
import type { Document } from 'yaml';
import type { ConfigIssue, LoadedConfig } from './types.js';
import type { RawConfig } from './raw.js';
import { ConfigError, formatPath } from './errors.js';
import { checkKeys } from './keys.js';
import { expandDocument } from './expand.js';
import { applyPluginChecks, resolveConfig } from './resolve.js';
import type { PluginChecks } from './resolve-model.js';
import { VALIDATE_OPTIONS, rootSchema } from './schema.js';
import { dedupeIssues } from './macros.js';

/** `knownBackends`: each model's `backend` must be one of them; `pluginOptionSchemas`: its `options:` must pass its plugin's schema. */
export interface LoadOptions extends PluginChecks {
  /** The environment for `${env.NAME}`; defaults to `process.env` (the only place it is read). */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Treat every warning (unknown key, ignored key...) as a problem: `siesta check --strict`. */
  readonly strict?: boolean;
}

export interface LoadTextOptions extends LoadOptions {
  /** Absolute path recorded in the result (null = in-memory config). */
  readonly configPath?: string | null;
  /** Directory for relative `pluginDir` / `stateDir`; defaults to the config file's directory, else the cwd. */
  readonly baseDir?: string;
}

/** Freezes an object graph in place and returns it. */
export function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value as object)) deepFreeze(child);
  }
  return value;
}

function yamlIssues(doc: Document.Parsed): ConfigIssue[] {
  return doc.errors.map((error) => {
    const pos = error.linePos?.[0];
    const message = error.message.split('\n')[0]?.replace(/ at line \d+, column \d+:?$/, '') ?? error.message;
    return {
      path: pos ? `line ${pos.line}, column ${pos.col}` : '',
      message: `YAML syntax error: ${message}`,
    };
  });
}

/** Key order of a mapping in the document (JS objects would put integer-like keys first). */
function keyOrderOf(doc: Document.Parsed) {
  return (docPath: readonly string[]): string[] | undefined => {
    const node = doc.getIn(docPath, true);
    if (!isMap(node)) return undefined;
    return node.items.map((pair) => (isScalar(pair.key) ? String(pair.key.value) : String(pair.key)));
  };
}

/**
 * llama-swap's `store.path` rule (its activity database): not blank; an existing file must be
 * writable, a new one needs a writable directory. siesta has no store, but refuses what llama-swap
 * refuses. Relative paths are taken from the working directory, as llama-swap does.
 */
function storePathIssues(document: unknown): ConfigIssue[] {
  const store = (document as { store?: { path?: unknown } } | null)?.store;
  if (store === undefined || store === null || typeof store !== 'object') return [];
  const file = typeof store.path === 'string' ? store.path : '';
  if (file.trim() === '') return [{ path: 'store.path', message: 'must not be empty' }];
  const writable = (target: string): boolean => {
    try {
      accessSync(target, constants.W_OK);
      return true;
    } catch {
      return false;
    }
  };
  let isDirectory: boolean;
  try {
    isDirectory = statSync(file).isDirectory();
  } catch {
    const dir = path.dirname(file);
    return writable(dir) ? [] : [{ path: 'store.path', message: `directory ${dir} is not writable` }];
  }
  if (isDirectory) return [{ path: 'store.path', message: `${file} is a directory, not a file` }];
  return writable(file) ? [] : [{ path: 'store.path', message: `${file} is not writable` }];
}

/** Parses, validates and resolves configuration text. Throws `ConfigError` listing every problem. */
export function loadConfigText(text: string, options: LoadTextOptions = {}): LoadedConfig {
  const env = options.env ?? process.env;
  const configPath = options.configPath ?? null;
  const baseDir = options.baseDir ?? (configPath === null ? process.cwd() : path.dirname(configPath));

  const doc = parseDocument(text, { merge: true, prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) throw new ConfigError(yamlIssues(doc), configPath);
  // An empty file loads in llama-swap (no models, nothing to serve); so it does here, with a warning.
  let parsed: unknown;
  try {
    parsed = doc.toJS({ maxAliasCount: 1000 }) ?? {};
  } catch (error) {
    // yaml refuses documents whose aliases expand without bound ("billion laughs").
    const reason = error instanceof Error ? error.message : String(error);
    throw new ConfigError([{ path: '', message: `YAML aliases expand too far (more than 1000 alias uses): ${reason}` }], configPath);
  }
  const keyOrder = keyOrderOf(doc);
  const expanded = expandDocument(parsed, { env, keyOrder });
  const keys = checkKeys(expanded.document);
  const issues: ConfigIssue[] = [...expanded.issues];
  const validated = rootSchema.validate(keys.pruned, VALIDATE_OPTIONS);
  for (const detail of validated.error?.details ?? []) {
    issues.push({ path: formatPath(detail.path), message: detail.message });
  }
  issues.push(...storePathIssues(keys.pruned));

  let loaded: LoadedConfig | null = null;
  if (validated.value !== null && typeof validated.value === 'object' && !Array.isArray(validated.value)) {
    const resolved = resolveConfig(validated.value as RawConfig, {
      env,
      configPath,
      baseDir,
      ...(options.knownBackends ? { knownBackends: options.knownBackends } : {}),
      ...(options.pluginOptionSchemas ? { pluginOptionSchemas: options.pluginOptionSchemas } : {}),
      keyOrder,
    });
    issues.push(...resolved.issues);
    loaded = { config: resolved.config, warnings: [...keys.warnings, ...resolved.warnings] };
  }
  if (options.strict === true && loaded !== null) issues.push(...loaded.warnings);
  if (issues.length > 0 || loaded === null) throw new ConfigError(dedupeIssues(issues), configPath);
  return deepFreeze(loaded);
}

/**
 * The plugin checks for a config loaded without them (`backend` names, each plugin's `options:`
 * schema): `loadConfigText` with `knownBackends` / `pluginOptionSchemas` in one step, for callers
 * that learn the plugins from the loaded config's `pluginDir` (lib/gateway/load-config.ts), so the
 * text is parsed and validated once. Throws `ConfigError` listing every problem.
 */
export function checkPlugins(loaded: LoadedConfig, checks: PluginChecks): LoadedConfig {
  const checked = applyPluginChecks(loaded.config, checks);
  if (checked.issues.length > 0) throw new ConfigError(dedupeIssues(checked.issues), loaded.config.configPath);
  return deepFreeze({ config: checked.config, warnings: loaded.warnings });
}

/** Reads and loads a config file; relative `pluginDir` / `stateDir` resolve against its directory. */
export async function loadConfigFile(file: string, options: LoadOptions = {}): Promise<LoadedConfig> {
  const configPath = path.resolve(file);
  let text: string;
  try {
    text = await readFile(configPath, 'utf8');
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new ConfigError([{ path: '', message: `cannot read the config file: ${reason}` }], configPath);
  }
  return loadConfigText(text, { ...options, configPath });
}

/**
 * The loader: YAML text → unknown-key check → joi validation → resolution → deep freeze.
 * Every problem is collected and thrown together as one `ConfigError`.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Schema } from 'joi';
import { isMap, isScalar, parseDocument } from 'yaml';
import type { Document } from 'yaml';
import type { ConfigIssue, LoadedConfig } from './types.js';
import type { RawConfig } from './raw.js';
import { ConfigError, formatPath } from './errors.js';
import { checkKeys } from './keys.js';
import { resolveConfig } from './resolve.js';
import { VALIDATE_OPTIONS, rootSchema } from './schema.js';
import { dedupeIssues } from './macros.js';

export interface LoadOptions {
  /** The environment for `${env.NAME}`; defaults to `process.env` (the only place it is read). */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Plugin names; when given, each model's `backend` must be one of them. */
  readonly knownBackends?: readonly string[];
  /** Each plugin's joi schema for a model's `options:` block, by plugin name. */
  readonly pluginOptionSchemas?: Readonly<Record<string, Schema>>;
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

/** Parses, validates and resolves configuration text. Throws `ConfigError` listing every problem. */
export function loadConfigText(text: string, options: LoadTextOptions = {}): LoadedConfig {
  const env = options.env ?? process.env;
  const configPath = options.configPath ?? null;
  const baseDir = options.baseDir ?? (configPath === null ? process.cwd() : path.dirname(configPath));

  const doc = parseDocument(text, { merge: true, prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) throw new ConfigError(yamlIssues(doc), configPath);
  const document: unknown = doc.toJS({ maxAliasCount: 1000 });
  if (document === null || document === undefined) {
    throw new ConfigError([{ path: 'models', message: 'is required: the file is empty' }], configPath);
  }

  const keys = checkKeys(document);
  const issues: ConfigIssue[] = [...keys.errors];
  if (typeof document === 'object' && !Array.isArray(document) && !Object.hasOwn(document, 'models')) {
    issues.push({ path: 'models', message: 'is required: a mapping of model ids to their settings' });
  }
  const validated = rootSchema.validate(keys.pruned, VALIDATE_OPTIONS);
  for (const detail of validated.error?.details ?? []) {
    issues.push({ path: formatPath(detail.path), message: detail.message });
  }

  let loaded: LoadedConfig | null = null;
  if (validated.value !== null && typeof validated.value === 'object' && !Array.isArray(validated.value)) {
    const resolved = resolveConfig(validated.value as RawConfig, {
      env,
      configPath,
      baseDir,
      ...(options.knownBackends ? { knownBackends: options.knownBackends } : {}),
      ...(options.pluginOptionSchemas ? { pluginOptionSchemas: options.pluginOptionSchemas } : {}),
      keyOrder: keyOrderOf(doc),
    });
    issues.push(...resolved.issues);
    loaded = { config: resolved.config, warnings: [...keys.warnings, ...resolved.warnings] };
  }
  if (issues.length > 0 || loaded === null) throw new ConfigError(dedupeIssues(issues), configPath);
  return deepFreeze(loaded);
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

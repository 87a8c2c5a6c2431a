/**
 * `-config` plus `-config-dir`: several YAML files read into one document, merged the way
 * llama-swap merges them (internal/config/merge.go at 0bdb372), then loaded as one configuration.
 *
 * The rules, numbered as in `mergeValue` below:
 *  1. Sources in order: the `-config` file, then every `*.yml` / `*.yaml` directly in `-config-dir`
 *     sorted by name (byte order; sub-directories are not read). An empty file is skipped.
 *  2. The `-config` file may not also be one of the directory's files; a directory without YAML
 *     files and no `-config` is refused ("no configuration sources found").
 *  3. Identity maps (`models`, `groups`, `peers`, ... see IDENTITY_MAP_PATHS): an id defined in two
 *     sources is refused; ids from later sources are appended.
 *  4. Mapping + mapping: merged key by key, recursively. Sequence + sequence: concatenated
 *     (`apiKeys`, `hooks.on_startup.preload`). Scalar + scalar: equal values are fine, different
 *     values are refused. An empty value (`key:`) yields to the other side.
 *  5. Anything else (a scalar against a list, ...) is refused.
 *
 * Differences from llama-swap, both on the lenient side of cases nobody writes on purpose: scalars
 * compare by value (llama-swap compares the written text, so `1.0` and `1` conflict there), and
 * `${env.NAME}` is expanded after parsing (llama-swap substitutes the text before parsing), as for a
 * single file.
 */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { parseDocument, stringify, visit } from 'yaml';
import type { ConfigIssue } from './types.js';
import { ConfigError } from './errors.js';

/** Dotted paths whose children name discrete entities: one id in two files is a mistake. */
export const IDENTITY_MAP_PATHS: ReadonlySet<string> = new Set([
  'models',
  'groups',
  'profiles',
  'selectors',
  'peers',
  'matrix',
  'routing.router.settings.groups',
  'routing.router.settings.matrix',
]);

/**
 * An explicit `null` / `~`: a value like any other scalar (llama-swap lets only an empty value
 * yield). Stands in for it during the merge and turns back into null before the document is written.
 */
const EXPLICIT_NULL = Symbol('explicit null');

type Value = Map<string, Value> | Value[] | string | number | boolean | null | typeof EXPLICIT_NULL;

export interface Source {
  readonly path: string;
  /** The file's parsed top-level mapping; null for an empty file. */
  readonly value: Map<string, Value> | null;
}

/** A merge problem: where, and which file brought it. */
function conflict(message: string, docPath: string, sourcePath: string): ConfigError {
  return new ConfigError([{ path: docPath, message }], sourcePath);
}

function kindOf(value: Value): 'mapping' | 'sequence' | 'scalar' {
  if (value instanceof Map) return 'mapping';
  if (Array.isArray(value)) return 'sequence';
  return 'scalar';
}

function joinPath(parent: string, key: string): string {
  return parent === '' ? key : `${parent}.${key}`;
}

/** Rule 3: each child is an entity; a child id already present is a duplicate. */
function mergeIdentityMap(into: Value, from: Value, docPath: string, sourcePath: string): void {
  if (!(into instanceof Map) || !(from instanceof Map)) {
    throw conflict(`conflict: expected a mapping, introduced by ${sourcePath}`, docPath, sourcePath);
  }
  const name = docPath.slice(docPath.lastIndexOf('.') + 1);
  for (const [id, value] of from) {
    if (into.has(id)) throw conflict(`duplicate ${name} "${id}" found in ${sourcePath} (already defined in another config source)`, docPath, sourcePath);
    into.set(id, value);
  }
}

/** Merges `from` into the mapping `into` in place (rule 4, mappings). */
function mergeMappings(into: Map<string, Value>, from: Map<string, Value>, docPath: string, sourcePath: string): void {
  for (const [key, value] of from) {
    const childPath = joinPath(docPath, key);
    if (!into.has(key)) {
      into.set(key, value);
    } else if (IDENTITY_MAP_PATHS.has(childPath)) {
      mergeIdentityMap(into.get(key) as Value, value, childPath, sourcePath);
    } else {
      into.set(key, mergeValue(into.get(key) as Value, value, childPath, sourcePath));
    }
  }
}

/** The merged value of one key present in both sides (rules 4 and 5). */
function mergeValue(into: Value, from: Value, docPath: string, sourcePath: string): Value {
  if (into instanceof Map && from instanceof Map) {
    mergeMappings(into, from, docPath, sourcePath);
    return into;
  }
  if (Array.isArray(into) && Array.isArray(from)) return [...into, ...from];
  if (into === null) return from;
  if (from === null) return into;
  if (kindOf(into) === 'scalar' && kindOf(from) === 'scalar') {
    if (into === from) return into;
    throw conflict(`conflict: ${sourcePath} sets a different value than a previous source`, docPath, sourcePath);
  }
  throw conflict(`conflict: incompatible YAML node kinds (${kindOf(into)} vs ${kindOf(from)}) introduced by ${sourcePath}`, docPath, sourcePath);
}

/** The sources merged in order into one document (null when every source is empty). Pure; the sources are not changed. */
export function mergeSources(sources: readonly Source[]): Map<string, Value> | null {
  let merged: Map<string, Value> | null = null;
  for (const source of sources) {
    if (source.value === null) continue;
    const copy = copyValue(source.value) as Map<string, Value>;
    if (merged === null) merged = copy;
    else mergeMappings(merged, copy, '', source.path);
  }
  return merged;
}

/** A deep copy with string keys (aliases share objects; the merge works in place). */
function copyValue(value: unknown): Value {
  if (value instanceof Map) return new Map([...value].map(([key, child]) => [String(key), copyValue(child)]));
  if (Array.isArray(value)) return value.map(copyValue);
  if (value === EXPLICIT_NULL || value === null || typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return value;
  // Nothing else comes out of the core schema's toJS (no dates, no binary); undefined is an empty value.
  return null;
}

/** Back to plain YAML values: explicit nulls become null again. */
function plainValue(value: Value): unknown {
  if (value instanceof Map) return new Map([...value].map(([key, child]) => [key, plainValue(child)]));
  if (Array.isArray(value)) return value.map(plainValue);
  return value === EXPLICIT_NULL ? null : value;
}

/** The merged document as YAML text, for the ordinary loader. */
export function formatMerged(merged: Map<string, Value> | null): string {
  return merged === null ? '' : stringify(plainValue(merged), { aliasDuplicateObjects: false, lineWidth: 0 });
}

/** One file's text → its top-level mapping (null when empty or only comments). Throws ConfigError naming the file. */
export function parseSource(text: string, sourcePath: string): Source {
  const doc = parseDocument(text, { merge: true, prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const issues: ConfigIssue[] = doc.errors.map((error) => {
      const pos = error.linePos?.[0];
      const message = error.message.split('\n')[0]?.replace(/ at line \d+, column \d+:?$/, '') ?? error.message;
      return { path: pos ? `line ${pos.line}, column ${pos.col}` : '', message: `YAML syntax error: ${message}` };
    });
    throw new ConfigError(issues, sourcePath);
  }
  visit(doc, {
    Scalar(_key, node) {
      if (node.value === null && node.source !== '' && node.source !== undefined) node.value = EXPLICIT_NULL;
    },
  });
  const value: unknown = doc.toJS({ mapAsMap: true, maxAliasCount: 1000 });
  if (value === null || value === undefined) return { path: sourcePath, value: null };
  if (!(value instanceof Map)) throw new ConfigError([{ path: '', message: 'top-level YAML must be a mapping' }], sourcePath);
  return { path: sourcePath, value: copyValue(value) as Map<string, Value> };
}

/** Rule 1: the `*.yml` / `*.yaml` files directly in `dir`, sorted by name. */
export async function listYamlFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  return entries
    .filter((entry) => !entry.isDirectory() && (entry.name.endsWith('.yml') || entry.name.endsWith('.yaml')))
    .map((entry) => path.join(dir, entry.name))
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

export interface ConfigSources {
  /** The `-config` file. */
  readonly configPath?: string;
  /** The `-config-dir` directory. */
  readonly configDir?: string;
}

/** Rules 1 and 2: the files to read, in merge order. Throws ConfigError when the choice is refused. */
export async function sourcePaths(sources: ConfigSources): Promise<string[]> {
  const { configPath, configDir } = sources;
  if (configPath === undefined && configDir === undefined) {
    throw new ConfigError([{ path: '', message: 'at least one of -config or -config-dir must be provided' }]);
  }
  const paths = configPath === undefined ? [] : [path.resolve(configPath)];
  if (configDir !== undefined) {
    let files: string[];
    try {
      files = await listYamlFiles(path.resolve(configDir));
    } catch (error) {
      throw new ConfigError([{ path: '', message: `-config-dir ${configDir}: ${(error as Error).message}` }], path.resolve(configDir));
    }
    if (paths[0] !== undefined && files.includes(paths[0])) {
      throw new ConfigError([{ path: '', message: `-config path ${configPath} is also present in -config-dir ${configDir}; remove it from one` }], paths[0]);
    }
    paths.push(...files);
  }
  if (paths.length === 0) throw new ConfigError([{ path: '', message: 'no configuration sources found' }], path.resolve(configDir ?? '.'));
  return paths;
}

export interface MergedText {
  readonly text: string;
  /** Recorded as the configuration's path: the `-config` file, else the directory. */
  readonly configPath: string;
  /** Where relative `pluginDir` / `stateDir` resolve: the `-config` file's directory, else `-config-dir`. */
  readonly baseDir: string;
  /** The files read, in merge order. */
  readonly files: readonly string[];
}

/** Reads every source and merges them into one YAML text. Throws ConfigError naming the file at fault. */
export async function readConfigSources(sources: ConfigSources): Promise<MergedText> {
  const files = await sourcePaths(sources);
  const parsed: Source[] = [];
  for (const file of files) {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (error) {
      throw new ConfigError([{ path: '', message: `cannot read the config file: ${(error as Error).message}` }], file);
    }
    parsed.push(parseSource(text, file));
  }
  const configPath = sources.configPath !== undefined ? path.resolve(sources.configPath) : path.resolve(sources.configDir as string);
  const baseDir = sources.configPath !== undefined ? path.dirname(configPath) : configPath;
  return { text: formatMerged(mergeSources(parsed)), configPath, baseDir, files };
}

/**
 * llama-swap expands macros in every value of the file (internal/config/macros.go at 0bdb372:
 * resolveConfigMacros, substituteMacroList, validateConfigMacroUses), not in a fixed list of fields: the global
 * macros in every top-level value (`startPort: ${base}`, `globalTTL: ${ttl}`, `hooks.on_startup.
 * preload: [${main}]`, peers, profiles...), and each model's macros (MODEL_ID, the global ones, its
 * own) in every value of that model. Where a whole string is one macro, the macro's type is kept,
 * so `ttl: ${ttl}` is a number. This pass does that on the parsed document, before the key check
 * and joi see it. Pure.
 *
 * The model fields that `resolve.ts` expands itself (it needs `${PORT}` and `${PID}` there, and
 * reports their problems with field-specific messages) are left to it: see `RESOLVED_MODEL_FIELDS`.
 * Elsewhere an unknown macro is reported, as llama-swap does.
 */
import type { ConfigIssue } from './types.js';
import { formatPath } from './errors.js';
import { ROOT_SHAPE } from './keys.js';
import {
  type MacroDefinition,
  type MacroValue,
  expandMacrosTyped,
  findMacroReferences,
  mergeMacroDefinitions,
  resolveMacroDefinitions,
} from './macros.js';

/** Model fields that `resolve.ts` expands itself (with `${PORT}`, `${PID}` and its own messages). */
export const RESOLVED_MODEL_FIELDS: ReadonlySet<string> = new Set([
  'cmd',
  'cmdStop',
  'proxy',
  'checkEndpoint',
  'env',
  'filters',
  'metadata',
  'sleepEndpoints',
  'wakeEndpoints',
  'macros',
]);

/** Top-level keys left alone: definitions and models (their own pass). Unknown keys are not expanded either (llama-swap skips them). */
const SKIPPED_ROOT_KEYS: ReadonlySet<string> = new Set(['macros', 'models']);
const KNOWN_ROOT_KEYS: ReadonlySet<string> = new Set(ROOT_SHAPE.kind === 'object' ? [...Object.keys(ROOT_SHAPE.keys), ...(ROOT_SHAPE.silent ?? [])] : []);

export interface ExpandOptions {
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Macro names in file order, by document path (JS objects put integer-like keys first). */
  readonly keyOrder?: (docPath: readonly string[]) => readonly string[] | undefined;
}

export interface ExpandOutcome {
  readonly document: unknown;
  readonly issues: readonly ConfigIssue[];
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** The definitions of a `macros:` block in file order, or none when it is not a mapping. */
export function macroDefinitions(
  macros: unknown,
  docPath: readonly string[],
  keyOrder: ExpandOptions['keyOrder'],
): MacroDefinition[] {
  if (!isPlainObject(macros)) return [];
  const order = keyOrder?.(docPath)?.filter((name) => Object.hasOwn(macros, name)) ?? Object.keys(macros);
  return order.map((name) => ({ name, value: macros[name], path: formatPath([...docPath, name]) }));
}

/** Runtime macros that stay for later (`${PORT}` in a model, `${PID}` in cmdStop). */
const LATER = new Set(['PORT', 'PID']);

function expandValue(
  value: unknown,
  docPath: readonly (string | number)[],
  values: ReadonlyMap<string, MacroValue>,
  env: ExpandOptions['env'],
  reported: ReadonlySet<string>,
  laterAllowed: boolean,
  issues: ConfigIssue[],
): unknown {
  if (typeof value === 'string') {
    if (!value.includes('${')) return value;
    const typed = expandMacrosTyped(value, values, env);
    for (const variable of typed.missingEnv) {
      if (!reported.has(`env.${variable}`)) issues.push({ path: formatPath(docPath), message: `environment variable ${variable} is not set` });
    }
    if (typeof typed.value === 'string') {
      for (const name of new Set(findMacroReferences(typed.value))) {
        if (name.startsWith('env.') || reported.has(name) || (laterAllowed && LATER.has(name))) continue;
        issues.push({ path: formatPath(docPath), message: `unknown macro \${${name}}` });
      }
    }
    return typed.value;
  }
  if (Array.isArray(value)) {
    return value.map((item, index) => expandValue(item, [...docPath, index], values, env, reported, laterAllowed, issues));
  }
  if (isPlainObject(value)) {
    return Object.fromEntries(
      Object.entries(value).map(([key, item]) => [key, expandValue(item, [...docPath, key], values, env, reported, laterAllowed, issues)]),
    );
  }
  return value;
}

/**
 * llama-swap substitutes `${env.NAME}` into the YAML text and refuses a value with a newline,
 * carriage return or NUL byte (it would change the document's structure).
 */
function checkEnvValues(document: Readonly<Record<string, unknown>>, env: ExpandOptions['env']): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const seen = new Set<string>();
  const walk = (value: unknown, docPath: readonly (string | number)[]): void => {
    if (typeof value === 'string') {
      for (const name of findMacroReferences(value)) {
        if (!name.startsWith('env.') || seen.has(name)) continue;
        const text = env[name.slice(4)];
        if (text !== undefined && /[\n\r\0]/.test(text)) {
          seen.add(name);
          issues.push({ path: formatPath(docPath), message: `environment variable ${name.slice(4)} contains newlines or null bytes, which are not allowed in substitution` });
        }
      }
    } else if (Array.isArray(value)) {
      value.forEach((item, index) => walk(item, [...docPath, index]));
    } else if (isPlainObject(value)) {
      for (const [key, item] of Object.entries(value)) walk(item, [...docPath, key]);
    }
  };
  walk(document, []);
  return issues;
}

/** Expands global macros in top-level values and model macros in model values (see the header). */
export function expandDocument(document: unknown, options: ExpandOptions): ExpandOutcome {
  if (!isPlainObject(document)) return { document, issues: [] };
  const issues: ConfigIssue[] = [];
  const globals = macroDefinitions(document.macros, ['macros'], options.keyOrder);
  // A global macro may use ${MODEL_ID}: it is resolved per model (resolve.ts). Here it stays literal,
  // so a top-level value that ends up with it is an unknown macro, as in llama-swap.
  const globalValues = resolveMacroDefinitions(globals, new Map([['MODEL_ID', '${MODEL_ID}']]), options.env);
  issues.push(...globalValues.issues);
  issues.push(...checkEnvValues(document, options.env));

  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(document)) {
    out[key] = SKIPPED_ROOT_KEYS.has(key) || !KNOWN_ROOT_KEYS.has(key)
      ? value
      : expandValue(value, [key], globalValues.values, options.env, globalValues.reported, false, issues);
  }

  if (isPlainObject(document.models)) {
    const models: Record<string, unknown> = {};
    for (const [id, model] of Object.entries(document.models)) {
      if (!isPlainObject(model)) {
        models[id] = model;
        continue;
      }
      const locals = macroDefinitions(model.macros, ['models', id, 'macros'], options.keyOrder);
      const macros = resolveMacroDefinitions(mergeMacroDefinitions(globals, locals), new Map([['MODEL_ID', id]]), options.env);
      const expanded: Record<string, unknown> = {};
      for (const [field, value] of Object.entries(model)) {
        expanded[field] = RESOLVED_MODEL_FIELDS.has(field)
          ? value
          : expandValue(value, ['models', id, field], macros.values, options.env, macros.reported, true, issues);
      }
      models[id] = expanded;
    }
    out.models = models;
  }
  return { document: out, issues };
}

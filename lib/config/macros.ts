/**
 * The macro expander: pure functions, no I/O. llama-swap's rules:
 * - `${NAME}` user macros, global then per model; a per-model macro replaces a global one of the
 *   same name *in place* (so a global macro that uses `${ctx}` sees the model's `ctx`), new ones are
 *   appended; a macro may only use macros that come before it in that merged list;
 * - `${MODEL_ID}` is the model's key; `${env.NAME}` reads the environment (unset = error);
 * - `${PORT}` is substituted after every other macro (so user macros may contain it) and only
 *   when `cmd` uses it; `${PID}` stays literal in `cmdStop` (substituted at stop time);
 * - names match `^[a-zA-Z0-9_-]+$`, are shorter than 64 characters and are not reserved;
 *   values are scalars (string, number, boolean); strings are shorter than 1024 characters;
 * - where a whole string is exactly one macro (`"${ctx}"` in `metadata` or `filters.setParams`),
 *   the macro's own type is kept (a number stays a number).
 */
import type { ConfigIssue } from './types.js';

export type MacroValue = string | number | boolean;

export const MACRO_NAME_PATTERN = /^[a-zA-Z0-9_-]+$/;
export const MACRO_NAME_MAX_LENGTH = 63;
export const MACRO_VALUE_MAX_LENGTH = 1023;
/** Names the loader itself supplies; users cannot define them. */
export const RESERVED_MACROS: readonly string[] = ['PORT', 'MODEL_ID', 'PID'];

const REFERENCE = /\$\{([^}]*)\}/g;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Every `${...}` reference in `text`, by name (`env.HOME` for environment references), in order. */
export function findMacroReferences(text: string): string[] {
  return [...text.matchAll(REFERENCE)].map((match) => match[1] ?? '');
}

export interface ExpandResult {
  readonly text: string;
  /** Environment variables referenced as `${env.NAME}` that are not set (left in `text`). */
  readonly missingEnv: readonly string[];
}

/**
 * One pass of substitution: `${name}` for every name in `values`, `${env.NAME}` from `env`.
 * Anything else (`${PORT}`, `${PID}`, unknown names) is left in place for the caller to judge.
 */
export function expandMacros(
  text: string,
  values: ReadonlyMap<string, MacroValue>,
  env: Readonly<Record<string, string | undefined>>,
): ExpandResult {
  const missingEnv: string[] = [];
  const expanded = text.replace(REFERENCE, (whole, name: string) => {
    if (name.startsWith('env.')) {
      const variable = name.slice(4);
      const value = ENV_NAME.test(variable) ? env[variable] : undefined;
      if (value === undefined) {
        if (ENV_NAME.test(variable)) missingEnv.push(variable);
        return whole;
      }
      return value;
    }
    const value = values.get(name);
    return value === undefined ? whole : String(value);
  });
  return { text: expanded, missingEnv };
}

/**
 * Like `expandMacros`, but a string that is exactly one macro reference keeps the macro's type
 * (llama-swap's "type-preserving" substitution for metadata and setParams).
 */
export function expandMacrosTyped(
  text: string,
  values: ReadonlyMap<string, MacroValue>,
  env: Readonly<Record<string, string | undefined>>,
): { readonly value: unknown; readonly missingEnv: readonly string[] } {
  const exact = /^\$\{([^}]*)\}$/.exec(text);
  const single = exact ? values.get(exact[1] ?? '') : undefined;
  if (single !== undefined) return { value: single, missingEnv: [] };
  const result = expandMacros(text, values, env);
  return { value: result.text, missingEnv: result.missingEnv };
}

/** Applies `expand` to every string inside a JSON-like value (object keys are left alone). */
export function mapStrings(value: unknown, expand: (text: string) => unknown): unknown {
  if (typeof value === 'string') return expand(value);
  if (Array.isArray(value)) return value.map((item) => mapStrings(item, expand));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, mapStrings(item, expand)]));
  }
  return value;
}

export interface MacroDefinition {
  readonly name: string;
  readonly value: unknown;
  /** Where it was defined, e.g. `macros.ctx` or `models.qwen.macros.ctx`. */
  readonly path: string;
}

/** Checks one definition's name and value type; returns the problems as messages. */
export function checkMacroDefinition(name: string, value: unknown): string[] {
  const problems: string[] = [];
  if (name.length > MACRO_NAME_MAX_LENGTH) problems.push(`macro name is longer than ${MACRO_NAME_MAX_LENGTH} characters`);
  if (!MACRO_NAME_PATTERN.test(name)) problems.push('macro name may only contain letters, digits, "_" and "-"');
  if (RESERVED_MACROS.includes(name)) problems.push(`${name} is reserved and cannot be defined as a macro`);
  if (typeof value === 'string') {
    if (value.length > MACRO_VALUE_MAX_LENGTH) problems.push(`macro value is longer than ${MACRO_VALUE_MAX_LENGTH} characters`);
    if (findMacroReferences(value).includes(name)) problems.push(`macro refers to itself (\${${name}})`);
  } else if (typeof value !== 'number' && typeof value !== 'boolean') {
    problems.push('macro value must be a string, number or boolean');
  }
  return problems;
}

/**
 * The merged list for one model: global definitions in order, a model definition with the same
 * name replacing the global one in place, other model definitions appended.
 */
export function mergeMacroDefinitions(
  globals: readonly MacroDefinition[],
  locals: readonly MacroDefinition[],
): MacroDefinition[] {
  const merged = [...globals];
  for (const local of locals) {
    const index = merged.findIndex((entry) => entry.name === local.name);
    if (index >= 0) merged[index] = local;
    else merged.push(local);
  }
  return merged;
}

export interface ResolvedMacros {
  /** Every macro with its value expanded (except `${PORT}` / `${PID}`, which stay literal). */
  readonly values: ReadonlyMap<string, MacroValue>;
  readonly issues: readonly ConfigIssue[];
  /** Names (`foo`, `env.HOME`) already reported at a definition, so fields using them are not reported twice. */
  readonly reported: ReadonlySet<string>;
}

/**
 * Expands a merged definition list in order: each value may use `builtins` (e.g. MODEL_ID) and the
 * definitions before it. `${PORT}` and `${PID}` are kept for later.
 */
export function resolveMacroDefinitions(
  definitions: readonly MacroDefinition[],
  builtins: ReadonlyMap<string, MacroValue>,
  env: Readonly<Record<string, string | undefined>>,
): ResolvedMacros {
  const values = new Map<string, MacroValue>(builtins);
  const issues: ConfigIssue[] = [];
  const reported = new Set<string>();
  const allNames = new Set(definitions.map((definition) => definition.name));
  for (const definition of definitions) {
    const problems = checkMacroDefinition(definition.name, definition.value);
    if (problems.length > 0) {
      for (const message of problems) issues.push({ path: definition.path, message });
      reported.add(definition.name);
      continue;
    }
    if (typeof definition.value !== 'string') {
      values.set(definition.name, definition.value as MacroValue);
      continue;
    }
    const result = expandMacros(definition.value, values, env);
    for (const variable of result.missingEnv) {
      issues.push({ path: definition.path, message: `environment variable ${variable} is not set` });
      reported.add(`env.${variable}`);
    }
    for (const name of findMacroReferences(result.text)) {
      // builtins.has(name): a builtin kept literal for later (the global pass keeps ${MODEL_ID}).
      if (name === 'PORT' || name === 'PID' || name.startsWith('env.') || name === definition.name || builtins.has(name)) continue;
      const message = allNames.has(name)
        ? `uses \${${name}}, which is defined after it (a macro may only use macros defined before it)`
        : `uses unknown macro \${${name}}`;
      issues.push({ path: definition.path, message });
      reported.add(name);
    }
    values.set(definition.name, result.text);
  }
  return { values, issues: dedupeIssues(issues), reported };
}

export function dedupeIssues(issues: readonly ConfigIssue[]): ConfigIssue[] {
  const seen = new Set<string>();
  return issues.filter((issue) => {
    const key = `${issue.path}\u0000${issue.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

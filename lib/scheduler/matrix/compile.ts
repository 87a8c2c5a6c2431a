/**
 * From the configuration's `matrix:` block (legacy top level) or `routing.router.settings.matrix`
 * to a `CompiledMatrix`, with llama-swap's checks (`internal/config/matrix.go`, ValidateMatrix).
 * Unlike llama-swap, which stops at the first error, every problem is reported.
 *
 *   vars:         short name → model id (a real id, not an alias); names are 1-32 of [a-zA-Z0-9.-];
 *                 a var wins over a model of the same name
 *   evict_costs:  var or model id → positive integer (default 1)
 *   sets:         name → expression (see `dsl.ts`); file order is the tie-break order
 *
 * Set order comes from the object's key order. JavaScript puts integer-like keys ("1", "20")
 * first, in numeric order, whatever the file says; a `Map` (or `[name, dsl]` pairs) keeps the
 * file's order exactly.
 */
import { compileSets, type Definition } from './dsl.js';
import type { CompiledMatrix, MatrixIssue } from './types.js';

const VAR_KEY = /^[a-zA-Z0-9.-]{1,32}$/;

export interface CompileMatrixResult {
  /** Null when there is any issue. */
  readonly matrix: CompiledMatrix | null;
  readonly issues: readonly MatrixIssue[];
}

type Entries = readonly (readonly [string, unknown])[];

function isRecord(value: unknown): value is Readonly<Record<string, unknown>> {
  return value !== null && typeof value === 'object' && !Array.isArray(value) && !(value instanceof Map);
}

/** Entries of a mapping given as a plain object, a Map or `[key, value]` pairs; null when it is none of these. */
function entriesOf(value: unknown): Entries | null {
  if (value instanceof Map) return [...(value as Map<unknown, unknown>)].map(([key, v]) => [String(key), v] as const);
  if (Array.isArray(value)) {
    const pairs: unknown[] = value;
    const isPair = (pair: unknown): pair is readonly [string, unknown] => Array.isArray(pair) && pair.length === 2 && typeof pair[0] === 'string';
    return pairs.every(isPair) ? pairs : null;
  }
  if (isRecord(value)) return Object.entries(value);
  return null;
}

/**
 * Check and compile a raw matrix block. `modelIds` are the configuration's model ids (not aliases);
 * `pathPrefix` is where the block sits, e.g. `matrix` or `routing.router.settings.matrix`, and
 * starts every issue's path (`matrix.sets.standard`, `matrix.vars.g`, `matrix.evict_costs.L`).
 */
export function compileMatrix(raw: unknown, modelIds: Iterable<string>, pathPrefix = 'matrix'): CompileMatrixResult {
  const models = new Set(modelIds);
  const issues: MatrixIssue[] = [];
  const issue = (path: readonly string[], message: string): void => {
    issues.push({ path: [pathPrefix, ...path].join('.'), message });
  };
  if (!isRecord(raw) && !(raw instanceof Map)) {
    issue([], 'must be a mapping with vars, evict_costs and sets');
    return { matrix: null, issues };
  }
  const field = (name: string): unknown => (raw instanceof Map ? raw.get(name) : raw[name]);
  const mapping = (name: string): Entries => {
    const value = field(name);
    if (value === undefined || value === null) return [];
    const entries = entriesOf(value);
    if (entries === null) issue([name], 'must be a mapping');
    return entries ?? [];
  };

  const vars = new Map<string, string>();
  /** Vars already reported: resolved to themselves so that the sets naming them are not reported again. */
  const brokenVars = new Set<string>();
  for (const [key, model] of mapping('vars')) {
    brokenVars.add(key);
    if (!VAR_KEY.test(key)) {
      issue(['vars', key], `var key ${JSON.stringify(key)} must contain only alphanumeric, '-' or '.' characters and be 1-32 characters long`);
    } else if (typeof model !== 'string') {
      issue(['vars', key], `var key ${JSON.stringify(key)} must name a model id`);
    } else if (!models.has(model)) {
      issue(['vars', key], `var key ${JSON.stringify(key)} references unknown model ${JSON.stringify(model)}`);
    } else {
      vars.set(key, model);
      brokenVars.delete(key);
    }
  }
  // A var is looked up first, then a model id (llama-swap's resolveMatrixModel).
  const resolve = (identifier: string): string | undefined =>
    vars.get(identifier) ?? (models.has(identifier) || brokenVars.has(identifier) ? identifier : undefined);

  // Two keys naming the same model (a var and the id): the later one in the file wins.
  const evictCosts = new Map<string, number>();
  for (const [key, cost] of mapping('evict_costs')) {
    if (typeof cost !== 'number' || !Number.isInteger(cost) || cost <= 0) {
      issue(['evict_costs', key], `evict_cost for ${JSON.stringify(key)} must be a positive integer, got ${JSON.stringify(cost)}`);
      continue;
    }
    const model = resolve(key);
    if (model === undefined) issue(['evict_costs', key], `evict_costs: unknown var or model ${JSON.stringify(key)}`);
    else evictCosts.set(model, cost);
  }

  const definitions: Definition[] = [];
  for (const [name, dsl] of mapping('sets')) {
    if (typeof dsl !== 'string') issue(['sets', name], 'must be an expression (a string)');
    else definitions.push({ name, dsl });
  }
  const setsValue = field('sets');
  if (definitions.length === 0 && (setsValue === undefined || setsValue === null || entriesOf(setsValue)?.length === 0)) {
    issue(['sets'], 'matrix must define at least one set');
  } else if (definitions.length > 0) {
    const { sets, errors } = compileSets(definitions, resolve);
    for (const error of errors) issue(error.set === null ? ['sets'] : ['sets', error.set], error.message);
    if (issues.length === 0) return { matrix: { sets, evictCosts, vars }, issues };
  }
  return { matrix: null, issues };
}

/**
 * Which keys the loader knows, where. Unknown keys are found here, before joi sees the document:
 * keys of llama-swap (or llmsnap) that siesta does not implement become warnings and are dropped;
 * any other unknown key is an error with a "did you mean" suggestion.
 */
import type { ConfigIssue } from './types.js';
import { formatPath } from './errors.js';

export type Shape =
  | {
      readonly kind: 'object';
      readonly keys: Readonly<Record<string, Shape | null>>;
      /** Known keys that siesta does not implement, with the warning to give. */
      readonly ignored?: Readonly<Record<string, string>>;
      /** Any other unknown key is a warning too (llama-swap's `hooks` may grow new entries). */
      readonly unknownIsWarning?: string;
    }
  | { readonly kind: 'map'; readonly value: Shape }
  | { readonly kind: 'list'; readonly item: Shape };

const NOT_IMPLEMENTED = 'not implemented by siesta; ignored';
const OLD_LLMSNAP = 'not implemented by siesta (older llmsnap key); ignored: use sleepEndpoints / wakeEndpoints';

const HOOKS_WARNING = `${NOT_IMPLEMENTED} (siesta supports hooks.on_startup.preload only)`;

const object = (keys: Record<string, Shape | null>, ignored?: Record<string, string>): Shape => ({ kind: 'object', keys, ...(ignored ? { ignored } : {}) });
const ignore = (...names: string[]): Record<string, string> => Object.fromEntries(names.map((name) => [name, NOT_IMPLEMENTED]));

const amounts = object({ vram: null, ram: null });
const httpStep = object({ endpoint: null, method: null, body: null, timeout: null });

export const MODEL_SHAPE: Shape = object(
  {
    cmd: null,
    cmdStop: null,
    proxy: null,
    aliases: { kind: 'list', item: object({ id: null }, ignore('name', 'unlisted')) },
    env: null,
    checkEndpoint: null,
    ttl: null,
    unloadTimeout: null,
    unlisted: null,
    useModelName: null,
    name: null,
    description: null,
    concurrencyLimit: null,
    filters: object({ stripParams: null, strip_params: null, setParams: null }, ignore('setParamsByID')),
    macros: null,
    metadata: null,
    sendLoadingState: null,
    sleepMode: null,
    sleepEndpoints: { kind: 'list', item: httpStep },
    wakeEndpoints: { kind: 'list', item: httpStep },
    backend: null,
    sleep: object({ level: null }),
    idle: { kind: 'list', item: object({ after: null, do: null, level: null }) },
    resources: object({ vram: null, ram: null, asleep: amounts }),
    priority: null,
    options: null,
  },
  {
    ...ignore('timeouts', 'compat', 'capabilities'),
    ...Object.fromEntries(
      ['cmdSleep', 'cmdWake', 'cmdSleepTimeout', 'cmdWakeTimeout', 'sleepEndpoint', 'sleepMethod', 'sleepBody', 'sleepTimeout', 'wakeEndpoint', 'wakeMethod', 'wakeBody', 'wakeTimeout'].map(
        (name) => [name, OLD_LLMSNAP],
      ),
    ),
  },
);

export const GROUP_SHAPE: Shape = object({ swap: null, exclusive: null, persistent: null, members: null });

export const ROOT_SHAPE: Shape = object(
  {
    healthCheckTimeout: null,
    logLevel: null,
    startPort: null,
    macros: null,
    groups: { kind: 'map', value: GROUP_SHAPE },
    hooks: {
      kind: 'object',
      keys: { on_startup: { kind: 'object', keys: { preload: null }, unknownIsWarning: HOOKS_WARNING } },
      unknownIsWarning: HOOKS_WARNING,
    },
    sendLoadingState: null,
    includeAliasesInList: null,
    globalTTL: null,
    unloadTimeout: null,
    apiKeys: null,
    models: { kind: 'map', value: MODEL_SHAPE },
    sleepRequestTimeout: null,
    wakeRequestTimeout: null,
    resources: amounts,
    pluginDir: null,
    stateDir: null,
    logFormat: null,
    adminKeys: null,
    maxBodySize: null,
  },
  ignore(
    'logTimeFormat',
    'logToStdout',
    'logRequests',
    'metricsMaxInMemory',
    'captureBuffer',
    'store',
    'ui',
    'performance',
    'profiles',
    'selectors',
    'peers',
    'upstream',
    'matrix',
    'routing',
  ),
);

/** Edit distance counting insertions, deletions, substitutions and adjacent transpositions as 1. */
export function editDistance(a: string, b: string): number {
  const rows: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  const at = (i: number, j: number): number => rows[i]?.[j] ?? 0;
  for (let i = 1; i <= a.length; i += 1) {
    const row = rows[i] as number[];
    for (let j = 1; j <= b.length; j += 1) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, at(i - 2, j - 2) + 1);
      row[j] = best;
    }
  }
  return at(a.length, b.length);
}

/** The closest candidate within a small edit distance (case-insensitive), or undefined. */
export function closest(word: string, candidates: Iterable<string>): string | undefined {
  const lower = word.toLowerCase();
  const limit = lower.length <= 4 ? 1 : lower.length <= 8 ? 2 : 3;
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const candidate of candidates) {
    const distance = editDistance(lower, candidate.toLowerCase());
    if (distance <= limit && distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

/** `unknown key "x"` with ` (did you mean \`y\`?)` when a candidate is close. */
export function didYouMean(word: string, candidates: Iterable<string>): string {
  const suggestion = closest(word, candidates);
  return suggestion === undefined ? '' : ` (did you mean \`${suggestion}\`?)`;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

export interface KeyCheck {
  /** The document without ignored or unknown keys, and without keys whose value is null (= unset). */
  readonly pruned: unknown;
  readonly warnings: ConfigIssue[];
  readonly errors: ConfigIssue[];
}

/** Walks `value` along `shape`, collecting warnings and errors and building the pruned copy. */
export function checkKeys(value: unknown, shape: Shape = ROOT_SHAPE): KeyCheck {
  const warnings: ConfigIssue[] = [];
  const errors: ConfigIssue[] = [];
  const walk = (node: unknown, nodeShape: Shape, path: (string | number)[]): unknown => {
    if (nodeShape.kind === 'list') {
      return Array.isArray(node) ? node.map((item, index) => walk(item, nodeShape.item, [...path, index])) : node;
    }
    if (!isPlainObject(node)) return node;
    if (nodeShape.kind === 'map') {
      return Object.fromEntries(Object.entries(node).map(([key, item]) => [key, walk(item, nodeShape.value, [...path, key])]));
    }
    const out: Record<string, unknown> = {};
    const ignored = nodeShape.ignored ?? {};
    for (const [key, item] of Object.entries(node)) {
      const keyPath = formatPath([...path, key]);
      if (Object.hasOwn(nodeShape.keys, key)) {
        if (item === null) continue;
        const child = nodeShape.keys[key];
        out[key] = child ? walk(item, child, [...path, key]) : item;
      } else if (Object.hasOwn(ignored, key)) {
        warnings.push({ path: keyPath, message: ignored[key] ?? NOT_IMPLEMENTED });
      } else {
        const candidates = [...Object.keys(nodeShape.keys), ...Object.keys(ignored)];
        if (nodeShape.unknownIsWarning === undefined) {
          errors.push({ path: keyPath, message: `unknown key${didYouMean(key, candidates)}` });
        } else {
          warnings.push({ path: keyPath, message: `${nodeShape.unknownIsWarning}${didYouMean(key, candidates)}` });
        }
      }
    }
    return out;
  };
  const pruned = walk(value, shape, []);
  return { pruned, warnings, errors };
}


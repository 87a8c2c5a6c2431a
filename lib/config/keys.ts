/**
 * Which keys the loader knows, where. Unknown keys are found here, before joi sees the document.
 * llama-swap decodes its YAML without strict key checking (internal/config/load.go at 0bdb372,
 * yaml.v3 Node.Decode into Config), so an unknown key loads and does
 * nothing there; here it is dropped with a warning that names it (with a "did you mean" when a
 * known key is close). `siesta check --strict` turns those warnings into problems.
 */
import type { ConfigIssue } from './types.js';
import { formatPath } from './errors.js';

export type Shape =
  | {
      readonly kind: 'object';
      readonly keys: Readonly<Record<string, Shape | null>>;
      /** Known keys that siesta loads but does not act on, with the warning to give. */
      readonly ignored?: Readonly<Record<string, string>>;
      /** Known keys that are loaded silently and dropped (they only feed llama-swap's own web UI). */
      readonly silent?: readonly string[];
      /** What an unknown key's warning says (default: llama-swap ignores it too). */
      readonly unknownWarning?: string;
    }
  | { readonly kind: 'map'; readonly value: Shape }
  | { readonly kind: 'list'; readonly item: Shape };

/** llama-swap decodes YAML without strict key checking: an unknown key loads and does nothing. */
const UNKNOWN = 'unknown key, ignored';
const OLD_LLMSNAP = 'older llmsnap key, ignored: use sleepEndpoints / wakeEndpoints';
const HOOKS_WARNING = 'unknown hook, ignored (hooks.on_startup.preload is the only hook)';

const object = (keys: Record<string, Shape | null>, extra: Omit<Extract<Shape, { kind: 'object' }>, 'kind' | 'keys'> = {}): Shape => ({
  kind: 'object',
  keys,
  ...extra,
});
const map = (value: Shape): Shape => ({ kind: 'map', value });
const list = (item: Shape): Shape => ({ kind: 'list', item });

const amounts = object({ vram: null, ram: null });
const httpStep = object({ endpoint: null, method: null, body: null, timeout: null });
const timeouts = object({ connect: null, keepalive: null, responseHeader: null, tlsHandshake: null, expectContinue: null, idleConn: null, idle: null });
const filters = object({ stripParams: null, strip_params: null, setParams: null, setParamsByID: null });

export const MODEL_SHAPE: Shape = object(
  {
    cmd: null,
    cmdStop: null,
    proxy: null,
    aliases: list(object({ id: null }, { ignored: { name: 'alias names are not shown; ignored', unlisted: 'ignored' } })),
    env: null,
    checkEndpoint: null,
    ttl: null,
    unloadTimeout: null,
    unlisted: null,
    useModelName: null,
    name: null,
    description: null,
    concurrencyLimit: null,
    filters,
    macros: null,
    metadata: null,
    sendLoadingState: null,
    timeouts,
    compat: object({ ignoreWebsockets: null }),
    capabilities: object({ in: null, out: null, tools: null, reranker: null, context: null }),
    sleepMode: null,
    sleepEndpoints: list(httpStep),
    wakeEndpoints: list(httpStep),
    backend: null,
    sleep: object({ level: null, method: null }),
    idle: list(object({ after: null, do: null, level: null })),
    resources: object({ vram: null, ram: null, asleep: amounts }),
    priority: null,
    options: null,
  },
  {
    ignored: {
      healthCheckTimeout: 'ignored per model, as in llama-swap: the global healthCheckTimeout applies to every model',
      ...Object.fromEntries(
        ['cmdSleep', 'cmdWake', 'cmdSleepTimeout', 'cmdWakeTimeout', 'sleepEndpoint', 'sleepMethod', 'sleepBody', 'sleepTimeout', 'wakeEndpoint', 'wakeMethod', 'wakeBody', 'wakeTimeout'].map(
          (name) => [name, OLD_LLMSNAP],
        ),
      ),
    },
  },
);

export const GROUP_SHAPE: Shape = object({ swap: null, exclusive: null, persistent: null, members: null });

const PEER_SHAPE: Shape = object({ proxy: null, apiKey: null, models: null, filters, timeouts });
const SELECTOR_SHAPE: Shape = object({
  strategy: null,
  targets: null,
  settings: object({ spillover: null }),
  name: null,
  description: null,
  unlisted: null,
  metadata: null,
});
const PROFILE_SHAPE: Shape = object({ description: null, pins: null });
/** The matrix is checked by its compiler (lib/scheduler/matrix), which knows its whole shape. */
const MATRIX_SHAPE: Shape = object({ vars: null, evict_costs: null, sets: null });
const ROUTING_SHAPE: Shape = object({
  scheduler: object({ use: null, settings: object({ fifo: object({ priority: null }) }) }),
  router: object({ use: null, settings: object({ groups: map(GROUP_SHAPE), matrix: MATRIX_SHAPE }) }),
});

export const ROOT_SHAPE: Shape = object(
  {
    healthCheckTimeout: null,
    logLevel: null,
    logTimeFormat: null,
    logToStdout: null,
    startPort: null,
    macros: null,
    groups: map(GROUP_SHAPE),
    matrix: MATRIX_SHAPE,
    routing: ROUTING_SHAPE,
    hooks: object({ on_startup: object({ preload: null }, { unknownWarning: HOOKS_WARNING }) }, { unknownWarning: HOOKS_WARNING }),
    sendLoadingState: null,
    includeAliasesInList: null,
    globalTTL: null,
    unloadTimeout: null,
    apiKeys: null,
    models: map(MODEL_SHAPE),
    peers: map(PEER_SHAPE),
    profiles: map(PROFILE_SHAPE),
    selectors: map(SELECTOR_SHAPE),
    upstream: object({ ignorePaths: null }),
    store: object({ path: null }),
    metricsMaxInMemory: null,
    captureBuffer: null,
    cors: object({ origins: null }),
    maxUploadSize: null,
    trustedProxies: null,
    allowedHosts: null,
    shutdownTimeout: null,
    performance: object({ disabled: null, every: null }),
    sleepRequestTimeout: null,
    cudaCheckpoint: object({ path: null }),
    wakeRequestTimeout: null,
    resources: amounts,
    pluginDir: null,
    stateDir: null,
    logFormat: null,
    adminKeys: null,
    maxBodySize: null,
    cluster: object({ key: null, self: null, peers: null, dns: null, port: null, dnsRefresh: null, downAfter: null, heartbeat: null, connectTimeout: null }),
  },
  // logRequests: llama-swap HEAD no longer reads it (siesta logs one line per request anyway).
  // store and performance feed llama-swap's UI too, but llama-swap refuses bad values: checked, then dropped.
  { silent: ['logRequests', 'ui'] },
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
  /** Unknown and ignored keys, each with its path: never fatal (`--strict` makes them so). */
  readonly warnings: ConfigIssue[];
}

/** Walks `value` along `shape`, collecting warnings and building the pruned copy. */
export function checkKeys(value: unknown, shape: Shape = ROOT_SHAPE): KeyCheck {
  const warnings: ConfigIssue[] = [];
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
    const silent = nodeShape.silent ?? [];
    for (const [key, item] of Object.entries(node)) {
      const keyPath = formatPath([...path, key]);
      if (Object.hasOwn(nodeShape.keys, key)) {
        if (item === null) continue;
        const child = nodeShape.keys[key];
        out[key] = child ? walk(item, child, [...path, key]) : item;
      } else if (silent.includes(key)) {
        continue;
      } else if (Object.hasOwn(ignored, key)) {
        warnings.push({ path: keyPath, message: ignored[key] ?? UNKNOWN });
      } else {
        const candidates = [...Object.keys(nodeShape.keys), ...Object.keys(ignored)];
        warnings.push({ path: keyPath, message: `${nodeShape.unknownWarning ?? UNKNOWN}${didYouMean(key, candidates)}` });
      }
    }
    return out;
  };
  const pruned = walk(value, shape, []);
  return { pruned, warnings };
}

/**
 * Which target an `/upstream/<model...>/<rest>` path names, and the rules that refuse it: one
 * owner for plain requests (middleware/upstream.ts) and WebSocket upgrades
 * (middleware/upstream-upgrade.ts), so the two cannot drift apart. In order:
 *
 * 1. Malformed percent-encoding anywhere in the path: 400.
 * 2. The active profile's pins rewrite the longest pinned prefix (llama-swap applies them to
 *    /upstream paths too); an empty pin disables the name: 404.
 * 3. The longest path prefix that names a target wins (model ids may contain slashes:
 *    `Qwen/Qwen3-8B`): a local model (id or alias) before a peer's (`<peer>/<model>`, or a bare
 *    name one peer serves), as llama-swap's `ResolveBaseModel`. None: 404.
 * 4. `/upstream/<model>` without a trailing slash: a redirect (the caller answers it).
 * 5. Peers get the rest of the path as is: no lifecycle block, no ignorePaths (a peer never swaps
 *    here), as llama-swap's `handleUpstream`.
 * 6. A local model's lifecycle endpoints are refused (403): calling them directly would
 *    desynchronise siesta's view of the model (a vLLM put to sleep behind siesta's back would hang
 *    every request).
 * 7. `upstream.ignorePaths` (llama-swap's, internal/server/api.go `handleUpstream`): a decoded
 *    rest that matches one never loads, wakes or swaps the model: passed when the model is ready,
 *    409 otherwise (a browser page served by a model keeps fetching its assets after the model was
 *    unloaded, and those fetches must not bring it back).
 */
import type { ModelConfig, PeerConfig } from '../lib/config/types.js';
import { findPeerModel } from '../lib/config/routing.js';
import { GatewayError } from '../lib/errors.js';
import { pinUpstreamPath } from '../lib/gateway/name-routing.js';
import type { ModelDirectory } from '../lib/gateway/types.js';
import type { BackendPlugin } from '../lib/plugins/types.js';
import type { ModelState } from '../lib/process/states.js';

/** Paths that change a backend's sleep or load state, for every built-in backend and llama-server's router. */
export const LIFECYCLE_PATHS: readonly string[] = [
  '/sleep',
  '/wake_up',
  '/collective_rpc',
  '/release_memory_occupation',
  '/resume_memory_occupation',
  '/models/load',
  '/models/unload',
  '/reset_prefix_cache',
];

/**
 * A request path as a backend's router sees it, for the lifecycle check: percent-decoded (uvicorn,
 * under vLLM and SGLang, decodes before routing; decoded repeatedly, so `%2573leep` is caught too),
 * dot segments resolved, repeated slashes collapsed, no trailing slash, lower case (the check is
 * case-insensitive: refusing `/SLEEP` costs nothing). Null when the percent-encoding is malformed.
 */
export function normalizeUpstreamPath(path: string): string | null {
  let decoded = path.split('?')[0] ?? '';
  for (let round = 0; round < 4 && decoded.includes('%'); round += 1) {
    try {
      const next = decodeURIComponent(decoded);
      if (next === decoded) break;
      decoded = next;
    } catch {
      return null;
    }
  }
  const segments: string[] = [];
  for (const segment of decoded.replaceAll('\\', '/').split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') segments.pop();
    else segments.push(segment);
  }
  return ('/' + segments.join('/')).toLowerCase();
}

/** A recipe step's path, normalised like a request path. */
function stepPath(endpoint: string): string {
  return normalizeUpstreamPath(endpoint) ?? endpoint.toLowerCase();
}

/** LIFECYCLE_PATHS as the check compares them, normalised once. */
const FIXED_LIFECYCLE: readonly string[] = LIFECYCLE_PATHS.map(stepPath);

/**
 * Whether `path` (no query) is a lifecycle endpoint of `model`: the fixed list, its own
 * `sleepEndpoints`/`wakeEndpoints`, and `extra` (its plugin's recipe steps at every level).
 * Null when the path's percent-encoding is malformed (a 400).
 */
export function isLifecyclePath(path: string, model: ModelConfig, extra: readonly string[] = []): boolean | null {
  const normalised = normalizeUpstreamPath(path);
  if (normalised === null) return null;
  const own = [...(model.sleepEndpoints ?? []), ...(model.wakeEndpoints ?? [])].map((step) => stepPath(step.endpoint));
  const matches = (candidate: string): boolean => normalised === candidate || normalised.startsWith(candidate + '/');
  return FIXED_LIFECYCLE.some(matches) || own.some(matches) || extra.map(stepPath).some(matches);
}

/**
 * What happens to a request for `path` (decoded, no query) of a model in `state`: `pass` on to the
 * model (loading it if need be), or `refuse` (409) because the path is ignored and the model is
 * not ready. llama-swap matches each pattern anywhere in the path (Go's `MatchString`).
 */
export function ignoredPathDecision(path: string, patterns: readonly RegExp[], state: ModelState): 'pass' | 'refuse' {
  if (state === 'ready') return 'pass';
  return patterns.some((pattern) => pattern.test(path)) ? 'refuse' : 'pass';
}

/**
 * `recipePaths` for one configuration: every endpoint of each model's plugin sleep and wake
 * recipes, at every level (none for a model or backend it does not know). Computed once.
 */
export function recipePathsOf(
  models: Readonly<Record<string, { readonly backend: string }>>,
  plugins: { get(name: string): Pick<BackendPlugin, 'sleepLevels'> | undefined },
): (model: string) => readonly string[] {
  const paths = new Map<string, readonly string[]>();
  for (const [id, model] of Object.entries(models)) {
    const recipes = Object.values(plugins.get(model.backend)?.sleepLevels ?? {});
    paths.set(id, recipes.flatMap((recipe) => [...recipe.sleep, ...recipe.wake].map((step) => step.endpoint)));
  }
  return (model) => paths.get(model) ?? [];
}

function decodePath(path: string): string {
  try {
    return decodeURIComponent(path);
  } catch {
    return path;
  }
}

export interface UpstreamRouteOptions {
  readonly models: ModelDirectory & { state(id: string): ModelState };
  /** Each model's plugin recipe steps (every level), refused like the fixed lifecycle paths. */
  readonly recipePaths?: (model: string) => readonly string[];
  /** The active profile's pins; none by default. */
  readonly pins?: () => Readonly<Record<string, string>> | undefined;
  /** `upstream.ignorePaths` as regular expression sources (the config's `upstreamIgnorePaths`); default none. */
  readonly ignorePaths?: readonly string[];
  /** The configured peers (their models are reachable as `/upstream/<peer>/<model>/...`); default none. */
  readonly peers?: Readonly<Record<string, PeerConfig>>;
}

/** Where an /upstream path goes; `name` is the prefix that named the target (after pins), `rest` the path sent on. */
export type UpstreamRoute =
  | { readonly kind: 'redirect' }
  | { readonly kind: 'local'; readonly model: ModelConfig; readonly name: string; readonly rest: string }
  | { readonly kind: 'peer'; readonly peer: PeerConfig; readonly model: string; readonly name: string; readonly rest: string };

/**
 * The router for one configuration: `route(path)` takes the path relative to the mount point
 * (`/upstream/<model...>/<rest>`, no query) and returns where it goes, or throws the GatewayError
 * of the rule that refuses it.
 */
export function createUpstreamRouter(options: Readonly<UpstreamRouteOptions>): (path: string) => UpstreamRoute {
  const { models } = options;
  const ignorePaths = (options.ignorePaths ?? []).map((source) => new RegExp(source));
  const peers = options.peers ?? {};
  const findTarget = (name: string): { readonly kind: 'local'; readonly model: ModelConfig } | { readonly kind: 'peer'; readonly peer: PeerConfig; readonly model: string } | undefined => {
    const model = models.resolve(name);
    if (model) return { kind: 'local', model };
    const found = findPeerModel(peers, name);
    const peer = found ? peers[found.peer] : undefined;
    return found && peer ? { kind: 'peer', peer, model: found.model } : undefined;
  };
  return function routeUpstream(path) {
    if (normalizeUpstreamPath(path) === null) throw new GatewayError('bad_request', `The path ${path} has malformed percent-encoding`);
    let modelPath = path.replace(/^\/upstream\/?/, '');
    const pins = options.pins?.();
    const pinned = pins ? pinUpstreamPath(decodePath(modelPath), pins) : null;
    if (pinned) {
      if (pinned.target === '') throw new GatewayError('model_not_found', `Model "${pinned.pin}" is disabled by the active profile`);
      modelPath = pinned.path.split('/').map(encodeURIComponent).join('/');
    }
    const segments = modelPath.split('/');
    for (let count = segments.length; count > 0; count -= 1) {
      const name = decodeURIComponent(segments.slice(0, count).join('/'));
      const target = findTarget(name);
      if (!target) continue;
      const rest = '/' + segments.slice(count).join('/');
      if (rest === '/' && !path.endsWith('/')) return { kind: 'redirect' };
      if (target.kind === 'peer') return { kind: 'peer', peer: target.peer, model: target.model, name, rest };
      const { model } = target;
      if (isLifecyclePath(rest, model, options.recipePaths?.(model.id) ?? [])) {
        throw new GatewayError('forbidden_path', `${rest} changes the model's sleep or load state and is managed by siesta; use POST /api/models/${model.id}/sleep|wake|unload instead`);
      }
      if (ignorePaths.length > 0 && ignoredPathDecision(decodePath(rest), ignorePaths, models.state(model.id)) === 'refuse') {
        // llama-swap's message; 409 as there.
        throw new GatewayError('invalid_state', `model ${model.id} is not loaded; path matches upstream.ignorePaths`);
      }
      return { kind: 'local', model, name, rest };
    }
    throw new GatewayError('model_not_found', `No configured model matches ${path}`);
  };
}

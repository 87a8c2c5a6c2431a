/**
 * `ANY /upstream/:model/*`: raw passthrough to a model's server (loads it first). Model ids may
 * contain slashes (`Qwen/Qwen3-8B`), so the longest path prefix that names a model wins. The
 * backend's lifecycle endpoints are refused: calling them directly would desynchronise siesta's
 * view of the model (a vLLM put to sleep behind siesta's back would hang every request).
 *
 * `upstream.ignorePaths` (llama-swap's, default: static assets such as `.js`, `.css`, `.png`): a
 * path after the model that matches one never loads, wakes or swaps the model. As in llama-swap
 * (internal/server/api.go, `handleUpstream`) such a request is passed through when the model is
 * ready and refused with 409 otherwise: a browser page served by a model keeps fetching its
 * assets after the model was unloaded, and those fetches must not bring it back.
 *
 * Redirects, as llama-swap's `handleUpstream` and `handleUpstreamRedirect`:
 * - `/upstream/<model>` without a trailing slash goes to `/upstream/<model>/` (query kept) so that
 *   relative URLs in the model's pages resolve: 301 for GET and HEAD, 308 otherwise (keeps the
 *   method and body). An unknown model is 404 first.
 * - `GET /upstream` goes (302) to the page that lists the models: llama-swap's `/ui/models`,
 *   siesta's status page at the gateway's root.
 *
 * Peers: a name that is no local model but a peer's (`<peer>/<model>`, or a bare name only one
 * peer serves) is forwarded to the peer with the rest of the path, as llama-swap's
 * `s.peer.ServeHTTP`: no filters; a JSON body whose `model` is the requested name carries the
 * peer's model id instead (llama-swap's `ReplaceRequestModel`). Local models win over peers.
 */
import type { Request, RequestHandler, Response } from 'express';
import type { ModelConfig, PeerConfig } from '../lib/config/types.js';
import { findPeerModel } from '../lib/config/routing.js';
import { GatewayError } from '../lib/errors.js';
import { setPeerRequestContext, setRequestContext, type ModelDirectory } from '../lib/gateway/types.js';
import type { ModelState } from '../lib/process/states.js';
import type { BackendPlugin } from '../lib/plugins/types.js';
import { rawBody } from './resolve-model.js';
import { pinUpstreamPath } from '../lib/gateway/name-routing.js';

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

/** LIFECYCLE_PATHS as the check compares them, normalised once. */
const FIXED_LIFECYCLE: readonly string[] = LIFECYCLE_PATHS.map(stepPath);

/**
 * What happens to a request for `path` (decoded, no query) of a model in `state`: `pass` on to the
 * model (loading it if need be), or `refuse` (409) because the path is ignored and the model is
 * not ready. llama-swap matches each pattern anywhere in the path (Go's `MatchString`).
 */
export function ignoredPathDecision(path: string, patterns: readonly RegExp[], state: ModelState): 'pass' | 'refuse' {
  if (state === 'ready') return 'pass';
  return patterns.some((pattern) => pattern.test(path)) ? 'refuse' : 'pass';
}

function decodePath(path: string): string {
  try {
    return decodeURIComponent(path);
  } catch {
    return path;
  }
}

export interface UpstreamOptions {
  readonly models: ModelDirectory & { state(id: string): ModelState };
  /** Each model's plugin recipe steps (every level), refused like the fixed lifecycle paths. */
  readonly recipePaths?: (model: string) => readonly string[];
  /** The active profile's pins (llama-swap applies them to /upstream paths too); none by default. */
  readonly pins?: () => Readonly<Record<string, string>> | undefined;
  /** `upstream.ignorePaths` as regular expression sources (the config's `upstreamIgnorePaths`); default none. */
  readonly ignorePaths?: readonly string[];
  /** The configured peers (their models are reachable as `/upstream/<peer>/<model>/...`); default none. */
  readonly peers?: Readonly<Record<string, PeerConfig>>;
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

/**
 * Where `/upstream/<model>` (no trailing slash) is sent, from the URL the client asked for (so a
 * mount prefix stays): 301 for GET and HEAD, 308 for any other method.
 */
export function trailingSlashRedirect(method: string, originalUrl: string): { readonly status: 301 | 308; readonly location: string } {
  const queryStart = originalUrl.indexOf('?');
  const path = queryStart >= 0 ? originalUrl.slice(0, queryStart) : originalUrl;
  const query = queryStart >= 0 ? originalUrl.slice(queryStart) : '';
  return { status: method === 'GET' || method === 'HEAD' ? 301 : 308, location: `${path}/${query === '?' ? '' : query}` };
}

/** `GET /upstream`: llama-swap sends its UI's model list (`/ui/models`, 302); siesta's is the status page. */
export function upstreamIndexRedirect(req: Request, res: Response): void {
  res.redirect(302, `${req.baseUrl}/`);
}

/** A JSON body naming `requested` as its model names `peerModel` instead; anything else is forwarded as is. */
export function peerUpstreamBody(body: Buffer | undefined, contentType: string, requested: string, peerModel: string): Buffer | undefined {
  if (!body || body.length === 0 || requested === peerModel || !/application\/json/i.test(contentType)) return body;
  try {
    const parsed: unknown = JSON.parse(body.toString('utf8'));
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return body;
    if ((parsed as Record<string, unknown>)['model'] !== requested) return body;
    return Buffer.from(JSON.stringify({ ...parsed, model: peerModel }));
  } catch {
    return body;
  }
}

export function createUpstreamMiddleware(options: Readonly<UpstreamOptions>): RequestHandler {
  const { models } = options;
  const ignorePaths = (options.ignorePaths ?? []).map((source) => new RegExp(source));
  const peers = options.peers ?? {};
  // A local model (id or alias) before a peer's, as llama-swap's ResolveBaseModel.
  const resolveTarget = (name: string): { readonly kind: 'local'; readonly model: ModelConfig } | { readonly kind: 'peer'; readonly peer: PeerConfig; readonly model: string } | undefined => {
    const model = models.resolve(name);
    if (model) return { kind: 'local', model };
    const found = findPeerModel(peers, name);
    const peer = found ? peers[found.peer] : undefined;
    return found && peer ? { kind: 'peer', peer, model: found.model } : undefined;
  };
  return function upstreamMiddleware(req, res, next) {
    // req.url is relative to the mount point: /upstream/<model...>/<rest>?query
    const queryStart = req.url.indexOf('?');
    const pathPart = queryStart >= 0 ? req.url.slice(0, queryStart) : req.url;
    const query = queryStart >= 0 ? req.url.slice(queryStart) : '';
    if (normalizeUpstreamPath(pathPart) === null) return next(new GatewayError('bad_request', `The path ${pathPart} has malformed percent-encoding`));
    let modelPath = pathPart.replace(/^\/upstream\/?/, '');
    const pins = options.pins?.();
    const pinned = pins ? pinUpstreamPath(decodePath(modelPath), pins) : null;
    if (pinned) {
      if (pinned.target === '') return next(new GatewayError('model_not_found', `Model "${pinned.pin}" is disabled by the active profile`));
      modelPath = pinned.path.split('/').map(encodeURIComponent).join('/');
    }
    const segments = modelPath.split('/');
    for (let count = segments.length; count > 0; count--) {
      const name = decodeURIComponent(segments.slice(0, count).join('/'));
      const target = resolveTarget(name);
      if (!target) continue;
      const rest = '/' + segments.slice(count).join('/');
      if (rest === '/' && !pathPart.endsWith('/')) {
        const redirect = trailingSlashRedirect(req.method, req.originalUrl);
        return res.redirect(redirect.status, redirect.location);
      }
      if (target.kind === 'peer') {
        req.url = rest + query;
        setPeerRequestContext(res, { peer: target.peer, model: target.model, body: peerUpstreamBody(rawBody(req), req.get('content-type') ?? '', name, target.model) });
        return next();
      }
      const { model } = target;
      if (isLifecyclePath(rest, model, options.recipePaths?.(model.id) ?? [])) {
        return next(new GatewayError('forbidden_path', `${rest} changes the model's sleep or load state and is managed by siesta; use POST /api/models/${model.id}/sleep|wake|unload instead`));
      }
      if (ignorePaths.length > 0 && ignoredPathDecision(decodePath(rest), ignorePaths, models.state(model.id)) === 'refuse') {
        // llama-swap's message; 409 as there.
        return next(new GatewayError('invalid_state', `model ${model.id} is not loaded; path matches upstream.ignorePaths`));
      }
      req.url = rest + query;
      setRequestContext(res, {
        model,
        requestedName: name,
        body: rawBody(req),
        stream: false,
      });
      return next();
    }
    next(new GatewayError('model_not_found', `No configured model matches ${pathPart}`));
  };
}

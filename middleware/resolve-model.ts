/**
 * Find the model a request is for (JSON body `model`, multipart field `model`, or `?model=`),
 * route the name (profile pins, selectors, ids and aliases, peers: `lib/gateway/name-routing.ts`),
 * and prepare the body to forward (the routed name, `useModelName`, `filters`).
 * Expects the raw body as a Buffer in `req.body` (express.raw), a multipart upload read up to its
 * model field by middleware/multipart.ts (`res.locals.siestaUpload`, forwarded as a stream with
 * the field rewritten on the fly), or no body at all (GET: `?model=`).
 * A peer's model gets `res.locals.siestaPeer` instead of the local request context.
 */
import type { Request, RequestHandler } from 'express';
import type { Filters, ModelConfig } from '../lib/config/types.js';
import { GatewayError } from '../lib/errors.js';
import type { Route } from '../lib/gateway/name-routing.js';
import { deletePath, setPath } from '../lib/gateway/json-path.js';
import { setPeerRequestContext, setRequestContext, type ModelDirectory, type StreamedBody } from '../lib/gateway/types.js';
import { findField, spliceBuffer, uploadOf, type FieldSpan, type Upload } from './multipart.js';
import { expectsBody } from '../lib/http/body-deadline.js';
import { onResponseClose } from '../lib/http/response-close.js';

/** Routes a requested name (the gateway's `NameRouter`); without one, names are ids and aliases only. */
export interface NameRouting {
  route(name: string): Route;
  release(route: Route): void;
}

export interface ResolveModelOptions {
  readonly models: ModelDirectory;
  readonly routing?: NameRouting;
}

/** The value of a multipart form field of a body already in memory (the first plain field of that name). */
export function multipartField(body: Buffer, contentType: string, field: string): string | undefined {
  return findField(body, contentType, field)?.value;
}

/**
 * llama-swap's filter order on a parsed JSON body: the model name (`useModelName` for a local
 * model, the peer's own id for a peer, else the routed name), `stripParams`, `setParams`, then
 * `setParamsByID[name]`, which may override setParams. Pure; returns a new object.
 */
export function applyFilters(body: Record<string, unknown>, filters: Filters, name: string, forwardName: string | null): Record<string, unknown> {
  // Keys are sjson paths in llama-swap (`chat_template_kwargs.enable_thinking`), applied in sorted order.
  let out: Record<string, unknown> = { ...body };
  if (forwardName !== null) out.model = forwardName;
  for (const key of filters.stripParams) {
    if (key !== 'model') out = deletePath(out, key);
  }
  const set = (params: Readonly<Record<string, unknown>>): void => {
    for (const key of Object.keys(params).sort()) out = setPath(out, key, params[key]);
  };
  set(filters.setParams);
  const byId = Object.hasOwn(filters.setParamsByID, name) ? filters.setParamsByID[name] : undefined;
  if (byId) set(byId);
  return out;
}

/** `applyFilters` for a local model asked for by `name` (an id or alias, after routing). */
export function rewriteBody(body: Record<string, unknown>, model: ModelConfig, name: string = model.id, requested: string = name): Record<string, unknown> {
  const forwardName = model.useModelName ?? (name !== requested ? name : null);
  return applyFilters(body, model.filters, name, forwardName);
}

/** The raw body read by express.raw, or undefined when there is none (no body, or an empty one). */
export function rawBody(req: Request): Buffer | undefined {
  return Buffer.isBuffer(req.body) && req.body.length > 0 ? req.body : undefined;
}

/**
 * The body a parser of the host app already read, re-serialised: an app that uses `express.json()`
 * or `express.urlencoded()` before mounting siesta leaves an object in `req.body` and the stream
 * consumed (express.raw then skips it), so the bytes to forward must be made again. Undefined when
 * `req.body` is no such object or the request declared no body.
 */
export function reserialisedBody(req: Request): Buffer | undefined {
  const body: unknown = req.body;
  if (body === null || typeof body !== 'object' || Buffer.isBuffer(body) || !expectsBody(req.headers)) return undefined;
  if (!isUrlEncoded(req)) return Buffer.from(JSON.stringify(body));
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(body as Record<string, unknown>)) {
    for (const item of Array.isArray(value) ? value : [value]) params.append(key, typeof item === 'string' ? item : JSON.stringify(item));
  }
  return Buffer.from(params.toString());
}

function needsFilters(filters: Filters, name: string): boolean {
  return filters.stripParams.length > 0 || Object.keys(filters.setParams).length > 0 || Object.hasOwn(filters.setParamsByID, name);
}

function isJson(req: Request): boolean {
  const type = req.headers['content-type'];
  return type === undefined || /\bjson\b/i.test(type);
}

function isUrlEncoded(req: Request): boolean {
  return /^\s*application\/x-www-form-urlencoded\b/i.test(req.headers['content-type'] ?? '');
}

/**
 * Where the request named its model, and what is needed to forward it under another name. As in
 * llama-swap (swaputil.extractContext) the Content-Type decides, not the route: a JSON body, a
 * multipart form (streamed: `upload`, or in memory: `form`), a urlencoded form; else `?model=`.
 */
type Source =
  | { readonly kind: 'json'; readonly parsed: Record<string, unknown> }
  | { readonly kind: 'upload'; readonly upload: Upload }
  | { readonly kind: 'form'; readonly raw: Buffer; readonly span: FieldSpan | undefined }
  | { readonly kind: 'urlencoded'; readonly raw: Buffer; readonly params: URLSearchParams }
  | { readonly kind: 'query'; readonly raw: Buffer | undefined };

/** The body to forward when the upstream must see `name` instead of the client's (null: unchanged). Not for JSON. */
function renamedBody(source: Exclude<Source, { kind: 'json' }>, name: string | null): Buffer | StreamedBody | undefined {
  switch (source.kind) {
    case 'upload':
      return source.upload.body(name ?? undefined);
    case 'form':
      return source.span && name !== null && name !== source.span.value ? spliceBuffer(source.raw, source.span.start, source.span.end, Buffer.from(name, 'utf8')) : source.raw;
    case 'urlencoded': {
      if (name === null) return source.raw;
      const params = new URLSearchParams(source.params);
      params.set('model', name);
      return Buffer.from(params.toString());
    }
    case 'query':
      return source.raw;
  }
}

/** `?model=` replaced by `name` in a request URL (llama-swap's ReplaceRequestModel for GET). */
export function replaceQueryModel(url: string, name: string): string {
  const at = url.indexOf('?');
  const params = new URLSearchParams(at < 0 ? '' : url.slice(at + 1));
  params.set('model', name);
  return `${at < 0 ? url : url.slice(0, at)}?${params.toString()}`;
}

export function createResolveModelMiddleware(options: Readonly<ResolveModelOptions>): RequestHandler {
  const { models, routing } = options;
  return function resolveModelMiddleware(req, res, next) {
    let raw = rawBody(req);
    if (raw === undefined && (raw = reserialisedBody(req)) !== undefined) {
      // The host's parser decoded it: the bytes forwarded are plain, whatever the client sent.
      delete req.headers['content-encoding'];
    }
    const contentType = req.headers['content-type'] ?? '';
    const upload = uploadOf(res);
    let source: Source = { kind: 'query', raw };
    let name: unknown;
    if (upload) {
      source = { kind: 'upload', upload };
      name = upload.model;
    } else if (raw && /multipart\/form-data/i.test(contentType)) {
      const span = findField(raw, contentType, 'model');
      source = { kind: 'form', raw, span };
      name = span?.value;
    } else if (raw && isUrlEncoded(req)) {
      const params = new URLSearchParams(raw.toString('utf8'));
      source = { kind: 'urlencoded', raw, params };
      name = params.get('model') ?? undefined;
    } else if (raw && isJson(req)) {
      let value: unknown;
      try {
        value = JSON.parse(raw.toString('utf8'));
      } catch (error) {
        return next(new GatewayError('bad_json', `Request body is not valid JSON: ${(error as Error).message}`, { cause: error }));
      }
      if (typeof value !== 'object' || value === null || Array.isArray(value)) {
        return next(new GatewayError('bad_request', 'Request body must be a JSON object'));
      }
      source = { kind: 'json', parsed: value as Record<string, unknown> };
      name = source.parsed.model;
    }
    // No name in the body: `?model=` (llama-swap's FormValue reads the query too); a rename then goes there.
    const fromQuery = name === undefined || name === '';
    if (fromQuery) name = typeof req.query.model === 'string' ? req.query.model : undefined;
    const parsed = source.kind === 'json' ? source.parsed : undefined;
    if (typeof name !== 'string' || name === '') return next(new GatewayError('missing_model'));
    const requested = name;
    /**
     * The body to forward when the upstream must see `bodyName` (null: the client's) in the body;
     * a name that came from the query is replaced there by `queryName`. JSON: `filters` when `rewrite`.
     */
    const forwardBody = (bodyName: string | null, queryName: string | null, filters: (body: Record<string, unknown>) => Record<string, unknown>, rewrite: boolean): Buffer | StreamedBody | undefined => {
      if (fromQuery && queryName !== null && queryName !== requested) req.url = replaceQueryModel(req.url, queryName);
      if (source.kind === 'json') return rewrite ? Buffer.from(JSON.stringify(filters(source.parsed))) : raw;
      return renamedBody(source, fromQuery ? null : bodyName);
    };
    if (!routing) {
      const model = models.resolve(requested);
      if (!model) return next(new GatewayError('model_not_found', `Model "${requested}" is not configured`));
      return local(model, requested);
    }
    const route = routing.route(requested);
    switch (route.kind) {
      case 'unknown':
        return next(new GatewayError('model_not_found', route.name === requested ? `Model "${requested}" is not configured` : `Model "${requested}" routes to "${route.name}", which is not configured`));
      case 'disabled':
        return next(new GatewayError('model_not_found', `Model "${requested}" is disabled by the active profile "${route.profile}"`));
      case 'unavailable':
        return next(new GatewayError('no_target', route.message));
      case 'local':
      case 'peer':
        if (route.selector !== undefined) onResponseClose(res, () => routing.release(route));
        if (route.kind === 'local') return local(route.model, route.name);
        setPeerRequestContext(res, {
          peer: route.peer,
          model: route.model,
          body: forwardBody(route.model, route.model, (body) => applyFilters(body, route.peer.filters, route.name, route.model), true),
        });
        return next();
    }

    function local(model: ModelConfig, routed: string): void {
      const renamed = routed !== requested ? routed : null;
      // useModelName applies to JSON and multipart bodies (llama-swap's filter and form-filter
      // middleware); a urlencoded form or the query only carries routing renames (ReplaceRequestModel).
      const bodyName = source.kind === 'urlencoded' ? renamed : (model.useModelName ?? renamed);
      const rewrite = model.useModelName !== null || renamed !== null || needsFilters(model.filters, routed);
      setRequestContext(res, {
        model,
        requestedName: routed,
        body: forwardBody(bodyName, renamed, (body) => rewriteBody(body, model, routed, requested), rewrite),
        stream: parsed?.stream === true || (req.method === 'GET' && req.query.stream === 'true'),
      });
      next();
    }
  };
}

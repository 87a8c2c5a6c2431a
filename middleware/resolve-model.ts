/**
 * Find the model a request is for (JSON body `model`, multipart field `model`, or `?model=`),
 * route the name (profile pins, selectors, ids and aliases, peers: `lib/gateway/name-routing.ts`),
 * and prepare the body to forward (the routed name, `useModelName`, `filters`).
 * Expects the raw body as a Buffer in `req.body` (express.raw) or no body at all.
 * A peer's model gets `res.locals.siestaPeer` instead of the local request context.
 */
import type { Request, RequestHandler } from 'express';
import type { Filters, ModelConfig } from '../lib/config/types.js';
import { GatewayError } from '../lib/errors.js';
import type { Route } from '../lib/gateway/name-routing.js';
import { setPeerRequestContext, setRequestContext, type ModelDirectory } from '../lib/gateway/types.js';

/** Routes a requested name (the gateway's `NameRouter`); without one, names are ids and aliases only. */
export interface NameRouting {
  route(name: string): Route;
  release(route: Route): void;
}

export interface ResolveModelOptions {
  readonly models: ModelDirectory;
  readonly routing?: NameRouting;
}

/** The value of a multipart form field, found without buffering a parser (the body is already in memory). */
export function multipartField(body: Buffer, contentType: string, field: string): string | undefined {
  const boundary = /boundary=(?:"([^"]+)"|([^;]+))/i.exec(contentType);
  const marker = boundary?.[1] ?? boundary?.[2];
  if (!marker) return undefined;
  const text = body.toString('latin1');
  for (const part of text.split(`--${marker}`)) {
    const headerEnd = part.indexOf('\r\n\r\n');
    if (headerEnd < 0) continue;
    const headers = part.slice(0, headerEnd);
    if (!new RegExp(`content-disposition:[^\\r\\n]*\\bname="${field}"`, 'i').test(headers)) continue;
    return Buffer.from(part.slice(headerEnd + 4).replace(/\r\n$/, ''), 'latin1').toString('utf8');
  }
  return undefined;
}

/**
 * llama-swap's filter order on a parsed JSON body: the model name (`useModelName` for a local
 * model, the peer's own id for a peer, else the routed name), `stripParams`, `setParams`, then
 * `setParamsByID[name]`, which may override setParams. Pure; returns a new object.
 */
export function applyFilters(body: Record<string, unknown>, filters: Filters, name: string, forwardName: string | null): Record<string, unknown> {
  const out: Record<string, unknown> = { ...body };
  if (forwardName !== null) out.model = forwardName;
  for (const key of filters.stripParams) {
    if (key !== 'model') delete out[key];
  }
  Object.assign(out, filters.setParams);
  const byId = Object.hasOwn(filters.setParamsByID, name) ? filters.setParamsByID[name] : undefined;
  if (byId) Object.assign(out, byId);
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

function needsFilters(filters: Filters, name: string): boolean {
  return filters.stripParams.length > 0 || Object.keys(filters.setParams).length > 0 || Object.hasOwn(filters.setParamsByID, name);
}

function isJson(req: Request): boolean {
  const type = req.headers['content-type'];
  return type === undefined || /\bjson\b/i.test(type);
}

export function createResolveModelMiddleware(options: Readonly<ResolveModelOptions>): RequestHandler {
  const { models, routing } = options;
  return function resolveModelMiddleware(req, res, next) {
    const raw = rawBody(req);
    let parsed: Record<string, unknown> | undefined;
    let name: unknown;
    const contentType = req.headers['content-type'] ?? '';
    if (raw && /multipart\/form-data/i.test(contentType)) {
      name = multipartField(raw, contentType, 'model');
    } else if (raw && isJson(req)) {
      try {
        const value: unknown = JSON.parse(raw.toString('utf8'));
        if (typeof value !== 'object' || value === null || Array.isArray(value)) {
          return next(new GatewayError('bad_request', 'Request body must be a JSON object'));
        }
        parsed = value as Record<string, unknown>;
      } catch (error) {
        return next(new GatewayError('bad_json', `Request body is not valid JSON: ${(error as Error).message}`, { cause: error }));
      }
      name = parsed.model;
    }
    if (name === undefined || name === '') name = typeof req.query.model === 'string' ? req.query.model : undefined;
    if (typeof name !== 'string' || name === '') return next(new GatewayError('missing_model'));
    if (!routing) {
      const model = models.resolve(name);
      if (!model) return next(new GatewayError('model_not_found', `Model "${name}" is not configured`));
      return local(model, name, name);
    }
    const route = routing.route(name);
    switch (route.kind) {
      case 'unknown':
        return next(new GatewayError('model_not_found', route.name === name ? `Model "${name}" is not configured` : `Model "${name}" routes to "${route.name}", which is not configured`));
      case 'disabled':
        return next(new GatewayError('model_not_found', `Model "${name}" is disabled by the active profile "${route.profile}"`));
      case 'unavailable':
        return next(new GatewayError('no_target', route.message));
      case 'local':
      case 'peer':
        if (route.selector !== undefined) res.once('close', () => routing.release(route));
        if (route.kind === 'local') return local(route.model, route.name, name);
        setPeerRequestContext(res, {
          peer: route.peer,
          model: route.model,
          body: parsed ? Buffer.from(JSON.stringify(applyFilters(parsed, route.peer.filters, route.name, route.model))) : raw,
        });
        return next();
    }

    function local(model: ModelConfig, routed: string, requested: string): void {
      const rewrite = parsed && (model.useModelName !== null || routed !== requested || needsFilters(model.filters, routed));
      setRequestContext(res, {
        model,
        requestedName: routed,
        body: parsed && rewrite ? Buffer.from(JSON.stringify(rewriteBody(parsed, model, routed, requested))) : raw,
        stream: parsed?.stream === true,
        loadingStreamOpen: false,
      });
      next();
    }
  };
}

/**
 * `ANY /upstream/:model/*`: raw passthrough to a model's server (loads it first). Which model or
 * peer the path names, and the rules that refuse it (pins, the longest prefix, lifecycle paths,
 * `upstream.ignorePaths`), are middleware/upstream-route.ts's, shared with WebSocket upgrades;
 * this file answers HTTP requests with them.
 *
 * Redirects, as llama-swap's `handleUpstream` and `handleUpstreamRedirect`:
 * - `/upstream/<model>` without a trailing slash goes to `/upstream/<model>/` (query kept) so that
 *   relative URLs in the model's pages resolve: 301 for GET and HEAD, 308 otherwise (keeps the
 *   method and body). An unknown model is 404 first.
 * - `GET /upstream` goes (302) to the page that lists the models: llama-swap's `/ui/models`,
 *   siesta's status page at the gateway's root.
 *
 * Peers: a name that is no local model but a peer's is forwarded to the peer with the rest of the
 * path, as llama-swap's `s.peer.ServeHTTP`: no filters; a JSON body whose `model` is the requested
 * name carries the peer's model id instead (llama-swap's `ReplaceRequestModel`).
 */
import type { Request, RequestHandler, Response } from 'express';
import { setPeerRequestContext, setRequestContext } from '../lib/gateway/types.js';
import { rawBody } from './resolve-model.js';
import { createUpstreamRouter, type UpstreamRouteOptions } from './upstream-route.js';

export type UpstreamOptions = UpstreamRouteOptions;
/** Where create-gateway.ts takes it from; it belongs to the routing rules. */

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
  const route = createUpstreamRouter(options);
  return function upstreamMiddleware(req, res, next) {
    // req.url is relative to the mount point: /upstream/<model...>/<rest>?query
    const queryStart = req.url.indexOf('?');
    const pathPart = queryStart >= 0 ? req.url.slice(0, queryStart) : req.url;
    const query = queryStart >= 0 ? req.url.slice(queryStart) : '';
    const target = route(pathPart);
    if (target.kind === 'redirect') {
      const redirect = trailingSlashRedirect(req.method, req.originalUrl);
      return res.redirect(redirect.status, redirect.location);
    }
    req.url = target.rest + query;
    if (target.kind === 'peer') {
      setPeerRequestContext(res, { peer: target.peer, model: target.model, body: peerUpstreamBody(rawBody(req), req.get('content-type') ?? '', target.name, target.model) });
    } else {
      setRequestContext(res, { model: target.model, requestedName: target.name, body: rawBody(req), stream: false });
    }
    next();
  };
}

/**
 * The model-dispatched routes: llama-swap's three tables (internal/server/server.go at 0bdb372:
 * `modelPostJSONRoutes`, `modelPostFormRoutes`, `modelGetRoutes`) as one table. Each entry says
 * how the request names its model and what path the upstream is sent.
 *
 * - `json`: the JSON body's `model` (a POST to any of these routes may also be a multipart or
 *   urlencoded form: llama-swap decides by Content-Type, not by table, and so does siesta);
 * - `form`: the multipart form's `model` field, wherever it sits in the form;
 * - `query`: `?model=` (GET).
 *
 * Upstream paths: `/v/...` loses its `/v` (llama-swap's `stripVersionPrefix`, issue #728) and
 * `/audioapi/...` loses `/audioapi` (`stripAudioAPIPrefix`); everything else goes as sent.
 */
import type { IncomingMessage } from 'node:http';
import express, { type RequestHandler } from 'express';
import { GatewayError } from '../errors.js';
import { isPlainDeclaredBody, readDeclaredBody } from '../http/read-declared-body.js';
import { createUploadMiddleware, multipartBoundary } from '../../middleware/multipart.js';

export type ModelSource = 'json' | 'form' | 'query';

export interface ModelRoute {
  readonly method: 'POST' | 'GET';
  readonly path: string;
  readonly source: ModelSource;
}

const post = (source: 'json' | 'form') => (path: string): ModelRoute => ({ method: 'POST', path, source });
const get = (path: string): ModelRoute => ({ method: 'GET', path, source: 'query' });

/** Every model-dispatched route, in llama-swap's order. */
export const MODEL_ROUTE_TABLE: readonly ModelRoute[] = [
  ...[
    '/v1/chat/completions',
    '/v1/responses',
    '/v1/completions',
    '/v1/messages',
    '/v1/messages/count_tokens',
    '/v1/embeddings',
    '/reranking',
    '/rerank',
    '/v1/rerank',
    '/v1/reranking',
    '/infill',
    '/completion',
    '/v1/audio/speech',
    '/v1/audio/voices',
    '/v1/images/generations',
    '/sdapi/v1/txt2img',
    '/sdapi/v1/img2img',
    // audio.cpp's generic task API, forwarded as /v1/tasks/run
    '/audioapi/v1/tasks/run',
    // versionless routes, forwarded without the /v
    '/v/chat/completions',
    '/v/responses',
    '/v/completions',
    '/v/messages',
    '/v/messages/count_tokens',
    '/v/embeddings',
    '/v/rerank',
    '/v/reranking',
  ].map(post('json')),
  ...['/v1/audio/transcriptions', '/v1/images/edits'].map(post('form')),
  ...['/v1/audio/voices', '/sdapi/v1/loras', '/props'].map(get),
];

/** The path the upstream is sent for a request path (no query): pure, tested as a table. */
export function upstreamPath(path: string): string {
  if (path.startsWith('/v/')) return path.slice('/v'.length);
  if (path.startsWith('/audioapi')) return path.slice('/audioapi'.length);
  return path;
}

/** Rewrites `req.url` to the upstream path (the query kept); `req.originalUrl` stays as sent, for the request log. */
export const rewriteUpstreamPath: RequestHandler = function rewriteUpstreamPath(req, _res, next) {
  const queryAt = req.url.indexOf('?');
  const path = queryAt < 0 ? req.url : req.url.slice(0, queryAt);
  const rewritten = upstreamPath(path);
  if (rewritten !== path) req.url = rewritten + (queryAt < 0 ? '' : req.url.slice(queryAt));
  next();
};

/** The steps a model route runs, in order (built once per configuration by the gateway). */
export interface ModelRouteSteps {
  readonly auth: RequestHandler;
  /** JSON and urlencoded bodies, buffered up to `maxBodyBytes` (multipart passes through unread). */
  readonly readBody: RequestHandler;
  /** Multipart bodies, read only until the model field (middleware/multipart.ts). */
  readonly readUpload: RequestHandler;
  readonly resolveModel: RequestHandler;
  /** Cluster routing (middleware/cluster-route.ts), when `cluster:` is configured. */
  readonly clusterRoute?: RequestHandler | undefined;
  readonly peerProxy: RequestHandler;
  readonly concurrencyLimit: RequestHandler;
  readonly makeReady: RequestHandler;
  readonly proxy: RequestHandler;
}

/** A declared `Content-Length` as a number, or undefined (none, or not a plain decimal). Pure. */
export function declaredLength(value: string | undefined): number | undefined {
  return value !== undefined && /^\d+$/.test(value) ? Number(value) : undefined;
}

/**
 * A buffered body reader: a plain body of declared length is read directly
 * (lib/http/read-declared-body.ts), any other through express.raw, with two fixes around it:
 *
 * - a declared `Content-Length` over `limit` is refused at once, and the connection closed.
 *   Trap: raw-body refuses such a length before reading too, but body-parser then reads the whole
 *   body off the socket before it hands on the 413, so a client that declared 10 GB was answered
 *   only after sending them;
 * - once body-parser has inflated a gzip, deflate or br body, the request no longer carries what
 *   its `Content-Encoding` says: the header is dropped, so the forwarder (which sets the length
 *   from the buffer) does not send plain bytes labelled gzip. A body that does not decode, or an
 *   encoding body-parser cannot read, fails in body-parser (400 `bad_encoding`, 415
 *   `unsupported_encoding`: lib/errors.ts).
 */
export function createRawBodyReader(options: Readonly<{ limit: number; type: (req: IncomingMessage) => boolean }>): RequestHandler {
  const { limit, type } = options;
  const raw = express.raw({ type, limit });
  return function readBody(req, res, next) {
    const declared = declaredLength(req.headers['content-length']);
    if (declared !== undefined && declared > limit && type(req)) {
      return next(new GatewayError('body_too_large', `Request body of ${declared} bytes is larger than maxBodySize (${limit} bytes)`, { headers: { connection: 'close' } }));
    }
    if (isPlainDeclaredBody(req, declared) && type(req)) {
      return readDeclaredBody(req, declared, (error, body) => {
        if (error) return next(error);
        req.body = body;
        next();
      });
    }
    raw(req, res, (error?: unknown) => {
      if (error) return next(error);
      if (Buffer.isBuffer(req.body) && req.headers['content-encoding'] !== undefined) delete req.headers['content-encoding'];
      next();
    });
  };
}

/**
 * The body readers of the model routes: JSON (and any other non-multipart body) buffered up to
 * `maxBodyBytes`; a multipart form left to the upload reader, capped by `maxUploadBytes`.
 */
export function bodyReaders(limits: Readonly<{ maxBodyBytes: number; maxUploadBytes: number; tmpDir?: string }>): Pick<ModelRouteSteps, 'readBody' | 'readUpload'> {
  return {
    readBody: createRawBodyReader({ type: (req) => multipartBoundary(req.headers['content-type']) === undefined, limit: limits.maxBodyBytes }),
    readUpload: createUploadMiddleware({ maxUploadBytes: limits.maxUploadBytes, ...(limits.tmpDir !== undefined ? { tmpDir: limits.tmpDir } : {}) }),
  };
}

/** The chain of one route: pure, so the exact list is asserted per method. */
export function modelRouteChain(route: ModelRoute, steps: Readonly<ModelRouteSteps>): RequestHandler[] {
  const body = route.method === 'GET' ? [] : [steps.readBody, steps.readUpload];
  const rewrite = upstreamPath(route.path) === route.path ? [] : [rewriteUpstreamPath];
  const cluster = steps.clusterRoute ? [steps.clusterRoute] : [];
  return [steps.auth, ...body, ...rewrite, steps.resolveModel, ...cluster, steps.peerProxy, steps.concurrencyLimit, steps.makeReady, steps.proxy];
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return value !== null && typeof value === 'object' && typeof (value as { then?: unknown }).then === 'function';
}

/**
 * A chain run as one handler: the router then matches and dispatches one layer per request, not
 * one per step. The rules are Express 5's route (router/lib/route.js, layer.js): a step that
 * throws or whose promise rejects passes that to `next`; `next(error)` leaves the chain with the
 * error, `next('route')` leaves it without, `next('router')` is passed on; an error handler (four
 * parameters) in the chain is skipped.
 */
export function composeChain(chain: readonly RequestHandler[]): RequestHandler {
  if (chain.length === 1) return chain[0]!;
  return function modelRoute(req, res, next) {
    let index = 0;
    const step = (error?: unknown): void => {
      if (error) return error === 'route' ? next() : next(error);
      const handler = chain[index++];
      if (handler === undefined) return next();
      if (handler.length > 3) return step();
      try {
        const result: unknown = handler(req, res, step);
        if (isThenable(result)) result.then(undefined, (rejection: unknown) => step(rejection));
      } catch (thrown) {
        step(thrown);
      }
    };
    step();
  };
}

/** What the gateway registers routes on (an Express router). */
export interface RouteRegistrar {
  post(path: string[], ...handlers: RequestHandler[]): unknown;
  get(path: string[], ...handlers: RequestHandler[]): unknown;
}

/**
 * Register every entry of the table with its chain, as one handler (`composeChain`). Entries with
 * the same chain share one registration (an array of paths), so a request walks a handful of
 * layers, not one per route.
 */
export function registerModelRoutes(router: RouteRegistrar, steps: Readonly<ModelRouteSteps>, table: readonly ModelRoute[] = MODEL_ROUTE_TABLE): void {
  const groups = new Map<string, { method: ModelRoute['method']; paths: string[]; chain: RequestHandler[] }>();
  for (const route of table) {
    const chain = modelRouteChain(route, steps);
    const key = `${route.method} ${upstreamPath(route.path) !== route.path}`;
    const group = groups.get(key);
    if (group) group.paths.push(route.path);
    else groups.set(key, { method: route.method, paths: [route.path], chain });
  }
  for (const { method, paths, chain } of groups.values()) {
    const handler = composeChain(chain);
    if (method === 'GET') router.get(paths, handler);
    else router.post(paths, handler);
  }
}

/**
 * CORS, as llama-swap (internal/server/auth.go `CreateCORSMiddleware`, mounted before the mux and
 * so before auth), plus `cors.origins` to restrict which origins get it.
 *
 * The rules (`corsDecision`, pure, tested as a table):
 * 1. `OPTIONS` is a preflight, answered here with 204 and never passed on (no auth: a browser does
 *    not send credentials on a preflight). An allowed origin gets llama-swap's headers: the allowed
 *    methods, the requested headers sanitised to HTTP tokens (or llama-swap's default list), and a
 *    max age of 86400 s. With the default `['*']` the origin is `*`, exactly as llama-swap; with a
 *    list it is the request's origin echoed, with `Vary: Origin`. A disallowed origin's preflight
 *    gets 204 without any allow header, which the browser reads as "no".
 * 2. Any other request with an allowed `Origin` gets `Access-Control-Allow-Origin` echoing it (and
 *    `Vary: Origin`) on its response, whatever the route and status, 401 included. llama-swap sets
 *    it only on the model list and leaves the rest to the model server (llama-server echoes the
 *    origin itself); siesta sets it for every response so that a browser client works with any
 *    backend and with siesta's own errors.
 * 3. A request from a disallowed origin gets no `Access-Control-*` header at all, whoever set it:
 *    the model list echoes every origin (as llama-swap's does) and model servers may send `*`, so
 *    those headers are removed when the response's head is written.
 * Requests without `Origin` are not CORS requests: nothing is added (except a preflight under
 * `['*']`, which llama-swap answers without looking at the origin).
 */
import type { RequestHandler, Response } from 'express';
import type { OutgoingHttpHeaders } from 'node:http';
import { originAllowed } from './origin.js';

export interface CorsOptions {
  /** Allowed origins (`cors.origins`); `['*']` allows every origin, llama-swap's behaviour. */
  readonly origins: readonly string[];
}

/** llama-swap's `Access-Control-Allow-Methods`. */
export const CORS_ALLOWED_METHODS = 'GET, POST, PUT, PATCH, DELETE, OPTIONS';
/** llama-swap's `Access-Control-Allow-Headers` when the preflight names none. */
export const CORS_DEFAULT_HEADERS = 'Content-Type, Authorization, Accept, X-Requested-With';
export const CORS_MAX_AGE_SECONDS = 86400;

export interface CorsRequest {
  readonly method: string;
  readonly origin: string | undefined;
  /** `Access-Control-Request-Headers` of a preflight. */
  readonly requestHeaders: string | undefined;
}

export type CorsDecision =
  /** Answer now with 204 and these headers. */
  | { readonly kind: 'preflight'; readonly headers: Readonly<Record<string, string>> }
  /** Pass on; the response carries these headers. */
  | { readonly kind: 'pass'; readonly headers: Readonly<Record<string, string>> }
  /** Pass on; the response must carry no `Access-Control-*` header (a disallowed origin). */
  | { readonly kind: 'strip'; readonly headers: Readonly<Record<string, string>> };

/** The HTTP token characters (RFC 9110 §5.6.2), as llama-swap's `isTokenChar`. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** llama-swap's `sanitizeAccessControlRequestHeaderValues`: keep the names that are HTTP tokens. */
export function sanitizeRequestHeaders(value: string): string {
  return value
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part !== '' && TOKEN.test(part))
    .join(', ');
}

/** Rules 1-3 of the header comment for one request. */
export function corsDecision(origins: readonly string[], request: CorsRequest): CorsDecision {
  const everyOrigin = origins.includes('*');
  const origin = request.origin === undefined || request.origin === '' ? undefined : request.origin;
  const allowed = origin !== undefined && originAllowed(origins, origin);
  // Under a list the answer depends on the origin, so caches must key on it.
  const vary: Record<string, string> = everyOrigin ? {} : { Vary: 'Origin' };
  if (request.method === 'OPTIONS') {
    if (!everyOrigin && !allowed) return { kind: 'preflight', headers: vary };
    const requested = request.requestHeaders ?? '';
    return {
      kind: 'preflight',
      headers: {
        'Access-Control-Allow-Origin': everyOrigin ? '*' : origin!,
        'Access-Control-Allow-Methods': CORS_ALLOWED_METHODS,
        'Access-Control-Allow-Headers': requested !== '' ? sanitizeRequestHeaders(requested) : CORS_DEFAULT_HEADERS,
        'Access-Control-Max-Age': String(CORS_MAX_AGE_SECONDS),
        ...vary,
      },
    };
  }
  if (origin === undefined) return { kind: 'pass', headers: vary };
  if (!allowed) return { kind: 'strip', headers: vary };
  return { kind: 'pass', headers: { 'Access-Control-Allow-Origin': origin, Vary: 'Origin' } };
}

function isCorsHeader(name: string): boolean {
  return name.toLowerCase().startsWith('access-control-');
}

/**
 * Remove every `Access-Control-*` header when the head is written: those set with `setHeader`
 * and those handed to `writeHead` (the proxy passes the model server's headers there). Express's
 * `send`/`json` and Node's implicit head (`end`, `flushHeaders`) all go through `writeHead`.
 * Trap: `writeHead` also takes a flat `[name, value, ...]` array; the pairs are filtered too.
 */
function stripCorsHeadersOnWrite(res: Response): void {
  const writeHead = res.writeHead.bind(res) as (...args: unknown[]) => Response;
  const filtered = (headers: unknown): unknown => {
    if (Array.isArray(headers)) {
      const out: unknown[] = [];
      for (let i = 0; i + 1 < headers.length; i += 2) {
        if (!isCorsHeader(String(headers[i]))) out.push(headers[i], headers[i + 1]);
      }
      return out;
    }
    if (headers && typeof headers === 'object') {
      return Object.fromEntries(Object.entries(headers as OutgoingHttpHeaders).filter(([name]) => !isCorsHeader(name)));
    }
    return headers;
  };
  res.writeHead = function writeHeadWithoutCors(...args: unknown[]) {
    for (const name of res.getHeaderNames()) if (isCorsHeader(name)) res.removeHeader(name);
    return writeHead(...args.map(filtered));
  } as Response['writeHead'];
}

export function createCorsMiddleware(options: Readonly<CorsOptions>): RequestHandler {
  if (options.origins.length === 0) {
    throw new Error('createCorsMiddleware: origins is empty; give ["*"] to allow every origin (llama-swap\'s behaviour) or the origins to allow, e.g. ["https://chat.example.com"]');
  }
  const origins = [...options.origins];
  const everyOrigin = origins.includes('*');
  return function corsMiddleware(req, res, next) {
    // Most requests (API clients, curl) carry no Origin: rule 1 without building a decision.
    const origin = req.headers.origin;
    if ((origin === undefined || origin === '') && req.method !== 'OPTIONS') {
      if (!everyOrigin) res.setHeader('Vary', 'Origin');
      next();
      return;
    }
    const decision = corsDecision(origins, {
      method: req.method,
      origin: req.get('origin'),
      requestHeaders: req.get('access-control-request-headers'),
    });
    if (decision.kind === 'strip') stripCorsHeadersOnWrite(res);
    res.set(decision.headers);
    if (decision.kind === 'preflight') {
      res.status(204).end();
      return;
    }
    next();
  };
}

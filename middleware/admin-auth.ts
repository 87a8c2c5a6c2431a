/**
 * Access to the admin API, the logs and the status page.
 *
 * - Keys: `adminKeys`, or `apiKeys` when no adminKeys are set; presented like API keys (Bearer,
 *   `x-api-key`, or the password of HTTP Basic). A 401 carries `WWW-Authenticate: Basic` so a
 *   browser asks for the key once (any user name) and then sends it with every request of the
 *   page, EventSource included (which cannot set headers itself).
 * - No key configured at all: open, but only to clients on this machine (loopback), which is what
 *   the default listen address gives anyway. A remote client gets 403 telling it to set adminKeys:
 *   a gateway put on 0.0.0.0 without keys must not let the network stop its models.
 */
import type { Request, RequestHandler } from 'express';
import { GatewayError } from '../lib/errors.js';
import { acceptsKey, presentedKey } from './auth.js';
import { originAllowed, originIsHost } from './origin.js';

export interface AdminAuthOptions {
  readonly adminKeys: readonly string[];
  readonly apiKeys: readonly string[];
  /** Host names besides the loopback ones under which keyless admin access is served (`allowedHosts`). */
  readonly allowedHosts?: readonly string[];
  /** Origins (e.g. `https://ops.example`, compared as CORS compares them: middleware/origin.ts) allowed to send state-changing admin requests besides the gateway's own. */
  readonly allowedOrigins?: readonly string[];
}

/** What the cross-site rule reads of a request. */
export interface AdminRequestFacts {
  readonly method: string;
  /** A GET that changes state (llama-swap's `GET /unload`). */
  readonly changesStateOnGet: boolean;
  readonly host: string | undefined;
  readonly origin: string | undefined;
  readonly secFetchSite: string | undefined;
  /** No key is configured: access rests on the client being local, so the Host must be local too. */
  readonly keyless: boolean;
}

export type AdminRequestVerdict = 'allow' | 'foreign-host' | 'cross-site';

const LOOPBACK_NAMES = /^(localhost|[a-z0-9-]+\.localhost|127\.\d+\.\d+\.\d+|\[?::1\]?|\[?::ffff:127\.\d+\.\d+\.\d+\]?)$/i;

/** The host name of a Host header (`[::1]:8080` → `[::1]`, `Example.org:80` → `example.org`). */
function hostName(host: string): string {
  const bracketed = /^(\[[^\]]*\])(?::\d+)?$/.exec(host);
  return (bracketed ? bracketed[1]! : host.replace(/:\d+$/, '')).toLowerCase();
}

/**
 * Two rules on top of the key check, pure so they are tested as a table:
 * - **DNS rebinding**: while no key is configured, admin access rests on the client being on this
 *   machine; a page on `rebind.evil.example` that resolves to 127.0.0.1 would pass that test, so
 *   the Host header must name this machine (loopback names) or one of `allowedHosts`.
 * - **Cross-site requests**: a request that changes state (any method but GET/HEAD/OPTIONS, and
 *   `GET /unload`) from a browser page of another site is refused: `Sec-Fetch-Site: cross-site`,
 *   or an `Origin` that is neither the gateway's own (same host as `Host`) nor an allowed origin
 *   (both compared as CORS compares origins: middleware/origin.ts).
 *   A form post with `Content-Type: text/plain` needs no preflight, so CORS alone would not stop it.
 */
export function adminRequestVerdict(facts: AdminRequestFacts, allowedHosts: readonly string[] = [], allowedOrigins: readonly string[] = []): AdminRequestVerdict {
  if (facts.keyless) {
    const name = facts.host === undefined ? '' : hostName(facts.host);
    if (!LOOPBACK_NAMES.test(name) && !allowedHosts.some((allowed) => allowed.toLowerCase() === name)) return 'foreign-host';
  }
  const changesState = facts.changesStateOnGet || !['GET', 'HEAD', 'OPTIONS'].includes(facts.method.toUpperCase());
  if (!changesState) return 'allow';
  if (facts.secFetchSite?.toLowerCase() === 'cross-site') return 'cross-site';
  if (facts.origin === undefined) return 'allow'; // not a browser, or a same-origin GET-like request
  if (facts.origin === 'null') return 'cross-site'; // sandboxed frames, file:// pages
  if (originAllowed(allowedOrigins.filter((allowed) => allowed !== '*'), facts.origin)) return 'allow';
  return originIsHost(facts.origin, facts.host) ? 'allow' : 'cross-site';
}

function factsOf(req: Request, keyless: boolean): AdminRequestFacts {
  return {
    method: req.method,
    changesStateOnGet: /^\/unload\/?$/.test(req.path),
    host: req.headers.host,
    origin: req.headers.origin,
    secFetchSite: typeof req.headers['sec-fetch-site'] === 'string' ? req.headers['sec-fetch-site'] : undefined,
    keyless,
  };
}

export type AdminAccess = 'allow' | 'unauthorized' | 'remote';

/** Loopback addresses, including IPv4 mapped into IPv6. */
export function isLoopback(address: string | undefined): boolean {
  if (!address) return false;
  const bare = address.startsWith('::ffff:') ? address.slice(7) : address;
  return bare === '::1' || /^127\.\d+\.\d+\.\d+$/.test(bare);
}

/** The access rule, pure so it is tested as a table. */
export function adminAccess(keys: readonly string[], presented: string | undefined, remoteAddress: string | undefined): AdminAccess {
  if (keys.length === 0) return isLoopback(remoteAddress) ? 'allow' : 'remote';
  return acceptsKey(keys, presented) ? 'allow' : 'unauthorized';
}

export const ADMIN_CHALLENGE = 'Basic realm="siesta admin", charset="UTF-8"';

export function createAdminAuthMiddleware(options: Readonly<AdminAuthOptions>): RequestHandler {
  const keys = options.adminKeys.length > 0 ? [...options.adminKeys] : [...options.apiKeys];
  const allowedHosts = options.allowedHosts ?? [];
  const allowedOrigins = options.allowedOrigins ?? [];
  return function adminAuthMiddleware(req, _res, next) {
    switch (adminRequestVerdict(factsOf(req, keys.length === 0), allowedHosts, allowedOrigins)) {
      case 'foreign-host':
        return next(new GatewayError('forbidden_host', `Host "${req.headers.host ?? ''}" is not this machine: without adminKeys the admin API, logs and status page answer only under a loopback name (localhost, 127.0.0.1, [::1]) or one listed in allowedHosts`));
      case 'cross-site':
        return next(new GatewayError('forbidden_origin', `A page of another site (Origin ${req.headers.origin ?? 'unknown'}) may not change the gateway's state; list it in cors.origins to allow it`));
      case 'allow':
        break;
    }
    switch (adminAccess(keys, presentedKey(req), req.socket.remoteAddress)) {
      case 'allow':
        return next();
      case 'remote':
        return next(new GatewayError('admin_remote'));
      case 'unauthorized':
        return next(new GatewayError('unauthorized', 'Invalid or missing admin key (adminKeys, or apiKeys when no adminKeys are set)', { headers: { 'WWW-Authenticate': ADMIN_CHALLENGE } }));
    }
  };
}

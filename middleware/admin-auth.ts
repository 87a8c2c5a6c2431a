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
import type { RequestHandler } from 'express';
import { GatewayError } from '../lib/errors.js';
import { acceptsKey, presentedKey } from './auth.js';

export interface AdminAuthOptions {
  readonly adminKeys: readonly string[];
  readonly apiKeys: readonly string[];
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
  return function adminAuthMiddleware(req, _res, next) {
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

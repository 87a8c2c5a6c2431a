/**
 * API keys: `Authorization: Bearer KEY`, `x-api-key: KEY`, or HTTP Basic with KEY as the password.
 * A 401 carries `WWW-Authenticate: Basic` as llama-swap's (internal/server/auth.go
 * `CreateAuthMiddleware`), with siesta's OpenAI-shaped error body.
 */
import type { Request, RequestHandler } from 'express';
import { timingSafeEqual } from 'node:crypto';
import { GatewayError } from '../lib/errors.js';

export interface AuthOptions {
  readonly keys: readonly string[];
}

/** The key a request presents, if any. */
export function presentedKey(req: Request): string | undefined {
  const header = req.headers.authorization;
  if (header) {
    const [scheme, value] = header.split(/\s+/, 2);
    if (scheme?.toLowerCase() === 'bearer' && value) return value;
    if (scheme?.toLowerCase() === 'basic' && value) {
      const decoded = Buffer.from(value, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      return colon >= 0 ? decoded.slice(colon + 1) : decoded;
    }
  }
  const apiKey = req.headers['x-api-key'];
  return typeof apiKey === 'string' && apiKey ? apiKey : undefined;
}

/** Constant-time comparison of a presented key with a configured one. */
export function keyMatches(presented: string, key: string): boolean {
  const a = Buffer.from(presented);
  const b = Buffer.from(key);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Whether `presented` is one of `keys` (each compared in constant time). */
export function acceptsKey(keys: readonly string[], presented: string | undefined): boolean {
  return presented !== undefined && keys.some((key) => keyMatches(presented, key));
}

/** llama-swap's challenge (`Basic realm="llama-swap"`), with siesta's name as the realm. */
export const API_CHALLENGE = 'Basic realm="siesta", charset="UTF-8"';

export function createAuthMiddleware(options: Readonly<AuthOptions>): RequestHandler {
  const keys = [...options.keys];
  return function authMiddleware(req, _res, next) {
    if (keys.length === 0) return next();
    if (acceptsKey(keys, presentedKey(req))) return next();
    next(new GatewayError('unauthorized', undefined, { headers: { 'WWW-Authenticate': API_CHALLENGE } }));
  };
}

/**
 * The header rules of forwarding (issue 11): which of a message's headers go on to the next hop,
 * and the `X-Forwarded-*` headers siesta adds. Pure functions, tested as tables; used by the
 * forwarder (middleware/proxy.ts), WebSocket upgrades (middleware/upstream-upgrade.ts) and the
 * cluster's forwarding (lib/cluster/forward.ts).
 */
import type { IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders } from 'node:http';

/**
 * Headers that describe one hop, not the message (RFC 9110 §7.6.1), plus the ones the forwarder
 * sets itself. A client's `Connection: close` passed over a pooled keep-alive socket would make
 * the upstream refuse the next request on that socket. `Expect: 100-continue` is answered by this
 * hop (the body has already arrived); the `X-Forwarded-*` headers are set by `forwardedHeaders`.
 */
export const HOP_BY_HOP: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authorization',
  'transfer-encoding',
  'upgrade',
  'te',
  'trailer',
  'host',
  'content-length',
  'expect',
  'x-forwarded-for',
  'x-forwarded-proto',
  'x-forwarded-host',
]);

/** Header names a `Connection:` header lists: hop-by-hop too (RFC 9110 §7.6.1). */
function connectionListed(value: string | string[] | undefined): Set<string> {
  const text = Array.isArray(value) ? value.join(',') : (value ?? '');
  return new Set(text.split(',').map((name) => name.trim().toLowerCase()).filter((name) => name !== ''));
}

/** The headers to send on: pure, tested as a table. */
export function forwardHeaders(headers: IncomingHttpHeaders, hop: ReadonlySet<string> = HOP_BY_HOP): OutgoingHttpHeaders {
  const connection = headers.connection;
  // The usual `Connection: keep-alive` (or `close`) lists one name: compared directly, no Set per request.
  const single = typeof connection === 'string' && !connection.includes(',') ? connection.trim().toLowerCase() : null;
  const listed = connection === undefined || single !== null ? null : connectionListed(connection);
  const out: OutgoingHttpHeaders = {};
  for (const name in headers) {
    const value = headers[name];
    if (value !== undefined && !hop.has(name) && name !== single && !listed?.has(name)) out[name] = value;
  }
  return out;
}

/** `forwardedHeaders` for a client request, its peer checked against `trusted`. */
export function forwardedHeadersFor(req: IncomingMessage, trusted: (address: string) => boolean): Record<string, string> {
  const remoteAddress = req.socket.remoteAddress;
  return forwardedHeaders({
    headers: req.headers,
    remoteAddress,
    encrypted: 'encrypted' in req.socket && req.socket.encrypted === true,
    trusted: remoteAddress !== undefined && trusted(remoteAddress),
  });
}

/** What the forwarded headers are made from: the client connection and whether its peer is a trusted proxy. */
export interface ClientHop {
  readonly headers: IncomingHttpHeaders;
  /** The direct peer's address (`req.socket.remoteAddress`). */
  readonly remoteAddress: string | undefined;
  /** The client connection is TLS. */
  readonly encrypted: boolean;
  /** Whether the direct peer is one of `trustedProxies`: only then are its `X-Forwarded-*` values kept. */
  readonly trusted: boolean;
}

/**
 * `X-Forwarded-For`, `-Proto` and `-Host` for the upstream. A client's own values are kept (and
 * the peer appended) only when the peer is a configured trusted proxy; otherwise they are
 * replaced, so a client cannot make the model server believe it comes from elsewhere. Pure.
 */
export function forwardedHeaders(hop: ClientHop): Record<string, string> {
  const first = (value: string | string[] | undefined): string | undefined => (Array.isArray(value) ? value.join(', ') : value);
  const peer = (hop.remoteAddress ?? '').replace(/^::ffff:/, '');
  const priorFor = hop.trusted ? first(hop.headers['x-forwarded-for']) : undefined;
  const out: Record<string, string> = {
    'x-forwarded-for': priorFor ? `${priorFor}, ${peer}` : peer,
    'x-forwarded-proto': (hop.trusted ? first(hop.headers['x-forwarded-proto']) : undefined) ?? (hop.encrypted ? 'https' : 'http'),
  };
  const host = (hop.trusted ? first(hop.headers['x-forwarded-host']) : undefined) ?? first(hop.headers.host);
  if (host !== undefined) out['x-forwarded-host'] = host;
  return out;
}

/** Response headers that describe the upstream's hop; Node sets its own framing towards the client. */
export const RESPONSE_HOP_BY_HOP: ReadonlySet<string> = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'trailer']);

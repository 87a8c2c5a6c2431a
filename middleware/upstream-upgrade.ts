/**
 * WebSocket (and any other `Upgrade:`) requests through `/upstream/<model>/<path>`, such as
 * ComfyUI's `/ws`: Express never sees them (node emits `upgrade` on the server instead), so the
 * server hands them here (`gateway.handleUpgrade`; the CLI wires it, an embedder adds one line).
 *
 * The same rules as a plain `/upstream` request, from the same owner (middleware/upstream-route.ts):
 * the API key, the active profile's pins, the longest path prefix that names a local model or a
 * peer's, the trailing-slash redirect, lifecycle paths refused, `upstream.ignorePaths` matched
 * against the decoded path. A local model is loaded first and holds a lease while the connection
 * is open (it counts as in flight, so it is not evicted under it), unless the model has
 * llama-swap's `compat.ignoreWebsockets`: then the connection neither loads the model nor counts
 * as use, and is refused (503) while it is not ready. A peer's model goes to the peer with the
 * rest of the path and the peer's API key (`Authorization: Bearer` and `x-api-key`, replacing the
 * client's), as plain peer requests. After the upstream's answer the two sockets are spliced byte
 * for byte.
 */
import { connect as netConnect, type Socket } from 'node:net';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { connect as tlsConnect } from 'node:tls';
import { GatewayError, toGatewayError } from '../lib/errors.js';
import type { ModelGate } from '../lib/gateway/types.js';
import type { Logger } from '../lib/logger.js';
import { acceptsKey, presentedKey } from './auth.js';
import { forwardedHeadersFor, HOP_BY_HOP } from '../lib/http/forward-headers.js';
import { parseOrigin } from './proxy.js';
import { trailingSlashRedirect } from './upstream.js';
import { createUpstreamRouter, type UpstreamRouteOptions } from './upstream-route.js';
import type { Request } from 'express';

export interface UpgradeOptions extends Omit<UpstreamRouteOptions, 'models'> {
  readonly models: ModelGate;
  readonly apiKeys: readonly string[];
  readonly trusted?: (address: string) => boolean;
  readonly log: Logger;
}

export type UpgradeHandler = (req: IncomingMessage, socket: Duplex, head: Buffer, mountPath?: string) => void;

/** An HTTP error answer on a raw socket (no Express here), OpenAI-shaped. */
function refuse(socket: Duplex, error: GatewayError): void {
  const body = JSON.stringify(error.toJSON());
  const extra = Object.entries(error.headers).map(([name, value]) => `${name}: ${value}\r\n`).join('');
  socket.end(`HTTP/1.1 ${error.status} ${error.code}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n${extra}Connection: close\r\n\r\n${body}`);
}

/** The forwarder's hop-by-hop rules, except that an upgrade keeps its `Connection`/`Upgrade` pair (and has no body). */
const UPGRADE_SKIP: ReadonlySet<string> = new Set([...HOP_BY_HOP].filter((name) => !['connection', 'upgrade', 'content-length', 'expect'].includes(name)));

/**
 * The request head sent to the model server or peer: hop-by-hop headers dropped except the upgrade
 * pair, Host rewritten, `added` (lower-case names: the forwarded headers, a peer's key) replacing
 * the client's headers of the same name.
 */
function requestHead(req: IncomingMessage, path: string, host: string, added: Readonly<Record<string, string>>): string {
  const lines = [`${req.method ?? 'GET'} ${path} HTTP/1.1`, `host: ${host}`];
  for (let index = 0; index < req.rawHeaders.length; index += 2) {
    const name = (req.rawHeaders[index] ?? '').toLowerCase();
    if (!UPGRADE_SKIP.has(name) && !Object.hasOwn(added, name)) lines.push(`${req.rawHeaders[index] ?? ''}: ${req.rawHeaders[index + 1] ?? ''}`);
  }
  for (const [name, value] of Object.entries(added)) lines.push(`${name}: ${value}`);
  return lines.join('\r\n') + '\r\n\r\n';
}

/** A peer's API key as plain peer requests send it (middleware/proxy.ts's peer proxy); none when it has no key. */
function peerKeyHeaders(apiKey: string): Record<string, string> {
  return apiKey === '' ? {} : { authorization: `Bearer ${apiKey}`, 'x-api-key': apiKey };
}

export function createUpgradeHandler(options: Readonly<UpgradeOptions>): UpgradeHandler {
  const { models, log } = options;
  const route = createUpstreamRouter(options);
  const keys = [...options.apiKeys];
  const trusted = options.trusted ?? ((): boolean => false);

  return function handleUpgrade(req, socket, head, mountPath = '') {
    socket.on('error', () => undefined);
    void (async () => {
      const url = req.url ?? '/';
      const queryStart = url.indexOf('?');
      let path = queryStart >= 0 ? url.slice(0, queryStart) : url;
      const query = queryStart >= 0 ? url.slice(queryStart) : '';
      if (mountPath !== '' && path.startsWith(mountPath)) path = path.slice(mountPath.length) || '/';
      if (!path.startsWith('/upstream/')) throw new GatewayError('not_found', `No upgrade route for ${path}: WebSockets pass through /upstream/<model>/... only`);
      if (keys.length > 0 && !acceptsKey(keys, presentedKey(req as Request))) throw new GatewayError('unauthorized', 'Invalid or missing API key');
      const found = route(path);
      if (found.kind === 'redirect') {
        const { status, location } = trailingSlashRedirect(req.method ?? 'GET', url);
        return void socket.end(`HTTP/1.1 ${status} ${status === 301 ? 'Moved Permanently' : 'Permanent Redirect'}\r\nLocation: ${location}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
      }
      const { rest } = found;
      let release = (): void => undefined;
      if (found.kind === 'local' && found.model.ignoreWebsockets) {
        if (models.state(found.model.id) !== 'ready') throw new GatewayError('start_failed', `model ${found.model.id} is not loaded, and its WebSockets do not load it (compat.ignoreWebsockets)`);
      } else if (found.kind === 'local') {
        const abort = new AbortController();
        const onClose = (): void => abort.abort();
        socket.once('close', onClose);
        const access = await models.acquire(found.model.id, { signal: abort.signal });
        socket.off('close', onClose);
        release = () => access.lease.release();
        if (socket.destroyed) return release();
      }
      const serverUrl = found.kind === 'local' ? found.model.proxy : found.peer.proxy;
      const target = parseOrigin(serverUrl);
      const { secure, hostname } = target;
      const port = Number(target.port || (secure ? 443 : 80));
      const upstream: Socket = secure ? tlsConnect({ host: hostname, port, servername: hostname }) : netConnect({ host: hostname, port });
      const added = { ...forwardedHeadersFor(req, trusted), ...(found.kind === 'peer' ? peerKeyHeaders(found.peer.apiKey) : {}) };
      let answered = false;
      upstream.once(secure ? 'secureConnect' : 'connect', () => {
        upstream.write(requestHead(req, target.pathPrefix + rest + query, target.host, added));
        if (head.length > 0) upstream.write(head);
        upstream.pipe(socket);
        socket.pipe(upstream);
      });
      upstream.once('data', () => (answered = true));
      let closed = false;
      const close = (): void => {
        if (closed) return;
        closed = true;
        release();
        upstream.destroy();
        socket.destroy();
      };
      upstream.on('error', (error) => {
        if (!answered && !socket.destroyed) refuse(socket, new GatewayError('upstream_failed', `The ${found.kind === 'peer' ? `peer ${found.peer.id}` : 'model server'} at ${serverUrl} failed: ${error.message}`));
        release();
      });
      upstream.once('close', close);
      socket.once('close', close);
    })().catch((error: unknown) => {
      const gatewayError = toGatewayError(error);
      if (gatewayError.status >= 500) log.warn('upgrade failed', { path: req.url ?? '', code: gatewayError.code, error: gatewayError.message });
      if (!socket.destroyed) refuse(socket, gatewayError);
    });
  };
}

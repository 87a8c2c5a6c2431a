/**
 * WebSocket (and any other `Upgrade:`) requests through `/upstream/<model>/<path>`, such as
 * ComfyUI's `/ws`: Express never sees them (node emits `upgrade` on the server instead), so the
 * server hands them here (`gateway.handleUpgrade`; the CLI wires it, an embedder adds one line).
 *
 * The same rules as a plain `/upstream` request: the API key, the model found by the longest path
 * prefix that names it, lifecycle paths refused, `upstream.ignorePaths` honoured. The model is
 * loaded first and holds a lease while the connection is open (it counts as in flight, so it is
 * not evicted under it), unless the model has llama-swap's `compat.ignoreWebsockets`: then the
 * connection neither loads the model nor counts as use, and is refused (503) while it is not
 * ready. After the upstream's answer the two sockets are spliced byte for byte.
 */
import { connect as netConnect, type Socket } from 'node:net';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { connect as tlsConnect } from 'node:tls';
import type { ModelConfig } from '../lib/config/types.js';
import { GatewayError, toGatewayError } from '../lib/errors.js';
import type { ModelGate } from '../lib/gateway/types.js';
import type { Logger } from '../lib/logger.js';
import { acceptsKey, presentedKey } from './auth.js';
import { forwardedHeadersFor, HOP_BY_HOP, parseOrigin } from './proxy.js';
import { ignoredPathDecision, isLifecyclePath, normalizeUpstreamPath } from './upstream.js';
import type { Request } from 'express';

export interface UpgradeOptions {
  readonly models: ModelGate;
  readonly apiKeys: readonly string[];
  readonly ignorePaths?: readonly string[];
  readonly recipePaths?: (model: string) => readonly string[];
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

/** The model and the rest of the path for `/upstream/<model...>/<rest>`: the longest prefix that names a model. */
export function matchUpstream(path: string, resolve: (name: string) => ModelConfig | undefined): { model: ModelConfig; rest: string } | null {
  const segments = path.replace(/^\/upstream\/?/, '').split('/');
  for (let count = segments.length; count > 0; count -= 1) {
    let name: string;
    try {
      name = decodeURIComponent(segments.slice(0, count).join('/'));
    } catch {
      return null;
    }
    const model = resolve(name);
    if (model) return { model, rest: '/' + segments.slice(count).join('/') };
  }
  return null;
}

/** The forwarder's hop-by-hop rules, except that an upgrade keeps its `Connection`/`Upgrade` pair (and has no body). */
const UPGRADE_SKIP: ReadonlySet<string> = new Set([...HOP_BY_HOP].filter((name) => !['connection', 'upgrade', 'content-length', 'expect'].includes(name)));

/** The request head sent to the model server: hop-by-hop headers dropped except the upgrade pair, Host rewritten. */
function requestHead(req: IncomingMessage, path: string, host: string, forwarded: Record<string, string>): string {
  const lines = [`${req.method ?? 'GET'} ${path} HTTP/1.1`, `host: ${host}`];
  for (let index = 0; index < req.rawHeaders.length; index += 2) {
    const name = req.rawHeaders[index] ?? '';
    if (!UPGRADE_SKIP.has(name.toLowerCase())) lines.push(`${name}: ${req.rawHeaders[index + 1] ?? ''}`);
  }
  for (const [name, value] of Object.entries(forwarded)) lines.push(`${name}: ${value}`);
  return lines.join('\r\n') + '\r\n\r\n';
}

export function createUpgradeHandler(options: Readonly<UpgradeOptions>): UpgradeHandler {
  const { models, log } = options;
  const ignorePaths = (options.ignorePaths ?? []).map((source) => new RegExp(source));
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
      if (normalizeUpstreamPath(path) === null) throw new GatewayError('bad_request', `The path ${path} has malformed percent-encoding`);
      const match = matchUpstream(path, (name) => models.resolve(name));
      if (!match) throw new GatewayError('model_not_found', `No configured model matches ${path}`);
      const { model, rest } = match;
      if (isLifecyclePath(rest, model, options.recipePaths?.(model.id) ?? [])) throw new GatewayError('forbidden_path', `${rest} is managed by siesta`);
      const state = models.state(model.id);
      if (ignorePaths.length > 0 && ignoredPathDecision(rest, ignorePaths, state) === 'refuse') {
        throw new GatewayError('invalid_state', `model ${model.id} is not loaded; path matches upstream.ignorePaths`);
      }
      let release = (): void => undefined;
      if (model.ignoreWebsockets) {
        if (state !== 'ready') throw new GatewayError('start_failed', `model ${model.id} is not loaded, and its WebSockets do not load it (compat.ignoreWebsockets)`);
      } else {
        const abort = new AbortController();
        const onClose = (): void => abort.abort();
        socket.once('close', onClose);
        const access = await models.acquire(model.id, { signal: abort.signal });
        socket.off('close', onClose);
        release = () => access.lease.release();
        if (socket.destroyed) return release();
      }
      const target = parseOrigin(model.proxy);
      const { secure, hostname } = target;
      const port = Number(target.port || (secure ? 443 : 80));
      const upstream: Socket = secure ? tlsConnect({ host: hostname, port, servername: hostname }) : netConnect({ host: hostname, port });
      const forwarded = forwardedHeadersFor(req, trusted);
      let answered = false;
      upstream.once(secure ? 'secureConnect' : 'connect', () => {
        upstream.write(requestHead(req, target.pathPrefix + rest + query, target.host, forwarded));
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
        if (!answered && !socket.destroyed) refuse(socket, new GatewayError('upstream_failed', `The model server at ${model.proxy} failed: ${error.message}`));
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

/**
 * Forward the request to the model's server and stream the answer back unbuffered.
 *
 * Hand-written on node:http rather than http-proxy-middleware: siesta must continue an upstream
 * stream inside a response whose SSE headers the loading stream already sent, which the library
 * cannot do, so a forwarder was needed anyway; with the library beside it there were two forwarding
 * paths, and the library path needed four workarounds (its default plugins answer errors as
 * text/plain, it forwards the client's hop-by-hop headers, it leaves the client's response open when
 * the upstream dies mid-body, and the consumed body must be rewritten by hand). Profiled, both cost
 * the same CPU per request; one path of ~100 lines is simpler to read and to test.
 */
import { Agent, request as httpRequest, type ClientRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { ModelConfig, ProxyTimeouts } from '../lib/config/types.js';
import { GatewayError } from '../lib/errors.js';
import { sendError } from './error-handler.js';
import { eventStreamOrigin, isEventStreamType, markEventStream } from '../lib/http/sse.js';
import { peerRequestContext, requestContext, type StreamedBody } from '../lib/gateway/types.js';
import { isStaleSocket } from '../lib/process/http.js';
import { onUpstreamRequest, onUpstreamResponse } from '../lib/gateway/request-tracker.js';
import { onResponseClose } from '../lib/http/response-close.js';
import { forwardedHeadersFor, forwardHeaders, RESPONSE_HOP_BY_HOP } from '../lib/http/forward-headers.js';

export interface Origin {
  /** For the Host header: host and port as in the URL. */
  readonly host: string;
  /** For connecting: an IPv6 address without its brackets. */
  readonly hostname: string;
  readonly port: string;
  /** An `https:` model server (the config accepts both schemes). */
  readonly secure: boolean;
  /** The URL's path without a trailing slash ('' for none): prefixed to the request's path, as llama-swap joins them. */
  readonly pathPrefix: string;
}

export function parseOrigin(target: string): Origin {
  const url = new URL(target);
  return {
    host: url.host,
    hostname: url.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: url.port,
    secure: url.protocol === 'https:',
    pathPrefix: url.pathname.replace(/\/+$/, ''),
  };
}

export interface ProxyOptions {
  readonly agent?: Agent;
  /** For `https:` model servers (default: keep-alive, the system's trusted CAs plus NODE_EXTRA_CA_CERTS). */
  readonly httpsAgent?: HttpsAgent;
  /** Whether a direct peer is a trusted proxy (`trustedProxies`), whose `X-Forwarded-*` values are kept. Default: none is. */
  readonly trusted?: (address: string) => boolean;
}

/** Where one request goes and how long each phase may take (llama-swap's `timeouts`). */
export interface ForwardTarget {
  /** Base URL; its path, if any, is prefixed to the request's. */
  readonly url: string;
  readonly timeouts: Pick<ProxyTimeouts, 'connectMs' | 'tlsHandshakeMs' | 'responseHeaderMs' | 'idleMs'>;
  /** Headers set on the forwarded request (a peer's API key). */
  readonly headers?: Readonly<Record<string, string>>;
  /** How errors name the target: "The model server at …" or "peer …". */
  readonly describe: (reason: string) => string;
}

/** What is sent: a buffer, an upload streamed as it is read (middleware/multipart.ts), or none. */
export type ForwardBody = Buffer | StreamedBody | undefined;

/** A phase of the exchange took longer than its timeout: answered 504, not 502. */
class UpstreamTimeout extends Error {}

/**
 * Arms a phase timer (0 = none): the connection (TCP connect, then the TLS handshake for https)
 * and the wait for the response's headers once the request is sent. A timer that fires destroys
 * the request with an error that says which phase took too long.
 */
function armTimeouts(request: ClientRequest, timeouts: ForwardTarget['timeouts'], secure: boolean): void {
  const { connectMs, tlsHandshakeMs, responseHeaderMs } = timeouts;
  const watchConnect = connectMs > 0 || (secure && tlsHandshakeMs > 0);
  if (!watchConnect && responseHeaderMs <= 0) return;
  const timers: NodeJS.Timeout[] = [];
  const clear = (): void => {
    if (timers.length === 0) return;
    for (const timer of timers) clearTimeout(timer);
    timers.length = 0;
  };
  let clearing = false;
  const after = (ms: number, message: string): void => {
    if (ms <= 0) return;
    timers.push(setTimeout(() => request.destroy(new UpstreamTimeout(message)), ms));
    // The clearing listeners only once a timer runs: a kept-alive socket with no response-header
    // timeout (the models' default) arms none, and then the request gets one listener here, not four.
    if (clearing) return;
    clearing = true;
    request.on('response', clear);
    request.on('close', clear);
  };
  // `on`, not `once`: each of these fires once per request anyway, and `once` wraps every listener
  // in a closure of its own (a visible cost per request in the profile).
  if (watchConnect) {
    request.on('socket', (socket) => {
      if (!socket.connecting) return;
      after(connectMs, `connect timeout after ${connectMs} ms`);
      socket.once('connect', () => {
        clear();
        if (secure) {
          after(tlsHandshakeMs, `TLS handshake timeout after ${tlsHandshakeMs} ms`);
          socket.once('secureConnect', clear);
        }
      });
    });
  }
  if (responseHeaderMs > 0) request.on('finish', () => after(responseHeaderMs, `timeout awaiting response headers after ${responseHeaderMs} ms`));
}

/** Forward one exchange; errors are answered to the client (OpenAI-shaped), nothing is returned. */
export type Forwarder = (req: Request, res: Response, target: ForwardTarget, body: ForwardBody) => void;

/** Forward one request to `target` and stream the answer back unbuffered. */
export function createForwarder(options: Readonly<ProxyOptions> = {}): Forwarder {
  // No socket cap: each model's concurrencyLimit already bounds its requests, and a cap below it
  // would park the excess requests (streams hold their socket for minutes) without an answer.
  const agent = options.agent ?? new Agent({ keepAlive: true });
  const httpsAgent = options.httpsAgent ?? new HttpsAgent({ keepAlive: true });
  const trusted = options.trusted ?? ((): boolean => false);

  // Parsed once per target, not per request (one entry per configured proxy URL).
  const origins = new Map<string, Origin>();
  const originOf = (url: string): Origin => {
    let origin = origins.get(url);
    if (!origin) origins.set(url, (origin = parseOrigin(url)));
    return origin;
  };

  return function forward(req, res, target, body) {
    const origin = originOf(target.url);
    const headers = forwardHeaders(req.headers);
    Object.assign(headers, forwardedHeadersFor(req, trusted));
    headers.host = origin.host;
    if (target.headers) Object.assign(headers, target.headers);
    // A streamed upload is sent once, on a connection of its own: a kept-alive socket that turns
    // out stale cannot be resent on (the body is gone), so it is never risked. Unknown length: chunked.
    const streamed = body !== undefined && !Buffer.isBuffer(body) ? body : undefined;
    if (Buffer.isBuffer(body)) headers['content-length'] = body.length;
    else if (streamed?.length !== undefined) headers['content-length'] = streamed.length;
    const path = origin.pathPrefix + req.url;
    const fail = (reason: string): GatewayError => new GatewayError('upstream_failed', target.describe(reason));
    let responded = false;
    const onResponse = (upstreamRes: IncomingMessage): void => {
      responded = true;
      const status = upstreamRes.statusCode ?? 502;
      // No byte from the server for idleMs (a hung model): cut it; the close below reports it.
      let idleTimer: NodeJS.Timeout | undefined;
      let idledOut = false;
      const idleMs = target.timeouts.idleMs;
      if (idleMs > 0) {
        const timer = setTimeout(() => {
          idledOut = true;
          upstreamRes.destroy();
        }, idleMs);
        idleTimer = timer;
        upstreamRes.on('data', () => timer.refresh()); // restarts the same timer: no new one per chunk
      }
      upstreamRes.on('close', () => {
        clearTimeout(idleTimer);
        // The server died mid-body (crash, OOM kill) or went silent: end the client's response instead of leaving it open.
        if (!upstreamRes.complete && !res.writableEnded && !res.destroyed) {
          sendError(
            res,
            idledOut
              ? new GatewayError('upstream_timeout', target.describe(`sent nothing for ${idleMs} ms (timeouts.idle)`))
              : fail('the connection closed before the response was complete'),
          );
        }
      });
      upstreamRes.on('error', () => undefined); // reported once, on close
      // The loading stream already sent 200 and its event-stream head (lib/http/sse.ts,
      // openEventStream): only the upstream's body can follow, and a failure becomes its last event.
      if (eventStreamOrigin(res) === 'siesta') {
        if (status >= 400) {
          let text = '';
          upstreamRes.setEncoding('utf8').on('data', (chunk: string) => {
            if (text.length < 2000) text += chunk;
          });
          upstreamRes.once('end', () => sendError(res, fail(`answered HTTP ${status}: ${text.slice(0, 500)}`)));
          return;
        }
      } else {
        const headers = forwardHeaders(upstreamRes.headers, RESPONSE_HOP_BY_HOP);
        const eventStream = isEventStreamType(upstreamRes.headers['content-type']);
        // As llama-swap: tell a reverse proxy in front of siesta (nginx) not to buffer a stream.
        if (eventStream) {
          headers['x-accel-buffering'] = 'no';
          markEventStream(res); // an upstream that dies mid-stream then ends it with an error event
        }
        res.writeHead(status, upstreamRes.statusMessage, headers);
        if (eventStream) res.flushHeaders();
      }
      onUpstreamResponse(res, upstreamRes); // the request journal reads the answer as it passes
      upstreamRes.pipe(res);
    };
    let upstream: ClientRequest;
    const send = (mayRetry: boolean): void => {
      const options = { hostname: origin.hostname, port: origin.port, path, method: req.method, headers, agent: streamed ? false : origin.secure ? httpsAgent : agent };
      const attempt = origin.secure ? httpsRequest(options, onResponse) : httpRequest(options, onResponse);
      upstream = attempt;
      onUpstreamRequest(res, attempt); // the request journal (in-flight cancel)
      armTimeouts(attempt, target.timeouts, origin.secure);
      attempt.once('error', (error) => {
        if (mayRetry && !responded && isStaleSocket(attempt, error) && !res.destroyed) return send(false);
        // An upload over its cap fails its stream with a 413 of its own.
        if (error instanceof GatewayError) sendError(res, error);
        else sendError(res, new GatewayError(error instanceof UpstreamTimeout ? 'upstream_timeout' : 'upstream_failed', target.describe(error.message), { cause: error }));
      });
      if (streamed) {
        streamed.stream.once('error', (error) => attempt.destroy(error));
        streamed.stream.pipe(attempt);
      } else attempt.end(body);
    };
    send(!streamed);
    onResponseClose(res, () => {
      if (!res.writableFinished) upstream.destroy();
    });
  };
}

export function createModelProxyMiddleware(options: Readonly<ProxyOptions> & { readonly forward?: Forwarder } = {}): RequestHandler {
  const forward = options.forward ?? createForwarder(options);
  // One target per model configuration (a reload brings new ones), not one object and closure per request.
  const targets = new WeakMap<ModelConfig, ForwardTarget>();
  const targetOf = (model: ModelConfig): ForwardTarget => {
    let target = targets.get(model);
    if (!target) {
      const url = model.proxy;
      target = {
        url,
        timeouts: model.timeouts,
        describe: (reason) => (reason.startsWith('answered HTTP') ? `The model server ${reason}` : `The model server at ${url} failed: ${reason}`),
      };
      targets.set(model, target);
    }
    return target;
  };
  return function proxyMiddleware(req: Request, res: Response): void {
    const context = requestContext(res);
    forward(req, res, targetOf(context.model), context.body);
  };
}

/**
 * A request that resolve-model routed to a peer (`res.locals.siestaPeer`) goes to the peer, with
 * its API key as `Authorization: Bearer` and `x-api-key` (llama-swap's rule); any other request
 * passes on. No local process, queue or concurrency limit is involved.
 */
export function createPeerProxyMiddleware(options: Readonly<ProxyOptions> & { readonly forward?: Forwarder } = {}): RequestHandler {
  const forward = options.forward ?? createForwarder(options);
  return function peerProxyMiddleware(req: Request, res: Response, next: NextFunction): void {
    const context = peerRequestContext(res);
    if (!context) return next();
    const { peer } = context;
    forward(
      req,
      res,
      {
        url: peer.proxy,
        timeouts: peer.timeouts,
        ...(peer.apiKey !== '' ? { headers: { authorization: `Bearer ${peer.apiKey}`, 'x-api-key': peer.apiKey } } : {}),
        describe: (reason) => `peer proxy error: peer ${peer.id} ${reason.startsWith('answered HTTP') ? reason : `failed: ${reason}`}`,
      },
      context.body,
    );
  };
}

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
import { Agent, request as httpRequest, type ClientRequest, type IncomingHttpHeaders, type IncomingMessage, type OutgoingHttpHeaders } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { Request, RequestHandler, Response } from 'express';
import { GatewayError } from '../lib/errors.js';
import { sendError } from './error-handler.js';
import { requestContext } from '../lib/gateway/types.js';
import { isStaleSocket } from '../lib/process/http.js';

/**
 * Headers that describe one hop, not the message (RFC 9110 §7.6.1), plus the ones the forwarder
 * sets itself. A client's `Connection: close` passed over a pooled keep-alive socket would make
 * the upstream refuse the next request on that socket.
 */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'proxy-authorization', 'transfer-encoding', 'upgrade', 'te', 'trailer', 'host', 'content-length']);

/** The headers to send on: pure, tested as a table. */
export function forwardHeaders(headers: IncomingHttpHeaders, hop: ReadonlySet<string> = HOP_BY_HOP): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (const name in headers) {
    const value = headers[name];
    if (value !== undefined && !hop.has(name)) out[name] = value;
  }
  return out;
}

function upstreamError(error: Error, target: string): GatewayError {
  return new GatewayError('upstream_failed', `The model server at ${target} failed: ${error.message}`, { cause: error });
}

interface Origin {
  /** For the Host header: host and port as in the URL. */
  readonly host: string;
  /** For connecting: an IPv6 address without its brackets. */
  readonly hostname: string;
  readonly port: string;
  /** An `https:` model server (the config accepts both schemes). */
  readonly secure: boolean;
}

function parseOrigin(target: string): Origin {
  const url = new URL(target);
  return { host: url.host, hostname: url.hostname.replace(/^\[(.*)\]$/, '$1'), port: url.port, secure: url.protocol === 'https:' };
}

export interface ProxyOptions {
  readonly agent?: Agent;
  /** For `https:` model servers (default: keep-alive, the system's trusted CAs plus NODE_EXTRA_CA_CERTS). */
  readonly httpsAgent?: HttpsAgent;
}

export function createModelProxyMiddleware(options: Readonly<ProxyOptions> = {}): RequestHandler {
  // No socket cap: each model's concurrencyLimit already bounds its requests, and a cap below it
  // would park the excess requests (streams hold their socket for minutes) without an answer.
  const agent = options.agent ?? new Agent({ keepAlive: true });
  const httpsAgent = options.httpsAgent ?? new HttpsAgent({ keepAlive: true });

  // Parsed once per target, not per request (one entry per configured proxy URL).
  const origins = new Map<string, Origin>();
  const originOf = (target: string): Origin => {
    let origin = origins.get(target);
    if (!origin) origins.set(target, (origin = parseOrigin(target)));
    return origin;
  };

  return function proxyMiddleware(req: Request, res: Response): Promise<void> {
    const context = requestContext(res);
    const target = context.model.proxy;
    const origin = originOf(target);
    const headers = forwardHeaders(req.headers);
    headers.host = origin.host;
    if (context.body) headers['content-length'] = context.body.length;
    const requestOptions = { hostname: origin.hostname, port: origin.port, path: req.url, method: req.method, headers };
    return new Promise((resolve) => {
      let responded = false;
      const onResponse = (upstreamRes: IncomingMessage): void => {
        responded = true;
        const status = upstreamRes.statusCode ?? 502;
        upstreamRes.once('close', () => {
          // The server died mid-body (crash, OOM kill): end the client's response instead of leaving it open.
          if (!upstreamRes.complete && !res.writableEnded && !res.destroyed) {
            sendError(res, upstreamError(new Error('the connection closed before the response was complete'), target));
          }
          resolve();
        });
        upstreamRes.on('error', () => undefined); // reported once, on close
        if (context.loadingStreamOpen) {
          // The loading stream already sent 200 + SSE headers: only the upstream's body can follow.
          if (status >= 400) {
            let text = '';
            upstreamRes.setEncoding('utf8').on('data', (chunk: string) => {
              if (text.length < 2000) text += chunk;
            });
            upstreamRes.once('end', () => sendError(res, new GatewayError('upstream_failed', `The model server answered HTTP ${status}: ${text.slice(0, 500)}`)));
            return;
          }
        } else {
          res.writeHead(status, upstreamRes.statusMessage, forwardHeaders(upstreamRes.headers, RESPONSE_HOP_BY_HOP));
          if (String(upstreamRes.headers['content-type'] ?? '').includes('text/event-stream')) res.flushHeaders();
        }
        upstreamRes.pipe(res);
      };
      let upstream: ClientRequest;
      const send = (mayRetry: boolean): void => {
        const attempt = origin.secure ? httpsRequest({ ...requestOptions, agent: httpsAgent }, onResponse) : httpRequest({ ...requestOptions, agent }, onResponse);
        upstream = attempt;
        attempt.once('error', (error) => {
          if (mayRetry && !responded && isStaleSocket(attempt, error) && !res.destroyed) return send(false);
          sendError(res, upstreamError(error, target));
          resolve();
        });
        attempt.end(context.body);
      };
      send(true);
      res.once('close', () => {
        if (!res.writableFinished) upstream.destroy();
      });
    });
  };
}

/** Response headers that describe the upstream's hop; Node sets its own framing towards the client. */
const RESPONSE_HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'trailer']);

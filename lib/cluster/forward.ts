/**
 * One attempt to serve a request on a peer. Until the peer's response headers arrive nothing has
 * reached the client, so a failure then (refused, reset, connect timeout, the peer marked down,
 * or an answer that says "not here": `retryableStatus`) is returned to the caller, which tries the
 * next candidate. From the headers on, the answer is the peer's: it is streamed through, and a
 * failure after that is passed on (an SSE stream ends with an error event, anything else is cut).
 */
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Request, Response } from 'express';
import { GatewayError } from '../errors.js';
import { forwardedHeaders, forwardHeaders, RESPONSE_HOP_BY_HOP } from '../http/forward-headers.js';
import { sendError } from '../../middleware/error-handler.js';
import { isEventStreamType, markEventStream } from '../http/sse.js';

export const FORWARDED_BY_HEADER = 'x-siesta-forwarded-by';

/** Answers that mean "try another node": a wrong cluster key, a node shutting down or whose model failed, a loop. */
export function retryableStatus(status: number): boolean {
  return status === 401 || status === 502 || status === 503 || status === 508;
}

export interface PeerAttempt {
  /** The peer's base URL. */
  readonly url: string;
  /** Path and query as the client sent them (below the gateway's mount point). */
  readonly path: string;
  readonly body: Buffer | undefined;
  /** Set on the forwarded request: the cluster key and this node's name. */
  readonly headers: Readonly<Record<string, string>>;
  readonly connectTimeoutMs: number;
  /** Aborted when the peer is marked down: before the first byte, the attempt fails. */
  readonly signal: AbortSignal;
}

export type AttemptResult = { readonly kind: 'answered' } | { readonly kind: 'failed'; readonly reason: string };

export function attemptOnPeer(req: Request, res: Response, attempt: PeerAttempt): Promise<AttemptResult> {
  const target = new URL(attempt.path, `${attempt.url}/`);
  const headers = forwardHeaders(req.headers);
  Object.assign(headers, forwardedHeaders({ headers: req.headers, remoteAddress: req.socket.remoteAddress, encrypted: false, trusted: false }), attempt.headers);
  headers.host = target.host;
  if (attempt.body) headers['content-length'] = attempt.body.length;
  const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve) => {
    let settled = false;
    let responded = false;
    const finish = (result: AttemptResult): void => {
      if (settled) return;
      settled = true;
      clearTimeout(connectTimer);
      attempt.signal.removeEventListener('abort', onAbort);
      resolve(result);
    };
    const upstream = send(target, { method: req.method, headers, agent: false }, (peerRes: IncomingMessage) => onResponse(peerRes));
    const fail = (reason: string): void => {
      if (responded) return;
      upstream.destroy();
      finish({ kind: 'failed', reason });
    };
    const connectTimer = setTimeout(() => fail(`no connection within ${attempt.connectTimeoutMs} ms`), attempt.connectTimeoutMs);
    upstream.once('socket', (socket) => {
      if (!socket.connecting) clearTimeout(connectTimer);
      else socket.once('connect', () => clearTimeout(connectTimer));
    });
    const onAbort = (): void => fail('the peer was marked down');
    attempt.signal.addEventListener('abort', onAbort);
    upstream.on('error', (error) => fail(error.message));
    res.once('close', () => {
      if (!res.writableFinished) upstream.destroy();
      if (!responded) finish({ kind: 'answered' }); // the client left: nothing to retry
    });

    function onResponse(peerRes: IncomingMessage): void {
      const status = peerRes.statusCode ?? 502;
      if (retryableStatus(status)) {
        peerRes.resume();
        return fail(`answered HTTP ${status}`);
      }
      responded = true;
      clearTimeout(connectTimer);
      attempt.signal.removeEventListener('abort', onAbort);
      const outHeaders = forwardHeaders(peerRes.headers, RESPONSE_HOP_BY_HOP);
      const eventStream = isEventStreamType(peerRes.headers['content-type']);
      if (eventStream) outHeaders['x-accel-buffering'] = 'no';
      res.writeHead(status, peerRes.statusMessage, outHeaders);
      if (eventStream) {
        markEventStream(res);
        res.flushHeaders();
      }
      peerRes.on('error', () => undefined); // reported once, on close
      peerRes.once('close', () => {
        // After the first byte the answer is the peer's: its failure is passed on, as the local
        // forwarder does (an SSE stream ends with an OpenAI-style error event, anything else is cut).
        if (!peerRes.complete && !res.writableEnded && !res.destroyed) {
          sendError(res, new GatewayError('upstream_failed', `cluster peer ${attempt.url} failed: the connection closed before the response was complete`));
        }
        finish({ kind: 'answered' });
      });
      peerRes.pipe(res);
    }

    upstream.end(attempt.body);
  });
}

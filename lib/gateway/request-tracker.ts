/**
 * One model request followed from the request log's start to the response's `close`, for the
 * request journal (request-journal.ts): its answer read as it passes (never re-buffered) for the
 * activity log's token counts and the capture, its place in the in-flight list, and its cancel.
 *
 * The forwarder hands over the model server's response (`onUpstreamResponse`) just before it pipes
 * it into `res`, and its request to the model server (`onUpstreamRequest`) for cancelling. Both
 * hooks find the tracker through `res.locals.siestaUpstream`, set for each tracked request. (An
 * AsyncLocalStorage context would find it without the hooks, at a cost on every promise; a `pipe`
 * listener per response cost an event and a closure per request.)
 */
import { STATUS_CODES, type ClientRequest, type IncomingMessage } from 'node:http';
import { StringDecoder } from 'node:string_decoder';
import { brotliDecompressSync, gunzipSync, inflateSync } from 'node:zlib';
import type { Request, Response } from 'express';
import { GatewayError } from '../errors.js';
import { sendError } from '../../middleware/error-handler.js';
import { isActivityRequest, type ActivityEntry } from './activity.js';
import { captureFieldsFor, redactedHeaders, type Capture } from './captures.js';
import type { InflightEntry, InflightRequest } from './inflight.js';
import type { RequestJournal } from './request-journal.js';
import { failedErrorMessage, NO_TOKENS, parseJsonUsage, SseUsageScanner, type ParsedUsage } from './usage.js';
import type { PeerRequestContext, RequestContext } from './types.js';

/** A JSON answer bigger than this is not parsed for usage (nor kept, unless a capture wants it). */
const MAX_PARSED_BYTES = 16 * 1024 * 1024;

/** The second of the last timestamp and its ISO text up to the milliseconds ("2026-01-02T03:04:05."). */
let isoSecond = -1;
let isoPrefix = '';

/** `new Date(ms).toISOString()`, formatting the date and time only once per second. */
export function isoTimestamp(ms: number): string {
  const second = Math.floor(ms / 1000);
  if (second !== isoSecond) {
    isoSecond = second;
    isoPrefix = new Date(second * 1000).toISOString().slice(0, 20);
  }
  const millis = ms - second * 1000;
  return `${isoPrefix}${millis < 10 ? '00' : millis < 100 ? '0' : ''}${millis}Z`;
}

/** The forwarder's hook: called with each request it sends to a model server or peer for `res`. */
export function onUpstreamRequest(res: Response, request: ClientRequest): void {
  (res.locals as { siestaUpstream?: RequestTracker }).siestaUpstream?.upstreamStarted(request);
}

/** The forwarder's hook: called with the model server's (or peer's) response it is about to pipe into `res`. */
export function onUpstreamResponse(res: Response, response: IncomingMessage): void {
  (res.locals as { siestaUpstream?: RequestTracker }).siestaUpstream?.upstreamAnswered(response);
}

/** The model a request is for: a local model's id, or `<peer>/<model>` for a peer's. */
function modelOf(res: Response): string | null {
  const locals = res.locals as { siesta?: RequestContext; siestaPeer?: PeerRequestContext };
  if (locals.siesta) return locals.siesta.model.id;
  if (locals.siestaPeer) return `${locals.siestaPeer.peer.id}/${locals.siestaPeer.model}`;
  return null;
}

/** The body forwarded to the model server (after useModelName and filters), when it was read. */
function forwardedBody(req: Request, res: Response): Buffer | null {
  const locals = res.locals as { siesta?: RequestContext; siestaPeer?: PeerRequestContext };
  const body = locals.siesta?.body ?? locals.siestaPeer?.body ?? (req.body as unknown);
  return Buffer.isBuffer(body) ? body : null;
}

/** llama-swap's `clientIP`: X-Forwarded-For's first address, X-Real-IP, else the peer address. */
export function clientIp(headers: Readonly<Record<string, string | string[] | undefined>>, remoteAddress: string | undefined): string {
  const forwarded = headers['x-forwarded-for'];
  const first = (Array.isArray(forwarded) ? forwarded[0] : forwarded)?.split(',')[0]?.trim();
  if (first) return first;
  const real = headers['x-real-ip'];
  const realIp = (Array.isArray(real) ? real[0] : real)?.trim();
  return realIp || remoteAddress || '';
}

/** Decode a response body by its Content-Encoding; null when the encoding is unknown or the data broken. */
export function decodeBody(body: Buffer, encoding: string | undefined): Buffer | null {
  const name = (encoding ?? '').trim().toLowerCase();
  try {
    if (name === '' || name === 'identity') return body;
    if (name === 'gzip' || name === 'x-gzip') return gunzipSync(body, { maxOutputLength: MAX_PARSED_BYTES });
    if (name === 'deflate') return inflateSync(body, { maxOutputLength: MAX_PARSED_BYTES });
    if (name === 'br') return brotliDecompressSync(body, { maxOutputLength: MAX_PARSED_BYTES });
  } catch {
    return null;
  }
  return null;
}

/** One request, from the request log's start to the response's `close`. */
export class RequestTracker implements InflightRequest {
  readonly #journal: RequestJournal;
  readonly #req: Request;
  readonly #res: Response;
  readonly #path: string;
  readonly #startedAt = Date.now();
  readonly #startedMs = performance.now();
  readonly id: string;
  #upstream: ClientRequest | null = null;
  #source: IncomingMessage | null = null;
  #cancelled = false;
  #ended = false;
  #respBytes = 0;
  #chunks: Buffer[] = [];
  #keptBytes = 0;
  #keepLimit = 0;
  #overflow = false;
  #scanner: SseUsageScanner | null = null;
  #decoder: StringDecoder | null = null;

  constructor(journal: RequestJournal, req: Request, res: Response) {
    this.#journal = journal;
    this.#req = req;
    this.#res = res;
    this.#path = req.path;
    this.id = journal.inflight.add(this);
    (res.locals as { siestaUpstream?: RequestTracker }).siestaUpstream = this;
  }

  /** The forwarder sent this request's request to a model server or peer. */
  upstreamStarted(request: ClientRequest): void {
    if (this.#ended) return;
    this.#upstream = request;
    if (this.#cancelled) request.destroy(new Error('request cancelled'));
  }

  describe(now: number): InflightEntry | null {
    const model = modelOf(this.#res);
    if (model === null || this.#ended) return null;
    return {
      id: this.id,
      timestamp: new Date(this.#startedAt).toISOString(),
      model,
      req_path: this.#path,
      method: this.#req.method,
      req_headers: redactedHeaders(this.#req.headers),
      remote_ip: clientIp(this.#req.headers, this.#req.socket.remoteAddress),
      resp_headers: this.#res.headersSent ? redactedHeaders(this.#res.getHeaders()) : {},
      resp_bytes: this.#respBytes,
      elapsed_ms: Math.max(0, now - this.#startedAt),
    };
  }

  /**
   * As llama-swap, which cancels the request's context: the model server's request is aborted. The
   * client gets a 502 while nothing was sent yet (an SSE error event after a loading stream), and
   * a stream already under way simply ends.
   */
  cancel(by: string): boolean {
    if (this.#ended || modelOf(this.#res) === null) return false;
    if (this.#cancelled) return true;
    this.#cancelled = true;
    const res = this.#res;
    if (this.#source) {
      this.#source.unpipe(res);
      if (!res.writableEnded) res.end();
      this.#source.destroy();
    } else if (this.#upstream) {
      // The proxy answers the client (502, or an SSE error event) when its request fails.
      this.#upstream.destroy(new Error(`request cancelled by ${by}`));
    } else {
      // Still waiting for the model (queue, start or wake): answer now; the wait ends on `close`.
      sendError(res, new GatewayError('upstream_failed', `Request cancelled by ${by}`));
    }
    return true;
  }

  /** The forwarder is about to pipe the model server's response into the client's: read it alongside. */
  upstreamAnswered(upstream: IncomingMessage): void {
    if (this.#ended || this.#source || modelOf(this.#res) === null) return;
    this.#source = upstream;
    const encoded = (upstream.headers['content-encoding'] ?? '') !== '';
    const eventStream = String(upstream.headers['content-type'] ?? '').toLowerCase().includes('text/event-stream');
    if (eventStream && !encoded) {
      this.#scanner = new SseUsageScanner();
      this.#decoder = new StringDecoder('utf8');
    }
    const captures = this.#journal.captures;
    const wantsCapture = captures.enabled && captureFieldsFor(this.#forwardedPath()).respBody;
    this.#keepLimit = Math.max(this.#scanner ? 0 : MAX_PARSED_BYTES, wantsCapture ? captures.maxBytes : 0);
    upstream.on('data', (chunk: Buffer) => this.#collect(chunk));
  }

  #collect(chunk: Buffer): void {
    this.#respBytes += chunk.length;
    if (this.#scanner && this.#decoder) this.#scanner.push(this.#decoder.write(chunk));
    if (this.#overflow) return;
    if (this.#keptBytes + chunk.length > this.#keepLimit) {
      this.#overflow = true;
      this.#chunks = [];
      return;
    }
    this.#chunks.push(chunk);
    this.#keptBytes += chunk.length;
  }

  /** The path the model server was asked for (after /upstream/<model>, or a route's rewrite). */
  #forwardedPath(): string {
    return this.#req.path;
  }

  /** The response closed: record the request and forget it. */
  finish(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#journal.inflight.remove(this.id);
    const model = modelOf(this.#res);
    if (model === null || !isActivityRequest(this.#req.method, this.#path, this.#forwardedPath())) return;
    this.#journal.record(this.#entry(model));
  }

  #entry(model: string): RecordInput {
    const res = this.#res;
    const wallMs = performance.now() - this.#startedMs;
    const status = res.headersSent ? res.statusCode : 499;
    const source = this.#source;
    const chunks = this.#chunks;
    const raw = this.#overflow ? null : chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
    this.#chunks = [];
    const body = raw && source ? decodeBody(raw, source.headers['content-encoding']) : null;
    let usage: ParsedUsage | null = null;
    let errorMsg: string | undefined;
    if (status !== 200) {
      errorMsg = failedErrorMessage(status, STATUS_CODES[status], body?.toString('utf8') ?? '');
    } else if (this.#scanner) {
      usage = this.#scanner.result(wallMs);
    } else if (body && body.length > 0) {
      usage = parseJsonUsage(this.#forwardedPath(), body.toString('utf8'), wallMs);
    }
    const fields = captureFieldsFor(this.#forwardedPath());
    const wantsCapture = this.#journal.captures.enabled;
    return {
      activity: {
        timestamp: isoTimestamp(Date.now()),
        model,
        req_path: this.#forwardedPath(),
        resp_content_type: String(res.getHeader('content-type') ?? ''),
        resp_status_code: status,
        tokens: usage?.tokens ?? NO_TOKENS,
        duration_ms: usage?.durationMs ?? Math.trunc(wallMs),
        ...(errorMsg !== undefined ? { error_msg: errorMsg } : {}),
      },
      capture: {
        reqPath: this.#forwardedPath(),
        reqHeaders: wantsCapture && fields.reqHeaders ? this.#req.headers : null,
        reqBody: wantsCapture && fields.reqBody ? forwardedBody(this.#req, res) : null,
        respHeaders: wantsCapture && fields.respHeaders ? (source ? source.headers : res.getHeaders()) : null,
        // llama-swap keeps only the request of a failed answer (its message is in error_msg).
        respBody: wantsCapture && fields.respBody && status === 200 ? body : null,
      },
    };
  }
}

export interface RecordInput {
  readonly activity: Omit<ActivityEntry, 'id' | 'has_capture'>;
  readonly capture: Omit<Capture, 'id'>;
}


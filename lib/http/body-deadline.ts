/**
 * A bound on slow request bodies for a node:http server (issue 11 defect 12): a client has
 * `bodyTimeoutMs` to send its body, plus one second per `minBytesPerSecond` bytes it did send (the
 * rule of Apache's mod_reqtimeout, `body=60,MinRate=…`), so a large upload at a fair rate is never
 * cut and a trickle is cut about `bodyTimeoutMs` after it fell behind. Past the deadline the client
 * gets a 408 (OpenAI-shaped) and the connection is closed; if the response had begun, it is cut.
 *
 * Only time in which the gateway reads counts. A multipart upload whose rest waits, unread, for
 * its model to start (middleware/multipart.ts) or for a slow upstream to take it is not the
 * client's delay: while the request stream is not flowing the window starts over.
 *
 * Node's own `server.requestTimeout` (300 s by default) covers headers and body together, is
 * checked only every 30 s, and would cut such an upload while its model starts; lib/cli/serve.ts
 * turns it off and keeps `headersTimeout` for the headers.
 */
import type { IncomingHttpHeaders, IncomingMessage, Server, ServerResponse } from 'node:http';
import { GatewayError } from '../errors.js';
import { onResponseClose } from './response-close.js';

export const DEFAULT_BODY_TIMEOUT_MS = 60_000;
/** 64 KiB/s (512 kbit/s): a client at least this fast is never cut, whatever the size. */
export const DEFAULT_MIN_BODY_BYTES_PER_SECOND = 64 * 1024;

export interface BodyDeadlineOptions {
  readonly bodyTimeoutMs: number;
  readonly minBytesPerSecond: number;
  /** Told about each request cut (for the log). */
  readonly onTimeout?: (req: IncomingMessage, receivedBytes: number) => void;
}

/** Whether a request has a body to wait for: a positive Content-Length or a Transfer-Encoding. Pure. */
export function expectsBody(headers: IncomingHttpHeaders): boolean {
  if (headers['transfer-encoding'] !== undefined) return true;
  const length = headers['content-length'];
  return length !== undefined && length !== '0';
}

/** The time left before the body is late (≤ 0: late), after `elapsedMs` with `receivedBytes` arrived. Pure. */
export function bodyTimeLeftMs(elapsedMs: number, receivedBytes: number, options: Pick<BodyDeadlineOptions, 'bodyTimeoutMs' | 'minBytesPerSecond'>): number {
  return options.bodyTimeoutMs + (receivedBytes / options.minBytesPerSecond) * 1000 - elapsedMs;
}

function cut(res: ServerResponse, options: BodyDeadlineOptions): void {
  if (res.headersSent) {
    res.socket?.destroy();
    return;
  }
  const error = new GatewayError('body_timeout', `The request body did not arrive within ${Math.round(options.bodyTimeoutMs / 1000)} s (at ${options.minBytesPerSecond} bytes/s or faster it would have had more time)`);
  const body = JSON.stringify(error.toJSON());
  // Connection: close makes Node close the socket once the answer is out, without reading the rest.
  res.writeHead(error.status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body), connection: 'close' });
  res.end(body);
}

/** Watch every request body of `server` (one timer per request that has a body). */
export function limitBodyTime(server: Server, options: Readonly<BodyDeadlineOptions>): void {
  server.on('request', function bodyDeadline(req: IncomingMessage, res: ServerResponse) {
    if (!expectsBody(req.headers)) return;
    const socket = req.socket;
    let startedAt = performance.now();
    let baseline = socket.bytesRead;
    let timer: NodeJS.Timeout | undefined;
    const check = (): void => {
      if (req.complete || res.writableEnded || socket.destroyed) return;
      if (req.readableFlowing !== true) {
        // The gateway is not reading (the upload waits for its model): not the client's delay.
        startedAt = performance.now();
        baseline = socket.bytesRead;
        timer = setTimeout(check, options.bodyTimeoutMs);
        return;
      }
      const received = socket.bytesRead - baseline;
      const leftMs = bodyTimeLeftMs(performance.now() - startedAt, received, options);
      if (leftMs > 0) {
        timer = setTimeout(check, leftMs);
        return;
      }
      options.onTimeout?.(req, received);
      cut(res, options);
    };
    timer = setTimeout(check, options.bodyTimeoutMs);
    const clear = (): void => clearTimeout(timer);
    req.once('end', clear);
    onResponseClose(res, clear);
  });
}

/** The last handler: every error becomes an OpenAI-shaped JSON body, an SSE error event, or a cut response. */
import type { ErrorRequestHandler, Response } from 'express';
import { toGatewayError, type GatewayError } from '../lib/errors.js';
import type { Logger } from '../lib/logger.js';

interface EventStreamLocals {
  siestaEventStream?: boolean;
}

/**
 * Record that `res` is an open SSE stream. Whoever writes `text/event-stream` headers calls this
 * (the loading stream, the forwarder for an upstream event stream), so that a later error can
 * still reach the client as an event.
 *
 * Trap: the headers cannot be read back instead. `writeHead(status, object)` on a response that
 * had no header set before keeps the object where `getHeader()` does not look, so the content type
 * reads as undefined whenever nothing set a header first (the CLI's app: no X-Powered-By).
 */
export function markEventStream(res: Response): void {
  (res.locals as EventStreamLocals).siestaEventStream = true;
}

export function isEventStream(res: Response): boolean {
  return (res.locals as EventStreamLocals).siestaEventStream === true;
}

/** The end of an SSE stream that failed: the error as an OpenAI-style event, then `[DONE]`. Pure. */
export function eventStreamError(error: GatewayError): string {
  return `data: ${JSON.stringify(error.toJSON())}\n\ndata: [DONE]\n\n`;
}

/**
 * Answer with `error`: JSON with its status when nothing was sent yet. When a response is already
 * under way a second header would corrupt it, so an SSE stream gets the error as its last event
 * (OpenAI's SDKs raise it with its message) and anything else is cut (the client sees a broken
 * response, never a truncated success).
 */
export function sendError(res: Response, error: GatewayError): void {
  if (res.headersSent) {
    if (!isEventStream(res)) res.destroy();
    else if (!res.writableEnded && !res.destroyed) res.end(eventStreamError(error));
    return;
  }
  res.status(error.status).set(error.headers).json(error.toJSON());
}

export function createErrorHandler(options: Readonly<{ log: Logger }>): ErrorRequestHandler {
  const { log } = options;
  return function errorHandler(error, req, res, _next) {
    const gatewayError = toGatewayError(error);
    if (gatewayError.status >= 500) {
      // The detail (a start failure's log tail) is for the logs; the client gets the short message.
      log.warn('request failed', { path: req.originalUrl, code: gatewayError.code, error: gatewayError.message, ...(gatewayError.detail !== undefined ? { detail: gatewayError.detail } : {}) });
    }
    sendError(res, gatewayError);
  };
}

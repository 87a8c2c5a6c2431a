/** The last handler: every error becomes an OpenAI-shaped JSON body, an SSE error event, or a cut response. */
import type { ErrorRequestHandler, RequestHandler, Response } from 'express';
import { GatewayError, toGatewayError } from '../lib/errors.js';
import type { Logger } from '../lib/logger.js';
import { isEventStream, sseJson, SSE_DONE } from '../lib/http/sse.js';

/** The end of an SSE stream that failed: the error as an OpenAI-style event, then `[DONE]`. Pure. */
export function eventStreamError(error: GatewayError): string {
  return sseJson(error.toJSON()) + SSE_DONE;
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

/** After every route: no route matched, 404 in the OpenAI shape. */
export function createNotFoundHandler(): RequestHandler {
  return function notFoundHandler(req, _res, next) {
    next(new GatewayError('not_found', `No route for ${req.method} ${req.path}`));
  };
}

/** The last handler: every error becomes an OpenAI-shaped JSON body, or a cut stream if headers are out. */
import type { ErrorRequestHandler, Response } from 'express';
import { toGatewayError, type GatewayError } from '../lib/errors.js';
import type { Logger } from '../lib/logger.js';

/**
 * Answer with `error`: JSON with its status when nothing was sent yet. When a streamed response is
 * already under way a second header would corrupt it, so an SSE stream gets the error as a final
 * event and anything else is cut (the client sees a broken response, never a truncated success).
 */
export function sendError(res: Response, error: GatewayError): void {
  if (res.headersSent) {
    if (String(res.getHeader('content-type') ?? '').includes('text/event-stream') && !res.writableEnded) res.end(`data: ${JSON.stringify(error.toJSON())}\n\n`);
    else res.destroy();
    return;
  }
  res.status(error.status).set(error.headers).json(error.toJSON());
}

export function createErrorHandler(options: Readonly<{ log: Logger }>): ErrorRequestHandler {
  const { log } = options;
  return function errorHandler(error, req, res, _next) {
    const gatewayError = toGatewayError(error);
    if (gatewayError.status >= 500) log.warn('request failed', { path: req.originalUrl, code: gatewayError.code, error: gatewayError.message });
    sendError(res, gatewayError);
  };
}

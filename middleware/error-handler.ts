/** The last handler: every error becomes an OpenAI-shaped JSON body, or a cut stream if headers are out. */
import type { ErrorRequestHandler } from 'express';
import { toGatewayError } from '../lib/errors.js';
import type { Logger } from '../lib/logger.js';

export function createErrorHandler(options: Readonly<{ log: Logger }>): ErrorRequestHandler {
  const { log } = options;
  return function errorHandler(error, req, res, _next) {
    const gatewayError = toGatewayError(error);
    if (gatewayError.status >= 500) log.warn('request failed', { path: req.originalUrl, code: gatewayError.code, error: gatewayError.message });
    if (res.headersSent) {
      // A streamed response is already under way: a second header would corrupt it. Say what happened
      // as a final SSE event when the stream is SSE, then end it.
      if (String(res.getHeader('content-type') ?? '').includes('text/event-stream') && !res.writableEnded) {
        res.end(`data: ${JSON.stringify(gatewayError.toJSON())}\n\n`);
      } else {
        res.destroy();
      }
      return;
    }
    res.status(gatewayError.status).set(gatewayError.headers).json(gatewayError.toJSON());
  };
}

/** One log line per request: method, path, model, status, bytes, duration. */
import type { RequestHandler } from 'express';
import type { Logger } from '../lib/logger.js';

export interface RequestLogOptions {
  readonly log: Logger;
  /** Called once per finished request, e.g. to count it in metrics. */
  readonly onDone?: (entry: { method: string; path: string; model: string | null; status: number; bytes: number; ms: number }) => void;
}

export function createRequestLogMiddleware(options: Readonly<RequestLogOptions>): RequestHandler {
  const { log, onDone } = options;
  return function requestLogMiddleware(req, res, next) {
    const started = performance.now();
    res.once('close', () => {
      const model = (res.locals as { siesta?: { model: { id: string } } }).siesta?.model.id ?? null;
      const bytes = Number(res.getHeader('content-length') ?? 0) || (res.socket?.bytesWritten ?? 0);
      const entry = { method: req.method, path: req.originalUrl.split('?')[0] ?? '', model, status: res.headersSent ? res.statusCode : 499, bytes, ms: Math.round((performance.now() - started) * 100) / 100 };
      log.info('request', entry);
      onDone?.(entry);
    });
    next();
  };
}

/** One log line per request: method, path, model, status, bytes, duration (and wait, when it waited for a model). */
import type { RequestHandler, Response } from 'express';
import type { Logger } from '../lib/logger.js';

export interface RequestLogEntry {
  readonly method: string;
  readonly path: string;
  readonly model: string | null;
  /** Final status; 499 when the client went away before headers were sent. */
  readonly status: number;
  /** Body bytes written to the client (headers not counted). */
  readonly bytes: number;
  readonly ms: number;
  /** Time spent waiting for the model (queue + start/wake), when the request got that far. */
  readonly waitMs?: number;
}

export interface RequestLogOptions {
  readonly log: Logger;
  /** Called once per finished request, e.g. to count it in metrics. */
  readonly onDone?: (entry: RequestLogEntry) => void;
}

function byteLength(chunk: unknown, encoding: unknown): number {
  if (typeof chunk === 'string') return Buffer.byteLength(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8');
  if (chunk instanceof Uint8Array) return chunk.byteLength;
  return 0;
}

/**
 * Count the body bytes of a response by wrapping its `write` and `end` (cheap: one addition per
 * chunk). `socket.bytesWritten` would count headers and, on a kept-alive socket, earlier responses.
 */
function countBytes(res: Response): () => number {
  let bytes = 0;
  const write = res.write.bind(res) as (...args: unknown[]) => boolean;
  const end = res.end.bind(res) as (...args: unknown[]) => Response;
  res.write = function countingWrite(chunk: unknown, ...rest: unknown[]): boolean {
    bytes += byteLength(chunk, rest[0]);
    return write(chunk, ...rest);
  } as Response['write'];
  res.end = function countingEnd(chunk?: unknown, ...rest: unknown[]): Response {
    if (typeof chunk !== 'function') bytes += byteLength(chunk, rest[0]);
    return end(chunk, ...rest);
  } as Response['end'];
  return () => bytes;
}

export function createRequestLogMiddleware(options: Readonly<RequestLogOptions>): RequestHandler {
  const { log, onDone } = options;
  return function requestLogMiddleware(req, res, next) {
    const started = performance.now();
    const bytes = countBytes(res);
    res.once('close', () => {
      const context = (res.locals as { siesta?: { model: { id: string }; access?: { waitedMs: number } } }).siesta;
      const waitedMs = context?.access?.waitedMs;
      const entry: RequestLogEntry = {
        method: req.method,
        path: req.originalUrl.split('?')[0] ?? '',
        model: context?.model.id ?? null,
        status: res.headersSent ? res.statusCode : 499,
        bytes: bytes(),
        ms: Math.round((performance.now() - started) * 100) / 100,
        ...(waitedMs !== undefined ? { waitMs: Math.round(waitedMs * 100) / 100 } : {}),
      };
      log.info('request', { ...entry });
      onDone?.(entry);
    });
    next();
  };
}

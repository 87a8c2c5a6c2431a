/**
 * One log line per request: method, path, model, status, bytes, duration (and wait, when it waited
 * for a model). Model requests are also followed by the gateway's request journal (activity log,
 * captures, in-flight cancel: lib/gateway/request-journal.ts), whose context the rest of the chain
 * runs in.
 */
import type { Socket } from 'node:net';
import type { RequestHandler } from 'express';
import type { Logger } from '../lib/logger.js';
import { journalOf, type RequestJournal } from '../lib/gateway/request-journal.js';
import { findRequestContext } from '../lib/gateway/types.js';
import { onResponseClose } from '../lib/http/response-close.js';

export interface RequestLogEntry {
  readonly method: string;
  readonly path: string;
  readonly model: string | null;
  /** Final status; 499 when the client went away before headers were sent. */
  readonly status: number;
  /**
   * Bytes sent to the client for this response, status line and headers included (nginx's
   * `$bytes_sent`): read from the connection's counter, so the response is never wrapped.
   */
  readonly bytes: number;
  readonly ms: number;
  /** Time spent waiting for the model (queue + start/wake), when the request got that far. */
  readonly waitMs?: number;
}

export interface RequestLogOptions {
  readonly log: Logger;
  /** Called once per finished request, e.g. to count it in metrics. */
  readonly onDone?: (entry: RequestLogEntry) => void;
  /**
   * Where model requests are recorded for the management API (activity, captures, in-flight);
   * default: the journal of the gateway that owns `log`.
   */
  readonly journal?: RequestJournal;
}

/** The URL without its query (no array per request, as `split('?')` made). */
function pathOf(url: string): string {
  const query = url.indexOf('?');
  return query < 0 ? url : url.slice(0, query);
}

export function createRequestLogMiddleware(options: Readonly<RequestLogOptions>): RequestHandler {
  const { log, onDone } = options;
  const journal = options.journal ?? journalOf(log);
  return function requestLogMiddleware(req, res, next) {
    const started = performance.now();
    const tracked = journal.track(req, res);
    // The response's own bytes on its connection: counted from when it gets the connection (a
    // pipelined request waits for the responses before it) to its `finish`, taken before node
    // hands the connection to the next pipelined response (or to its `close`, when it was cut off).
    let socket: Socket | null = null;
    let bytesBefore = 0;
    let bytesAfter: number | undefined;
    const take = (assigned: Socket): void => {
      socket = assigned;
      bytesBefore = assigned.bytesWritten;
    };
    if (res.socket) take(res.socket);
    else res.once('socket', take);
    res.prependOnceListener('finish', () => {
      bytesAfter = socket?.bytesWritten;
    });
    onResponseClose(res, () => {
      tracked.finish();
      const context = findRequestContext(res);
      const waitedMs = context?.access?.waitedMs;
      const entry: RequestLogEntry = {
        method: req.method,
        path: pathOf(req.originalUrl),
        model: context?.model.id ?? null,
        status: res.headersSent ? res.statusCode : 499,
        bytes: socket === null ? 0 : (bytesAfter ?? socket.bytesWritten) - bytesBefore,
        ms: Math.round((performance.now() - started) * 100) / 100,
        ...(waitedMs !== undefined ? { waitMs: Math.round(waitedMs * 100) / 100 } : {}),
      };
      log.info('request', { ...entry });
      onDone?.(entry);
    });
    tracked.run(next);
  };
}

/**
 * Logs as plain text (behind the admin auth):
 *
 *   GET /logs                    recent lines of the gateway and every model
 *   GET /logs/stream             the same, then new lines as they come (chunked, until the client leaves)
 *   GET /logs/stream/:model      one model's lines (id or alias), history then live
 *
 * Gateway lines are shown as the logger rendered them; model lines as `<ISO time> [model] text`
 * (`[model siesta]` for lines siesta itself wrote into the model's log, such as its exit status).
 * A follower that stops reading is dropped once 1 MiB waits for it.
 */
import express, { type Request, type Response, type Router } from 'express';
import { BoundedStream, DEFAULT_MAX_BUFFERED_BYTES } from '../lib/bounded-stream.js';
import { GatewayError } from '../lib/errors.js';
import type { LiveFeed } from '../lib/gateway/live-feed.js';
import type { LogEntry } from '../lib/gateway/model-view.js';

export interface LogsOptions {
  readonly feed: LiveFeed;
  readonly maxBufferedBytes?: number;
  /** Lines per source in `/logs` and in a stream's history (default 1000). */
  readonly historyLines?: number;
}

/** One log entry as a text line (with its newline). */
export function formatLogEntry(entry: LogEntry): string {
  if (entry.model === null) return `${entry.text}\n`;
  const source = entry.source === 'stdout' || entry.source === 'stderr' ? '' : ` ${entry.source}`;
  return `${new Date(entry.at).toISOString()} [${entry.model}${source}] ${entry.text}\n`;
}

export function createLogsRouter(options: Readonly<LogsOptions>): Router {
  const { feed } = options;
  const historyLines = options.historyLines ?? 1000;
  const maxBufferedBytes = options.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED_BYTES;
  const router = express.Router();

  const modelFilter = (req: Request): string | undefined => {
    const param: unknown = req.params['model'];
    if (typeof param !== 'string') return undefined;
    const name = param;
    const id = feed.resolve(name);
    if (!id) throw new GatewayError('model_not_found', `Model "${name}" is not configured`);
    return id;
  };

  router.get('/logs', function logsHandler(_req, res) {
    res.type('text/plain').set('Cache-Control', 'no-cache').send(feed.recentLogs(undefined, historyLines).map(formatLogEntry).join(''));
  });

  router.get(['/logs/stream', '/logs/stream/:model'], function logStreamHandler(req: Request, res: Response) {
    const model = modelFilter(req);
    res.status(200).set({ 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-cache, no-transform', 'X-Accel-Buffering': 'no', 'X-Content-Type-Options': 'nosniff' });
    res.flushHeaders();
    req.socket.setNoDelay(true);
    const onLog = (entry: LogEntry): void => {
      if (model === undefined || entry.model === model) stream.write(formatLogEntry(entry));
    };
    const stream = new BoundedStream(res, {
      maxBufferedBytes,
      onClose: () => {
        feed.off('log', onLog);
        feed.untrack(stream);
      },
    });
    feed.track(stream);
    if (stream.closed) return;
    const history = feed.recentLogs(model, historyLines).map(formatLogEntry).join('');
    if (history) stream.write(history, { initial: true });
    feed.on('log', onLog);
  });

  return router;
}

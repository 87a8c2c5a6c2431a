/**
 * Logs as plain text (behind the admin auth):
 *
 *   GET /logs                    recent lines of the gateway and every model
 *   GET /logs/stream             the same, then new lines as they come (chunked, until the client leaves)
 *   GET /logs/stream/proxy       the gateway's own lines only (llama-swap's proxy log)
 *   GET /logs/stream/upstream    every model's output, no gateway lines (llama-swap's upstream log)
 *   GET /logs/stream/<model>     one model's lines (id or alias; ids may contain slashes)
 *
 * Every stream sends its history first, unless the URL has `?no-history` (llama-swap's flag: live
 * lines only). `proxy` and `upstream` name the logs even when a model has that id, as in llama-swap.
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

/** The lines one stream follows: which history to read (`LiveFeed.recentLogs`) and which lines to pass. */
export interface LogFilter {
  /** undefined: gateway and every model; null: the gateway only; an id: that model only. */
  readonly history: string | null | undefined;
  accepts(entry: LogEntry): boolean;
}

/**
 * The filter of `/logs/stream/<name>`: '' everything, `proxy` the gateway, `upstream` every model,
 * else the model `resolve` finds (by id or alias); null when it names nothing.
 */
export function logFilter(name: string, resolve: (model: string) => string | undefined): LogFilter | null {
  if (name === '') return { history: undefined, accepts: () => true };
  if (name === 'proxy') return { history: null, accepts: (entry) => entry.model === null };
  if (name === 'upstream') return { history: undefined, accepts: (entry) => entry.model !== null };
  const id = resolve(name);
  if (id === undefined) return null;
  return { history: id, accepts: (entry) => entry.model === id };
}

export function createLogsRouter(options: Readonly<LogsOptions>): Router {
  const { feed } = options;
  const historyLines = options.historyLines ?? 1000;
  const maxBufferedBytes = options.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED_BYTES;
  const router = express.Router();

  /** Which lines a stream follows, from its path (pure given the feed's model lookup). */
  const streamFilter = (req: Request): LogFilter => {
    const param: unknown = req.params['source'];
    const name = (Array.isArray(param) ? param.join('/') : typeof param === 'string' ? param : '').replace(/^\/+/, '');
    const filter = logFilter(name, (model) => feed.resolve(model));
    if (!filter) throw new GatewayError('model_not_found', `Model "${name}" is not configured (use proxy, upstream or a model's id)`);
    return filter;
  };

  router.get('/logs', function logsHandler(_req, res) {
    res.type('text/plain').set('Cache-Control', 'no-cache').send(feed.recentLogs(undefined, historyLines).map(formatLogEntry).join(''));
  });

  router.get(['/logs/stream', '/logs/stream/*source'], function logStreamHandler(req: Request, res: Response) {
    const filter = streamFilter(req);
    const live = !('no-history' in req.query);
    res.status(200).set({ 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-cache, no-transform', 'X-Accel-Buffering': 'no', 'X-Content-Type-Options': 'nosniff' });
    res.flushHeaders();
    req.socket.setNoDelay(true);
    const onLog = (entry: LogEntry): void => {
      if (filter.accepts(entry)) stream.write(formatLogEntry(entry));
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
    if (live) {
      const history = feed.recentLogs(filter.history, historyLines).filter((entry) => filter.accepts(entry)).map(formatLogEntry).join('');
      if (history) stream.write(history, { initial: true });
    }
    feed.on('log', onLog);
  });

  return router;
}

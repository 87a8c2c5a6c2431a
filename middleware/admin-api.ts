/**
 * The admin API, mounted under `/api` (behind the admin auth):
 *
 *   GET  /api/models                      every model's view (state, backend, sleep level, last use, ...)
 *   GET  /api/models/:id                  one model's view
 *   POST /api/models/:id/load|sleep|wake|unload   act on a model; answers when the action is done
 *   POST /api/models/unload               stop every model
 *   GET  /api/events                      SSE: `snapshot`, then `state`, `model` and `log` events
 *
 * Models are named by id or alias. Errors are OpenAI-shaped: 404 unknown model, 409 sleep on a model
 * that cannot sleep or an action its state does not allow.
 */
import express, { type Request, type RequestHandler, type Response, type Router } from 'express';
import { BoundedStream, DEFAULT_MAX_BUFFERED_BYTES } from '../lib/bounded-stream.js';
import { GatewayError } from '../lib/errors.js';
import type { LiveFeed } from '../lib/gateway/live-feed.js';
import type { ModelManager } from '../lib/gateway/model-manager.js';
import { findModelView, MODEL_ACTIONS, modelViews, type LogEntry, type ModelAction, type ModelView } from '../lib/gateway/model-view.js';
import type { Logger } from '../lib/logger.js';
import type { StateChange } from '../lib/process/states.js';
import { openEventStream, sseComment, sseEvent, sseRetry } from '../lib/http/sse.js';

export interface EventStreamOptions {
  /** Drop a client once this many bytes wait in memory for it (default 1 MiB). */
  readonly maxBufferedBytes?: number;
  /** Comment lines that keep proxies from cutting an idle stream (default 15 s). */
  readonly heartbeatMs?: number;
  /** How often in-flight counts, queue lengths and last use are compared and sent as `model` events (default 1 s). */
  readonly refreshMs?: number;
  /** Recent log lines per source sent with each snapshot (default 200). */
  readonly snapshotLogLines?: number;
  readonly log?: Logger;
}

export interface AdminApiOptions extends EventStreamOptions {
  readonly manager: ModelManager;
  readonly feed: LiveFeed;
}

/** The `snapshot` event's data. */
export interface SnapshotEvent {
  readonly at: number;
  readonly models: readonly ModelView[];
  readonly logs: readonly LogEntry[];
}

/** The `state` event's data: the change and the model's view after it. */
export interface StateEvent {
  readonly change: StateChange;
  readonly model: ModelView | null;
}

function findModel(manager: ModelManager, name: string): string {
  const model = manager.resolve(name);
  if (!model) throw new GatewayError('model_not_found', `Model "${name}" is not configured`);
  return model.id;
}

function sleepLevel(req: Request): number | undefined {
  const raw = req.query['level'];
  if (raw === undefined) return undefined;
  const level = Number(raw);
  if (typeof raw !== 'string' || !Number.isInteger(level) || level < 1) throw new GatewayError('bad_request', `?level= must be a positive integer, got ${JSON.stringify(raw)}`);
  return level;
}

async function perform(manager: ModelManager, id: string, action: ModelAction, req: Request): Promise<unknown> {
  switch (action) {
    case 'load':
      return manager.load(id);
    case 'sleep':
      return manager.sleep(id, sleepLevel(req));
    case 'wake':
      return manager.wake(id);
    case 'unload':
      await manager.unload(id);
      return 'stopped';
  }
}

/** The head of `/api/events`: UTF-8 stated, and no transforming proxy. */
const ADMIN_EVENT_STREAM_HEADERS = {
  'Content-Type': 'text/event-stream; charset=utf-8',
  'Cache-Control': 'no-cache, no-transform',
  Connection: 'keep-alive',
  // nginx: do not buffer the stream.
  'X-Accel-Buffering': 'no',
};

/** `GET /api/events`: one client's event stream. */
export function createEventStreamHandler(feed: LiveFeed, options: Readonly<EventStreamOptions> = {}): RequestHandler {
  const maxBufferedBytes = options.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED_BYTES;
  const heartbeatMs = options.heartbeatMs ?? 15_000;
  const refreshMs = options.refreshMs ?? 1000;
  const snapshotLogLines = options.snapshotLogLines ?? 200;
  return function eventStreamHandler(req: Request, res: Response) {
    openEventStream(res, ADMIN_EVENT_STREAM_HEADERS);
    req.socket.setNoDelay(true);

    const sent = new Map<string, string>();
    const send = (event: string, data: unknown, initial = false): boolean => stream.write(sseEvent(event, data), { initial });
    const sendView = (view: ModelView): void => {
      sent.set(view.id, JSON.stringify(view));
      send('model', view);
    };
    const sendSnapshot = (initial = false): void => {
      const models = feed.views();
      sent.clear();
      for (const view of models) sent.set(view.id, JSON.stringify(view));
      const snapshot: SnapshotEvent = { at: Date.now(), models, logs: feed.recentLogs(undefined, snapshotLogLines) };
      send('snapshot', snapshot, initial);
    };
    const refresh = (): void => {
      for (const view of feed.views()) {
        if (sent.get(view.id) !== JSON.stringify(view)) sendView(view);
      }
    };
    // A state change often comes with more right after it (the scheduler grants the waiting
    // requests, which moves queue lengths and last use): look again once that has run.
    let refreshSoon: NodeJS.Immediate | null = null;
    const onState = (change: StateChange): void => {
      const view = feed.view(change.model);
      if (view) sent.set(view.id, JSON.stringify(view));
      const data: StateEvent = { change, model: view };
      send('state', data);
      refreshSoon ??= setImmediate(() => {
        refreshSoon = null;
        if (!stream.closed) refresh();
      });
    };
    const onLog = (entry: LogEntry): void => void send('log', entry);
    const onChanged = (id: string): void => {
      const view = feed.view(id);
      if (view) sendView(view);
    };
    const onReset = (): void => sendSnapshot();
    let sinceHeartbeatMs = 0;
    const tickMs = Math.min(refreshMs, heartbeatMs);
    const timer = setInterval(() => {
      refresh();
      sinceHeartbeatMs += tickMs;
      if (sinceHeartbeatMs >= heartbeatMs) {
        sinceHeartbeatMs = 0;
        stream.write(sseComment('heartbeat'));
      }
    }, tickMs);

    const stream = new BoundedStream(res, {
      maxBufferedBytes,
      onClose: ({ dropped }) => {
        clearInterval(timer);
        if (refreshSoon) clearImmediate(refreshSoon);
        feed.off('state', onState);
        feed.off('log', onLog);
        feed.off('changed', onChanged);
        feed.off('reset', onReset);
        feed.untrack(stream);
        // Deferred: this line goes to the feed, which may be in the middle of sending to this client.
        if (dropped) setImmediate(() => options.log?.warn('event stream client dropped', { reason: 'fell behind', maxBufferedBytes }));
      },
    });
    feed.track(stream);
    if (stream.closed) return;
    feed.on('state', onState);
    feed.on('log', onLog);
    feed.on('changed', onChanged);
    feed.on('reset', onReset);
    stream.write(sseRetry(2000));
    sendSnapshot(true);
  };
}

export function createAdminApi(options: Readonly<AdminApiOptions>): Router {
  const { manager, feed } = options;
  const router = express.Router();

  router.get('/models', function listModelsHandler(_req, res) {
    res.json({ models: modelViews(manager) });
  });

  router.get('/models/:id', function modelHandler(req, res) {
    res.json(findModelView(manager, findModel(manager, req.params['id'] ?? '')));
  });

  router.post('/models/unload', async function unloadAllHandler(_req, res) {
    await manager.unloadAll();
    res.json({ models: modelViews(manager) });
  });

  router.post('/models/:id/:action', async function modelActionHandler(req, res) {
    const action = req.params['action'] ?? '';
    if (!(MODEL_ACTIONS as readonly string[]).includes(action)) {
      throw new GatewayError('not_found', `Unknown action "${action}" (known: ${MODEL_ACTIONS.join(', ')})`);
    }
    const id = findModel(manager, req.params['id'] ?? '');
    try {
      const result = await perform(manager, id, action as ModelAction, req);
      res.json({ model: findModelView(manager, id), action, result });
    } catch (error) {
      // Admins see what API clients do not: a failed start's command line and log tail.
      if (!(error instanceof GatewayError) || error.detail === undefined || res.headersSent) throw error;
      res.status(error.status).set(error.headers).json({ error: { ...error.toJSON().error, detail: error.detail } });
    }
  });

  router.get('/events', createEventStreamHandler(feed, options));

  router.use(function adminNotFoundHandler(req, _res, next) {
    next(new GatewayError('not_found', `No admin route for ${req.method} ${req.originalUrl.split('?')[0] ?? ''}`));
  });
  return router;
}

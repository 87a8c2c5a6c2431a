/**
 * Ask the model manager for the model and wait until it is granted (started or woken, and admitted
 * by the scheduler). For streaming chat requests to a model that is not ready, the response opens
 * at once as SSE and shows progress in `choices[0].delta.reasoning_content` (llama-swap's
 * `sendLoadingState`); the proxy then continues with the upstream's own stream in the same response
 * (lib/http/sse.ts: `openEventStream` records it).
 */
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { requestContext, type LoadProgress, type ModelGate, type RequestContext } from '../lib/gateway/types.js';
import type { ModelState } from '../lib/process/states.js';
import { openEventStream, sseJson } from '../lib/http/sse.js';
import { onResponseClose } from '../lib/http/response-close.js';

export interface MakeReadyOptions {
  readonly models: ModelGate;
  /** Global `sendLoadingState`; a model's own setting is already resolved into its config. */
  readonly tickMs?: number;
}

const LOADING_STREAM_PATHS = /\/(chat\/completions|completions|messages|responses)$/;

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)}s`;
}

/** The text of one progress line: pure, so the wording is tested as a table. */
export function progressText(model: string, progress: LoadProgress & { readonly step?: string }, elapsedMs: number): string {
  // A request stays queued while its own model starts or wakes for it: say what happens then, and
  // show the queue position only while the model waits for another one to make room. A start's
  // plugin step (`step`, e.g. `restoring prompt cache` from the plugin's afterStartText) replaces `starting`.
  const where =
    progress.state === 'starting' ? (progress.step ?? 'starting')
    : progress.state === 'waking' ? 'waking from sleep'
    : progress.position !== null ? `waiting for its turn (queue position ${progress.position})`
    : progress.state === 'asleep' ? 'waking from sleep'
    : progress.state === 'sleeping' ? 'waiting for it to finish going to sleep'
    : progress.state === 'stopping' ? 'waiting for it to stop'
    : 'starting';
  return `siesta: ${model}: ${where}, ${seconds(elapsedMs)} elapsed\n`;
}

export function doneText(model: string, action: 'none' | 'started' | 'woke', ms: number, waitedMs: number): string {
  if (action === 'woke') return `siesta: ${model} woke from sleep in ${seconds(ms)}\n`;
  if (action === 'started') return `siesta: ${model} started in ${seconds(ms)}\n`;
  return `siesta: ${model} ready after ${seconds(waitedMs)}\n`;
}

function sseChunk(model: string, text: string): string {
  const chunk = {
    id: 'siesta-loading',
    object: 'chat.completion.chunk',
    created: Math.floor(Date.now() / 1000),
    model,
    choices: [{ index: 0, delta: { reasoning_content: text }, finish_reason: null }],
  };
  return sseJson(chunk);
}

function wantsLoadingStream(req: Request, context: RequestContext, state: ModelState): boolean {
  return context.stream && context.model.sendLoadingState && LOADING_STREAM_PATHS.test(req.path) && state !== 'ready';
}

export function createMakeReadyMiddleware(options: Readonly<MakeReadyOptions>): RequestHandler {
  const { models } = options;
  const tickMs = options.tickMs ?? 1000;
  // A ready model is served without a promise (most requests); only a wait runs the async path.
  return function makeReadyMiddleware(req, res, next): Promise<void> | void {
    const context = requestContext(res);
    const granted = models.tryAcquire(context.model.id);
    if (granted) {
      context.access = granted;
      onResponseClose(res, () => granted.lease.release());
      return next();
    }
    return waitForModel(req, res, next, context);
  };

  async function waitForModel(req: Request, res: Response, next: NextFunction, context: RequestContext): Promise<void> {
    const controller = new AbortController();
    const onClose = (): void => controller.abort();
    res.once('close', onClose);
    const started = performance.now();
    let progress: LoadProgress = { state: models.state(context.model.id), position: null };
    let ticker: NodeJS.Timeout | undefined;
    const stream = wantsLoadingStream(req, context, progress.state);
    const send = (text: string): void => {
      if (!res.writableEnded && !res.destroyed) res.write(sseChunk(context.requestedName, text));
    };
    if (stream) {
      // From here on the response is siesta's event stream: the proxy continues it with the
      // upstream's body, and a start failure ends it with an error event (error-handler.ts).
      openEventStream(res);
      send(progressText(context.requestedName, progress, 0));
      ticker = setInterval(() => send(progressText(context.requestedName, progress, performance.now() - started)), tickMs);
    }
    try {
      const access = await models.acquire(context.model.id, {
        signal: controller.signal,
        onProgress: (update) => {
          const changed = update.position !== progress.position || update.state !== progress.state || update.step !== progress.step;
          progress = update;
          if (stream && changed) send(progressText(context.requestedName, progress, performance.now() - started));
        },
      });
      context.access = access;
      onResponseClose(res, () => access.lease.release());
      if (controller.signal.aborted) {
        access.lease.release();
        return;
      }
      if (stream) send(doneText(context.requestedName, access.outcome.action, access.outcome.ms, access.waitedMs));
    } finally {
      if (ticker) clearInterval(ticker);
      res.off('close', onClose);
    }
    next();
  }
}

/**
 * Any OpenAI-compatible server: port bound at once, /health 503 while loading. For llmsnap-style
 * `sleepEndpoints` tests it also offers plain `POST /sleep`, `POST /wake_up` and `GET /is_sleeping`
 * (no dev-mode gate, no weight reload).
 */
import type { Backend, FakeContext } from '../context.js';
import { openAiError } from '../openai.js';
import { admitWhenAwake, sleepWakeRoutes } from './sleep-wake.js';

export const LOADING_BODY = { error: { code: 503, message: 'Loading model', type: 'unavailable_error' } } as const;

export function createGenericBackend(ctx: FakeContext): Backend {
  const { options } = ctx;
  return {
    name: 'generic',
    listenBeforeReady: true,
    withTimings: false,
    loadingReply: () => ({ status: 503, body: LOADING_BODY }),
    health: () => ({ status: 200, body: { status: 'ok' } }),
    notFound: (path) => ({ status: 404, body: openAiError(`no route for ${path}`, 'not_found_error', 404) }),
    modelEntry: () => ({ id: options.model, object: 'model', created: Math.floor(Date.now() / 1000), owned_by: 'fake-upstream' }),
    routes: sleepWakeRoutes(ctx, { level2DiscardsWeights: false }),
    admit: (signal) => admitWhenAwake(ctx, signal),
    onIdle: () => undefined,
    onBusy: () => undefined,
    dispose: () => undefined,
  };
}

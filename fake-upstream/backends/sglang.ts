/** SGLang: /health 503 until warm-up ends; release/resume memory occupation with --enable-memory-saver. */
import type { Backend, FakeContext, RouteHandler } from '../context.js';
import { delay, type Reply } from '../http-util.js';
import { openAiError } from '../openai.js';

export function createSglangBackend(ctx: FakeContext): Backend {
  const { options, state } = ctx;

  async function release(): Promise<Reply> {
    if (options.failSleep) return { status: 500, body: openAiError('release_memory_occupation failed (--fail-sleep)', 'server_error', 500) };
    // The engine must be idle before it releases its memory.
    if (state.inFlight > 0) {
      return { status: 400, body: openAiError(`engine is not idle: ${state.inFlight} request(s) in flight`, 'invalid_request_error', 400) };
    }
    state.sleepAll(1);
    await delay(options.sleepDelayMs);
    return { status: 200 };
  }

  async function resume(): Promise<Reply> {
    if (options.failWake) return { status: 500, body: openAiError('resume_memory_occupation failed (--fail-wake)', 'server_error', 500) };
    if (state.asleep) {
      await delay(options.wakeDelayMs);
      state.wakeParts({ weights: true, kvCache: true });
    }
    return { status: 200 };
  }

  const routes: Record<string, RouteHandler> = {
    'GET /get_model_info': () => ({ status: 200, body: { model_path: options.model, is_generation: true } }),
  };
  if (options.enableMemorySaver) {
    routes['POST /release_memory_occupation'] = release;
    routes['POST /resume_memory_occupation'] = resume;
  }

  return {
    name: 'sglang',
    listenBeforeReady: true,
    withTimings: false,
    loadingReply: () => ({ status: 503 }),
    health: () => ({ status: 200 }),
    notFound: () => ({ status: 404, body: { detail: 'Not Found' } }),
    modelEntry: () => ({ id: options.model, object: 'model', created: Math.floor(Date.now() / 1000), owned_by: 'sglang', root: options.model }),
    routes,
    // While released, generation requests wait for the resume.
    admit: async (signal) => {
      await state.waitUntil(() => !state.asleep, signal);
      return undefined;
    },
    onIdle: () => undefined,
    onBusy: () => undefined,
    dispose: () => undefined,
  };
}

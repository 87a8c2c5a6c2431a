/**
 * llama.cpp `llama-server`: port bound at once, 503 "Loading model" until loaded, `/props` with
 * `is_sleeping`, `--sleep-idle-seconds` self-unload that the next generation request reloads,
 * `/metrics` with `--metrics`, no HTTP sleep endpoints, slot save/restore with `--slot-save-path`
 * (llama-slots.ts).
 */
import type { Backend, FakeContext } from '../context.js';
import { delay, type Reply } from '../http-util.js';
import { LOADING_BODY } from './generic.js';
import { createFakeSlots } from './llama-slots.js';

function llamaError(code: number, message: string, type: string): Reply {
  return { status: code, body: { error: { code, message, type } } };
}

function metricsText(ctx: FakeContext): string {
  const { state } = ctx;
  const lines = [
    ['prompt_tokens_total', 'counter', 'Number of prompt tokens processed.', state.promptTokensTotal],
    ['tokens_predicted_total', 'counter', 'Number of generation tokens processed.', state.predictedTokensTotal],
    ['requests_processing', 'gauge', 'Number of requests processing.', state.active.size],
    ['requests_deferred', 'gauge', 'Number of requests deferred.', state.inFlight - state.active.size],
  ] as const;
  return lines.map(([name, type, help, value]) => `# HELP llamacpp:${name} ${help}\n# TYPE llamacpp:${name} ${type}\nllamacpp:${name} ${value}\n`).join('');
}

export function createLlamaServerBackend(ctx: FakeContext): Backend {
  const { options, state } = ctx;
  let idleTimer: NodeJS.Timeout | undefined;
  let waking: Promise<boolean> | undefined;
  const slots = createFakeSlots(ctx);

  function clearIdleTimer(): void {
    if (idleTimer) clearTimeout(idleTimer);
    idleTimer = undefined;
  }

  /** One reload shared by every request that finds the model unloaded; true when it worked. */
  function wake(): Promise<boolean> {
    waking ??= (async () => {
      ctx.log('reloading model after idle sleep');
      await delay(options.wakeDelayMs);
      if (options.failWake) {
        ctx.log('failed to reload model (--fail-wake)');
        return false;
      }
      state.wakeParts({ weights: true, kvCache: true });
      ctx.log('model reloaded');
      return true;
    })().finally(() => {
      waking = undefined;
    });
    return waking;
  }

  return {
    name: 'llama-server',
    listenBeforeReady: true,
    withTimings: true,
    loadingReply: () => ({ status: 503, body: LOADING_BODY }),
    // 200 also while self-unloaded.
    health: () => ({ status: 200, body: { status: 'ok' } }),
    notFound: () => llamaError(404, 'File Not Found', 'not_found_error'),
    modelEntry: () => ({
      id: options.model,
      object: 'model',
      created: Math.floor(Date.now() / 1000),
      owned_by: 'llamacpp',
      meta: { vocab_type: 2, n_vocab: 32_000, n_ctx_train: 4096, n_embd: 64, n_params: 1_000_000, size: 4_000_000 },
    }),
    promptCache: (prompt, promptN) => slots.promptCache(prompt, promptN),
    routes: {
      ...slots.routes,
      'GET /props': () => ({
        status: 200,
        body: {
          default_generation_settings: { id: 0, id_task: -1, n_ctx: 4096, speculative: false, is_processing: state.active.size > 0 },
          total_slots: 1,
          model_alias: options.model,
          model_path: `/models/${options.model}.gguf`,
          modalities: { vision: false, audio: false },
          chat_template: '{% for message in messages %}{{ message.content }}{% endfor %}',
          bos_token: '<s>',
          eos_token: '</s>',
          build_info: 'b0000-fake-upstream',
          is_sleeping: state.asleep,
        },
      }),
      'GET /metrics': () =>
        options.metrics
          ? { status: 200, body: metricsText(ctx), contentType: 'text/plain; version=0.0.4' }
          : llamaError(501, 'This server does not support metrics endpoint. Start it with `--metrics`', 'not_supported_error'),
    },
    admit: async () => {
      if (!state.asleep) return undefined;
      // The request blocks for the reload (it is not cancelled by a client going away: the model still reloads).
      return (await wake()) ? undefined : llamaError(500, 'failed to reload model', 'server_error');
    },
    onIdle: () => {
      clearIdleTimer();
      if (options.sleepIdleMs <= 0 || !state.loaded || state.asleep || state.inFlight > 0) return;
      idleTimer = setTimeout(() => {
        idleTimer = undefined;
        if (state.inFlight > 0 || state.asleep) return;
        state.sleepAll(1);
        ctx.log(`model unloaded after ${options.sleepIdleMs / 1000} idle seconds`);
      }, options.sleepIdleMs);
    },
    onBusy: clearIdleTimer,
    dispose: clearIdleTimer,
  };
}

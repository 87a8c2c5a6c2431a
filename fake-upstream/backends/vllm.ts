/** vLLM (`vllm serve`): port refuses until loaded; sleep-mode dev endpoints with VLLM_SERVER_DEV_MODE=1. */
import type { Backend, FakeContext } from '../context.js';
import { admitWhenAwake, sleepWakeRoutes } from './sleep-wake.js';

export function createVllmBackend(ctx: FakeContext): Backend {
  const { options } = ctx;
  // In vLLM the dev endpoints are registered only in dev mode, and sleeping needs --enable-sleep-mode.
  const devEndpoints = options.enableSleepMode && options.vllmDevMode;
  return {
    name: 'vllm',
    listenBeforeReady: false,
    withTimings: false,
    loadingReply: () => ({ status: 503 }),
    // 200 also while asleep: health says nothing about sleep.
    health: () => ({ status: 200 }),
    notFound: () => ({ status: 404, body: { detail: 'Not Found' } }),
    modelEntry: () => ({
      id: options.model,
      object: 'model',
      created: Math.floor(Date.now() / 1000),
      owned_by: 'vllm',
      root: options.model,
      parent: null,
      max_model_len: 4096,
    }),
    routes: devEndpoints ? sleepWakeRoutes(ctx, { level2DiscardsWeights: true }) : {},
    admit: (signal) => admitWhenAwake(ctx, signal),
    onIdle: () => undefined,
    onBusy: () => undefined,
    dispose: () => undefined,
  };
}

/**
 * vLLM (`vllm serve --enable-sleep-mode`). Sleep endpoints exist only with VLLM_SERVER_DEV_MODE=1.
 * The sleep level is read from the query string only (a JSON body is ignored by vLLM).
 * Level 2 discards the weights too, so waking reloads them: weights first, then the KV cache
 * (lowest peak memory), then the prefix cache is reset. `/health` is 200 while asleep, so the
 * sleep state is confirmed with `GET /is_sleeping`.
 */
import type { BackendPlugin } from '../lib/plugins/types.js';

async function servedModelName(http: Parameters<NonNullable<BackendPlugin['warmup']>>[0]['http']): Promise<string | undefined> {
  const response = await http.request({ method: 'GET', path: '/v1/models' });
  if (response.status !== 200) return undefined;
  const listed = JSON.parse(response.body) as { data?: { id?: string }[] };
  return listed.data?.[0]?.id;
}

export const vllmPlugin: BackendPlugin = {
  name: 'vllm',
  apiVersion: 1,
  description: 'vLLM with --enable-sleep-mode (levels 1 and 2)',
  defaults: { env: { VLLM_SERVER_DEV_MODE: '1' }, checkEndpoint: '/health' },
  sleepLevels: {
    1: {
      name: 'vllm level 1',
      sleep: [{ endpoint: '/sleep?level=1' }],
      wake: [{ endpoint: '/wake_up' }],
    },
    2: {
      name: 'vllm level 2',
      sleep: [{ endpoint: '/sleep?level=2' }],
      wake: [
        { endpoint: '/wake_up?tags=weights' },
        { endpoint: '/collective_rpc', body: '{"method":"reload_weights"}' },
        { endpoint: '/wake_up?tags=kv_cache' },
        { endpoint: '/reset_prefix_cache' },
      ],
    },
  },
  async isAsleep({ http }) {
    const response = await http.request({ method: 'GET', path: '/is_sleeping' });
    if (response.status !== 200) return undefined;
    return (JSON.parse(response.body) as { is_sleeping?: unknown }).is_sleeping === true;
  },
  async warmup(ctx) {
    // The first request after a wake is 5-7x slower unless the engine ran once; one token suffices.
    const model = ctx.model.useModelName ?? (await servedModelName(ctx.http));
    await ctx.http.request({ method: 'POST', path: '/v1/completions', json: { model, prompt: 'hi', max_tokens: 1 } });
  },
};

export default vllmPlugin;

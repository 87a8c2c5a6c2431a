/** What a model takes from its plugin's `defaults` when its own config leaves it out: pure, tested as a table. */
import type { ModelConfig } from '../config/types.js';
import type { BackendPlugin } from './types.js';

/** llama-swap's readiness path, used when neither the model nor its plugin names one. */
export const DEFAULT_CHECK_ENDPOINT = '/health';

/**
 * The readiness path of `model`: its own `checkEndpoint` when set (null for `none`), else the
 * plugin's `defaults.checkEndpoint`, else `/health`. The config loader leaves the field undefined
 * when the model does not set it, because only here is the plugin known.
 */
export function checkEndpointOf(model: Pick<ModelConfig, 'checkEndpoint'>, plugin: Pick<BackendPlugin, 'defaults'>): string | null {
  if (model.checkEndpoint !== undefined) return model.checkEndpoint;
  const fromPlugin = plugin.defaults?.checkEndpoint?.trim();
  if (fromPlugin === undefined) return DEFAULT_CHECK_ENDPOINT;
  return fromPlugin === '' || fromPlugin === 'none' ? null : fromPlugin;
}

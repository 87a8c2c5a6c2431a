/**
 * llama.cpp's llama-server. It has no HTTP sleep: evicting it stops the process. With
 * `--sleep-idle-seconds N` it unloads the model by itself and reloads on the next request; that is
 * visible only as `GET /props` → `is_sleeping`, which this plugin reports for status and metrics.
 * `/health` answers 503 "Loading model" while loading.
 * `options: { saveSlots: true }` (with `--slot-save-path DIR` in cmd) saves the prompt caches of its
 * slots before a stop and restores them after the next start (lib/plugins/llama-slots.ts).
 */
import Joi from 'joi';
import { restoreSlots, saveSlots, slotWarnings } from '../lib/plugins/llama-slots.js';
import type { BackendPlugin } from '../lib/plugins/types.js';

export const llamaServerPlugin: BackendPlugin = {
  name: 'llama-server',
  apiVersion: 1,
  description: 'llama.cpp llama-server (stop/start; reports its own --sleep-idle-seconds sleep)',
  defaults: { checkEndpoint: '/health' },
  optionsSchema: Joi.object({ saveSlots: Joi.boolean() }),
  sleepsBySelf: true,
  async isAsleep({ http }) {
    const response = await http.request({ method: 'GET', path: '/props' });
    if (response.status !== 200) return undefined;
    const sleeping = (JSON.parse(response.body) as { is_sleeping?: unknown }).is_sleeping;
    return typeof sleeping === 'boolean' ? sleeping : undefined;
  },
  beforeStop: saveSlots,
  afterStart: restoreSlots,
  afterStartText: (model) => (model.options['saveSlots'] === true ? 'restoring prompt cache' : undefined),
  configWarnings: slotWarnings,
};

export default llamaServerPlugin;

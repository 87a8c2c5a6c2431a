/**
 * Any server that speaks HTTP. It sleeps only when the model's config gives `sleepEndpoints` and
 * `wakeEndpoints` (the llmsnap keys); otherwise eviction stops it.
 */
import type { BackendPlugin } from '../lib/plugins/types.js';

export const genericPlugin: BackendPlugin = {
  name: 'generic',
  apiVersion: 1,
  description: 'any HTTP server; sleeps via the model\'s sleepEndpoints/wakeEndpoints, else stop/start',
  defaults: { checkEndpoint: '/health' },
};

export default genericPlugin;

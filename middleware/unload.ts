/**
 * llama-swap's `GET /unload` (any method here): stop every model, then `OK`. An admin action
 * (issue 11 defect 5): the gateway mounts it behind the admin auth, not the API keys.
 */
import type { RequestHandler } from 'express';
import type { ModelUnloader } from '../lib/gateway/types.js';

export function createUnloadAllHandler(options: Readonly<{ models: ModelUnloader }>): RequestHandler {
  const { models } = options;
  return async function unloadAllHandler(_req, res) {
    await models.unloadAll();
    res.type('text/plain').send('OK');
  };
}

/**
 * `GET /v1/models` and `GET /models`: llama-swap's listing, built by `buildModelList`
 * (lib/gateway/model-list.ts, pure) from the configuration, the models' states and the active
 * profile. `Origin` is echoed so that browser clients can read it, as llama-swap does.
 */
import type { RequestHandler } from 'express';
import { buildModelList, type ModelListInput } from '../lib/gateway/model-list.js';
import type { ModelState } from '../lib/process/states.js';

export interface ModelListOptions {
  readonly config: ModelListInput['config'];
  readonly models: { state(id: string): ModelState };
  /** The active profile (default: none). */
  readonly activeProfile?: () => string | null;
  /** Seconds since the epoch (default the clock). */
  readonly nowSec?: () => number;
}

export function createModelListHandler(options: Readonly<ModelListOptions>): RequestHandler {
  const { config, models } = options;
  const activeProfile = options.activeProfile ?? ((): null => null);
  const nowSec = options.nowSec ?? ((): number => Math.floor(Date.now() / 1000));
  return function listModelsHandler(req, res) {
    const origin = req.get('origin');
    if (origin) res.set('Access-Control-Allow-Origin', origin);
    res.json(buildModelList({ config, state: (id) => models.state(id), activeProfile: activeProfile(), createdSec: nowSec() }));
  };
}

/**
 * `GET /health` and `/wol-health` (llama-swap's paths, no key): `OK`, or 503 `stopping` once the
 * gateway is closing, so a load balancer or Kubernetes stops sending before the models stop.
 */
import type { RequestHandler } from 'express';

export interface HealthOptions {
  /** True once `close()` began. */
  readonly stopping: () => boolean;
}

export function createHealthHandler(options: Readonly<HealthOptions>): RequestHandler {
  const { stopping } = options;
  return function healthHandler(_req, res) {
    if (stopping()) res.status(503).type('text/plain').send('stopping');
    else res.type('text/plain').send('OK');
  };
}

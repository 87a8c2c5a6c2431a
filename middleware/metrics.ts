/** `GET /metrics`: the Prometheus exposition of the gateway's own registry. */
import type { RequestHandler } from 'express';
import type { Metrics } from '../lib/metrics.js';

export function createMetricsHandler(options: Readonly<{ metrics: Metrics }>): RequestHandler {
  const { metrics } = options;
  return async function metricsHandler(_req, res) {
    const { contentType, text } = await metrics.render();
    res.set('Content-Type', contentType).set('Cache-Control', 'no-cache').send(text);
  };
}

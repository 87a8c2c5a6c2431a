/** Per-model limit on requests in progress (llama-swap default 10); over it: 429 with Retry-After. */
import type { RequestHandler } from 'express';
import { GatewayError } from '../lib/errors.js';
import { requestContext } from '../lib/gateway/types.js';
import { onResponseClose } from '../lib/http/response-close.js';

export function createConcurrencyLimitMiddleware(): RequestHandler {
  const active = new Map<string, number>();
  return function concurrencyLimitMiddleware(_req, res, next) {
    const { model } = requestContext(res);
    const current = active.get(model.id) ?? 0;
    if (current >= model.concurrencyLimit) {
      return next(new GatewayError('too_many_requests', `Model "${model.id}" already has ${current} requests in progress (concurrencyLimit ${model.concurrencyLimit})`, { headers: { 'Retry-After': '1' } }));
    }
    active.set(model.id, current + 1);
    onResponseClose(res, () => {
      // Kept at 0 rather than deleted: one entry per configured model, and no map churn per request.
      active.set(model.id, Math.max(0, (active.get(model.id) ?? 1) - 1));
    });
    next();
  };
}

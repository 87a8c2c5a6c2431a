/**
 * Find the model a request is for (JSON body `model`, multipart field `model`, or `?model=`),
 * resolve aliases, and prepare the body to forward (`useModelName`, `filters`).
 * Expects the raw body as a Buffer in `req.body` (express.raw) or no body at all.
 */
import type { Request, RequestHandler } from 'express';
import type { ModelConfig } from '../lib/config/types.js';
import { GatewayError } from '../lib/errors.js';
import { setRequestContext, type ModelDirectory } from '../lib/gateway/types.js';

export interface ResolveModelOptions {
  readonly models: ModelDirectory;
}

/** The value of a multipart form field, found without buffering a parser (the body is already in memory). */
export function multipartField(body: Buffer, contentType: string, field: string): string | undefined {
  const boundary = /boundary=(?:"([^"]+)"|([^;]+))/i.exec(contentType);
  const marker = boundary?.[1] ?? boundary?.[2];
  if (!marker) return undefined;
  const text = body.toString('latin1');
  for (const part of text.split(`--${marker}`)) {
    const headerEnd = part.indexOf('\r\n\r\n');
    if (headerEnd < 0) continue;
    const headers = part.slice(0, headerEnd);
    if (!new RegExp(`content-disposition:[^\\r\\n]*\\bname="${field}"`, 'i').test(headers)) continue;
    return Buffer.from(part.slice(headerEnd + 4).replace(/\r\n$/, ''), 'latin1').toString('utf8');
  }
  return undefined;
}

/** Apply `useModelName` and `filters` to a parsed JSON body: pure, returns a new object. */
export function rewriteBody(body: Record<string, unknown>, model: ModelConfig): Record<string, unknown> {
  const out: Record<string, unknown> = { ...body };
  for (const key of model.filters.stripParams) {
    if (key !== 'model') delete out[key];
  }
  Object.assign(out, model.filters.setParams);
  if (model.useModelName !== null) out.model = model.useModelName;
  return out;
}

/** The raw body read by express.raw, or undefined when there is none (no body, or an empty one). */
export function rawBody(req: Request): Buffer | undefined {
  return Buffer.isBuffer(req.body) && req.body.length > 0 ? req.body : undefined;
}

function needsRewrite(model: ModelConfig): boolean {
  return model.useModelName !== null || model.filters.stripParams.length > 0 || Object.keys(model.filters.setParams).length > 0;
}

function isJson(req: Request): boolean {
  const type = req.headers['content-type'];
  return type === undefined || /\bjson\b/i.test(type);
}

export function createResolveModelMiddleware(options: Readonly<ResolveModelOptions>): RequestHandler {
  const { models } = options;
  return function resolveModelMiddleware(req, res, next) {
    const raw = rawBody(req);
    let parsed: Record<string, unknown> | undefined;
    let name: unknown;
    const contentType = req.headers['content-type'] ?? '';
    if (raw && /multipart\/form-data/i.test(contentType)) {
      name = multipartField(raw, contentType, 'model');
    } else if (raw && isJson(req)) {
      try {
        const value: unknown = JSON.parse(raw.toString('utf8'));
        if (typeof value !== 'object' || value === null || Array.isArray(value)) {
          return next(new GatewayError('bad_request', 'Request body must be a JSON object'));
        }
        parsed = value as Record<string, unknown>;
      } catch (error) {
        return next(new GatewayError('bad_json', `Request body is not valid JSON: ${(error as Error).message}`, { cause: error }));
      }
      name = parsed.model;
    }
    if (name === undefined || name === '') name = typeof req.query.model === 'string' ? req.query.model : undefined;
    if (typeof name !== 'string' || name === '') return next(new GatewayError('missing_model'));
    const model = models.resolve(name);
    if (!model) return next(new GatewayError('model_not_found', `Model "${name}" is not configured`));
    const body = parsed && needsRewrite(model) ? Buffer.from(JSON.stringify(rewriteBody(parsed, model))) : raw;
    setRequestContext(res, {
      model,
      requestedName: name,
      body,
      stream: parsed?.stream === true,
      loadingStreamOpen: false,
    });
    next();
  };
}

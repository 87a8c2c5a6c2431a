/**
 * Timed HTTP requests over node:http: one keep-alive connection per client for the sequential
 * figures, and streams whose chunks are time-stamped as they arrive.
 */
import { Agent, request, type IncomingMessage, type RequestOptions as HttpRequestOptions } from 'node:http';

export interface Target {
  readonly host: string;
  readonly port: number;
}

export function targetOf(url: string): Target {
  const parsed = new URL(url);
  return { host: parsed.hostname, port: Number(parsed.port) };
}

export interface TimedResponse {
  readonly status: number;
  readonly body: string;
  /** performance.now() when the request was started. */
  readonly startedAt: number;
  /** performance.now() at the response headers (first byte). */
  readonly firstByteAt: number;
  readonly endedAt: number;
}

export interface RequestOptions {
  readonly method?: string;
  readonly path: string;
  readonly body?: string | object;
  readonly agent?: Agent | false;
  readonly headers?: Readonly<Record<string, string>>;
  readonly timeoutMs?: number;
}

function encodeBody(options: RequestOptions): string | undefined {
  return options.body === undefined ? undefined : typeof options.body === 'string' ? options.body : JSON.stringify(options.body);
}

/** node:http options for `options`: JSON body headers when there is a body, POST by default then. */
function outgoing(target: Target, options: RequestOptions, body: string | undefined): HttpRequestOptions {
  return {
    host: target.host,
    port: target.port,
    method: options.method ?? (body === undefined ? 'GET' : 'POST'),
    path: options.path,
    agent: options.agent,
    headers: {
      ...(body !== undefined ? { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) } : {}),
      ...options.headers,
    },
  };
}

/** One request; resolves with the whole body and its timings. Rejects on network errors. */
export function timedRequest(target: Target, options: RequestOptions): Promise<TimedResponse> {
  const body = encodeBody(options);
  return new Promise((resolve, reject) => {
    const startedAt = performance.now();
    const req = request(
      outgoing(target, options, body),
      (res: IncomingMessage) => {
        const firstByteAt = performance.now();
        const parts: Buffer[] = [];
        res.on('data', (chunk: Buffer) => parts.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(parts).toString('utf8'), startedAt, firstByteAt, endedAt: performance.now() }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    if (options.timeoutMs) req.setTimeout(options.timeoutMs, () => req.destroy(new Error(`${options.path}: no answer within ${options.timeoutMs} ms`)));
    req.end(body);
  });
}

/** Like timedRequest, but rejects unless the status is 2xx. */
export async function okRequest(target: Target, options: RequestOptions): Promise<TimedResponse> {
  const response = await timedRequest(target, options);
  if (response.status < 200 || response.status >= 300) {
    throw new Error(`${options.method ?? 'POST'} ${options.path} → ${response.status}: ${response.body.slice(0, 300)}`);
  }
  return response;
}

export interface StreamResult {
  readonly status: number;
  readonly startedAt: number;
  readonly firstByteAt: number;
  /** performance.now() when each complete SSE event (`data: ...\n\n`) arrived, with its text. */
  readonly events: readonly { readonly at: number; readonly data: string }[];
}

/** A streaming request; each SSE event is time-stamped when the bytes that complete it arrive. */
export function timedStream(target: Target, options: RequestOptions): Promise<StreamResult> {
  const body = encodeBody(options) ?? '';
  return new Promise((resolve, reject) => {
    const startedAt = performance.now();
    const req = request(
      outgoing(target, options, body),
      (res) => {
        let firstByteAt = Number.NaN;
        const events: { at: number; data: string }[] = [];
        let pending = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          const at = performance.now();
          if (Number.isNaN(firstByteAt)) firstByteAt = at;
          pending += chunk;
          let end = pending.indexOf('\n\n');
          while (end >= 0) {
            events.push({ at, data: pending.slice(0, end) });
            pending = pending.slice(end + 2);
            end = pending.indexOf('\n\n');
          }
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, startedAt, firstByteAt, events }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** A small non-streaming chat request body. */
export function chatBody(model: string, extra: Readonly<Record<string, unknown>> = {}): object {
  return { model, messages: [{ role: 'user', content: 'Say hi' }], ...extra };
}

export function keepAliveAgent(maxSockets = 1): Agent {
  return new Agent({ keepAlive: true, maxSockets });
}

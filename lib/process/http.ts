/**
 * The HTTP client the model owner and plugins use for probes and recipe steps (got, no retries,
 * keep-alive, never throws on HTTP status). Connection errors reject.
 */
import { Agent } from 'node:http';
import got from 'got';
import type { PluginHttp } from '../plugins/types.js';

export interface HttpResult {
  readonly status: number;
  readonly body: string;
}

export interface HttpRequest {
  readonly method?: string;
  readonly url: string;
  readonly body?: string;
  readonly json?: unknown;
  readonly timeoutMs: number;
  readonly signal?: AbortSignal;
}

export interface HttpClient {
  request(request: HttpRequest): Promise<HttpResult>;
}

const agent = new Agent({ keepAlive: true, maxSockets: 16 });

export const gotHttpClient: HttpClient = {
  async request({ method = 'GET', url, body, json, timeoutMs, signal }) {
    const response = await got(url, {
      method: method as 'GET',
      body: json === undefined ? body : undefined,
      json,
      headers: body !== undefined && json === undefined ? { 'content-type': 'application/json' } : undefined,
      timeout: { request: timeoutMs },
      retry: { limit: 0 },
      throwHttpErrors: false,
      followRedirect: false,
      agent: { http: agent },
      signal,
    });
    return { status: response.statusCode, body: response.body };
  },
};

/** Bind an HttpClient to a base URL and default timeout for a plugin. */
export function pluginHttp(client: HttpClient, baseUrl: string, defaultTimeoutMs: number, signal?: AbortSignal): PluginHttp {
  return {
    request: ({ method, path, json, timeoutMs }) =>
      client.request({ method, url: baseUrl + path, json, timeoutMs: timeoutMs ?? defaultTimeoutMs, signal }),
  };
}

/** True for errors that mean "nothing listens there yet". */
export function isConnectionError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === 'ECONNREFUSED' || code === 'ECONNRESET' || code === 'EPIPE' || code === 'ETIMEDOUT' || code === 'EHOSTUNREACH';
}

/**
 * The HTTP client the model owner and plugins use for probes and recipe steps: no retries,
 * keep-alive, never throws on HTTP status; connection errors and timeouts reject.
 *
 * Hand-written on node:http rather than got: these calls sit on the swap path (a vLLM wake makes
 * six of them, a cold start polls /health until ready), and got costs ~0.9 ms per call against
 * ~0.35 ms here (measured back to back on the reference machine), which was a quarter of the
 * measured wake overhead. The client needs none of got's features (retries, redirects, hooks,
 * pagination, caching): one request, one status, one body.
 */
import { Agent as HttpAgent, request as httpRequest, type ClientRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { systemClock, type Clock } from '../clock.js';
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

const httpAgent = new HttpAgent({ keepAlive: true, maxSockets: 16 });
const httpsAgent = new HttpsAgent({ keepAlive: true, maxSockets: 16 });

/** The client on node:http; its per-request deadline runs on `clock`. */
export function createNodeHttpClient(clock: Clock = systemClock): HttpClient {
  return { request: (request) => send(request, clock) };
}

export const nodeHttpClient: HttpClient = createNodeHttpClient();

function send({ method = 'GET', url, body, json, timeoutMs, signal }: HttpRequest, clock: Clock): Promise<HttpResult> {
  const payload = json === undefined ? body : JSON.stringify(json);
  const headers: Record<string, string | number> = payload === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) };
  const secure = url.startsWith('https:');
  const attempt = (mayRetry: boolean): Promise<HttpResult> => new Promise<HttpResult>((resolve, reject) => {
    let responded = false;
    const onResponse = (res: IncomingMessage): void => {
      responded = true;
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.once('end', () => {
        timer.cancel();
        resolve({ status: res.statusCode ?? 0, body: text });
      });
      res.once('error', fail);
    };
    const options = { method, headers, ...(signal ? { signal } : {}) };
    const req: ClientRequest = secure ? httpsRequest(url, { ...options, agent: httpsAgent }, onResponse) : httpRequest(url, { ...options, agent: httpAgent }, onResponse);
    // One deadline for the whole exchange (connect, send, answer), like got's `timeout.request`.
    const timer = clock.setTimer(timeoutMs, () => req.destroy(Object.assign(new Error(`no answer within ${timeoutMs} ms`), { code: 'ETIMEDOUT' })));
    function fail(error: Error): void {
      timer.cancel();
      reject(error);
    }
    req.once('error', (error) => {
      if (mayRetry && !responded && isStaleSocket(req, error)) {
        timer.cancel();
        attempt(false).then(resolve, reject);
        return;
      }
      fail(error);
    });
    req.end(payload);
  });
  return attempt(true);
}

/**
 * A kept-alive connection the server closed just as a request went out on it: the server never saw
 * the request, so it may be sent again once, on a new connection (the retry Node's documentation
 * gives for `reusedSocket`). Servers close idle connections on their own schedule (uvicorn after
 * 5 s, llama-server after a streamed answer); without the retry the race shows up as a rare 502
 * or a failed sleep step.
 */
export function isStaleSocket(request: Pick<ClientRequest, 'reusedSocket'>, error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return request.reusedSocket && (code === 'ECONNRESET' || code === 'EPIPE');
}

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

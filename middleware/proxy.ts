/**
 * Forward the request to the model's server with http-proxy-middleware. Responses, streamed or
 * not, pass through unbuffered. When the loading stream already opened the response, the
 * upstream's body continues in it (headers were sent, so only the body bytes are copied).
 */
import { Agent, request as httpRequest, type ClientRequest, type IncomingMessage } from 'node:http';
import type { Request, RequestHandler, Response } from 'express';
import { createProxyMiddleware, proxyEventsPlugin } from 'http-proxy-middleware';
import { GatewayError } from '../lib/errors.js';
import { requestContext } from '../lib/gateway/types.js';

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'trailer', 'host', 'content-length']);

/**
 * express.raw() has consumed the request stream, so the body must be written to the upstream
 * request by hand (the same trap `fixRequestBody` covers for express.json()).
 */
function writeBody(proxyReq: ClientRequest, body: Buffer | undefined): void {
  if (!body) return;
  proxyReq.setHeader('content-length', body.length);
  proxyReq.removeHeader('transfer-encoding');
  proxyReq.write(body);
}

/**
 * `Connection` and `Keep-Alive` describe the client's hop, not ours: http-proxy forwards them as
 * they came when an agent is set. A client's `Connection: close` sent over a pooled keep-alive
 * socket makes Node's upstream server refuse the next request on that socket with a bare 400
 * ("data after Connection: close") whenever the upstream answered `connection: keep-alive` anyway.
 */
function dropHopByHop(proxyReq: ClientRequest): void {
  proxyReq.removeHeader('connection');
  proxyReq.removeHeader('keep-alive');
  proxyReq.removeHeader('proxy-connection');
}

function upstreamError(error: Error, target: string): GatewayError {
  return new GatewayError('upstream_failed', `The model server at ${target} failed: ${error.message}`, { cause: error });
}

function sendUpstreamError(res: Response, error: GatewayError): void {
  if (res.headersSent) {
    // Mid-stream failure: never write a second header; end the SSE stream with an error event, or cut it.
    if (String(res.getHeader('content-type') ?? '').includes('text/event-stream') && !res.writableEnded) res.end(`data: ${JSON.stringify(error.toJSON())}\n\n`);
    else res.destroy();
    return;
  }
  res.status(error.status).json(error.toJSON());
}

export interface ProxyOptions {
  readonly agent?: Agent;
}

export function createModelProxyMiddleware(options: Readonly<ProxyOptions> = {}): RequestHandler {
  // No socket cap here: each model's concurrencyLimit already bounds its requests, and a cap below
  // it would park the excess requests (streams hold their socket for minutes) without an answer.
  const agent = options.agent ?? new Agent({ keepAlive: true });
  // Typed with node's request/response (as the plugins are); Express's objects extend them.
  const proxy = createProxyMiddleware({
    router: (req) => requestContext((req as Request).res!).model.proxy,
    changeOrigin: true,
    agent,
    xfwd: false,
    // Only the event wiring: the default plugins would log through their own logger and answer
    // errors as text/plain, which OpenAI clients cannot read.
    ejectPlugins: true,
    plugins: [proxyEventsPlugin],
    on: {
      proxyReq: (proxyReq, _req, res) => {
        dropHopByHop(proxyReq);
        writeBody(proxyReq, requestContext(res as Response).body);
      },
      // http-proxy pipes the upstream's response and never looks at it again: when the server dies
      // mid-body (crash, OOM kill) the client's response would stay open forever. End it here.
      proxyRes: (proxyRes, _req, res) => {
        proxyRes.on('error', () => undefined); // reported once, on close
        proxyRes.once('close', () => {
          const response = res as Response;
          if (proxyRes.complete || response.destroyed || response.writableEnded) return;
          sendUpstreamError(response, upstreamError(new Error('the connection closed before the response was complete'), requestContext(response).model.proxy));
        });
      },
      error: (error, _req, res) => {
        if ('status' in res) sendUpstreamError(res as Response, upstreamError(error, requestContext(res as Response).model.proxy));
      },
    },
  });

  function continueStream(req: Request, res: Response): Promise<void> {
    const context = requestContext(res);
    const url = new URL(req.url, context.model.proxy);
    const headers: Record<string, string | string[]> = {};
    for (const [name, value] of Object.entries(req.headers)) {
      if (value !== undefined && !HOP_BY_HOP.has(name)) headers[name] = value;
    }
    return new Promise((resolve) => {
      const upstream = httpRequest(url, { method: req.method, headers, agent }, (upstreamRes: IncomingMessage) => {
        if ((upstreamRes.statusCode ?? 500) >= 400) {
          let text = '';
          upstreamRes.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
          upstreamRes.on('end', () => {
            sendUpstreamError(res, new GatewayError('upstream_failed', `The model server answered HTTP ${upstreamRes.statusCode}: ${text.slice(0, 500)}`));
            resolve();
          });
          return;
        }
        upstreamRes.pipe(res);
        upstreamRes.on('end', resolve);
        upstreamRes.on('error', (error) => {
          sendUpstreamError(res, upstreamError(error, context.model.proxy));
          resolve();
        });
      });
      upstream.on('error', (error) => {
        sendUpstreamError(res, upstreamError(error, context.model.proxy));
        resolve();
      });
      res.once('close', () => upstream.destroy());
      if (context.body) upstream.setHeader('content-length', context.body.length);
      upstream.end(context.body);
    });
  }

  return async function proxyMiddleware(req, res, next) {
    if (requestContext(res).loadingStreamOpen) return continueStream(req, res);
    return proxy(req, res, next);
  };
}


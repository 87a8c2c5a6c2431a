/**
 * Helpers of the peers / profiles / selectors end-to-end suite: the gateway on a real port (for
 * concurrent streams), a stream held open until the test ends it, and a recording peer.
 *
 * The fake upstream records bodies and paths but not headers, so the peer whose headers a test
 * asserts (API key, Host) is a small in-process server that records every request, the way
 * llama-swap's peer_test.go uses httptest servers. Everything here is closed by `cleanup()`.
 */
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { Express } from 'express';
import { expect } from 'chai';
import { createExpressServer } from '../../lib/http/express-server.js';
import { listenOnLoopback } from './support.js';

/** Listen on a free loopback port; closed by `cleanup()`. */
export async function listen(app: Express): Promise<string> {
  const server = createExpressServer(app);
  const url = await listenOnLoopback(server);
  return url;
}

export function postChat(url: string, body: Record<string, unknown>, signal?: AbortSignal): Promise<Response> {
  return fetch(`${url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), ...(signal ? { signal } : {}) });
}

/** A streaming request held open after its first chunk until `end()`; `model` is what the first chunk names. */
export async function holdStream(url: string, body: Record<string, unknown>): Promise<{ model: string | undefined; end(): Promise<void> }> {
  const streaming = new AbortController();
  const response = await postChat(url, { ...body, stream: true }, streaming.signal);
  expect(response.status, 'the held stream is accepted').to.equal(200);
  const reader = response.body!.getReader();
  const first = await reader.read();
  const text = new TextDecoder().decode(first.value);
  return {
    model: /"model":"([^"]+)"/.exec(text)?.[1],
    end: async () => {
      streaming.abort();
      await reader.cancel().catch(() => undefined);
    },
  };
}

export interface RecordedRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

/** An HTTP peer that records each request and answers a chat completion naming the model it was sent. */
export async function startRecordingPeer(): Promise<{ readonly url: string; readonly requests: RecordedRequest[] }> {
  const requests: RecordedRequest[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => {
      requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      let model: unknown;
      try {
        model = (JSON.parse(body) as { model?: unknown }).model;
      } catch {
        model = null;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ object: 'chat.completion', model, choices: [{ index: 0, message: { role: 'assistant', content: 'from the peer' }, finish_reason: 'stop' }] }));
    });
  });
  const url = await listenOnLoopback(server);
  return { url, requests };
}

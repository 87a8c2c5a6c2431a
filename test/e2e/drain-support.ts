/**
 * Helpers of the drain tests (reload and admin unload): a gateway on a real socket, and requests
 * whose outcome is classified (complete, cut, or an HTTP error) instead of thrown, so a test can
 * count losses.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import type { Gateway } from '../../lib/gateway/create-gateway.js';
import { chat, sseEvents, track } from './support.js';

/** The gateway on 127.0.0.1 at a free port; the server is closed by `cleanup()`. */
export async function listenGateway(gateway: Gateway): Promise<string> {
  const server: Server = createServer(express().use(gateway.router));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  track({
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

export interface Outcome {
  readonly status: number;
  /** The response arrived whole: a stream ended with `[DONE]` after its finish chunk, a JSON body parsed. */
  readonly complete: boolean;
  /** Tokens received (stream: content chunks; JSON: usage.completion_tokens). */
  readonly tokens: number;
  readonly text: string;
  /** Network error (connection reset, cut stream), if any. */
  readonly error: string | null;
  /** performance.now() when the response ended. */
  readonly endedAt: number;
}

function streamTokens(text: string): { tokens: number; complete: boolean } {
  const events = sseEvents(text);
  const chunks = events.filter((event): event is Record<string, unknown> => event !== '[DONE]');
  const content = chunks.filter((chunk) => {
    const delta = (chunk['choices'] as { delta?: { content?: string } }[] | undefined)?.[0]?.delta;
    return typeof delta?.content === 'string' && delta.content.length > 0;
  });
  const finished = chunks.some((chunk) => (chunk['choices'] as { finish_reason?: string | null }[] | undefined)?.[0]?.finish_reason === 'length' || (chunk['choices'] as { finish_reason?: string | null }[] | undefined)?.[0]?.finish_reason === 'stop');
  return { tokens: content.length, complete: finished && events.at(-1) === '[DONE]' };
}

export interface StreamHandle {
  /** Resolves once the first bytes of the body arrived: the request is in flight at the model. */
  readonly started: Promise<void>;
  readonly outcome: Promise<Outcome>;
}

/** A chat request for `model`; `stream` sets `stream: true`. Never rejects: failures are in the outcome. */
export function send(url: string, model: string, options: { stream?: boolean; maxTokens?: number } = {}): StreamHandle {
  let markStarted!: () => void;
  const started = new Promise<void>((resolve) => (markStarted = resolve));
  const body = chat(model, { stream: options.stream ?? false, ...(options.maxTokens !== undefined ? { max_tokens: options.maxTokens } : {}) });
  const outcome = (async (): Promise<Outcome> => {
    let status = 0;
    let text = '';
    try {
      const response = await fetch(`${url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      status = response.status;
      const reader = response.body!.getReader();
      const decoder = new TextDecoder();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        text += decoder.decode(value, { stream: true });
        markStarted();
      }
    } catch (error) {
      markStarted();
      const cause = (error as { cause?: { code?: string; message?: string } }).cause;
      return { status, complete: false, tokens: 0, text, error: `${(error as Error).message}${cause ? ` (${cause.code ?? cause.message ?? ''})` : ''}`, endedAt: performance.now() };
    }
    markStarted();
    if (options.stream) return { status, ...streamTokens(text), text, error: null, endedAt: performance.now() };
    let tokens = 0;
    let complete = false;
    try {
      const json = JSON.parse(text) as { usage?: { completion_tokens?: number }; choices?: unknown[] };
      tokens = json.usage?.completion_tokens ?? 0;
      complete = status === 200 && Array.isArray(json.choices);
    } catch {
      // not JSON: incomplete
    }
    return { status, complete, tokens, text, error: null, endedAt: performance.now() };
  })();
  return { started, outcome };
}

/** A one-line description of an outcome that is not a complete 200, for assertion messages. */
export function describeLoss(outcome: Outcome): string {
  return `status ${outcome.status}${outcome.error ? `, error ${outcome.error}` : ''}, complete ${String(outcome.complete)}: ${outcome.text.slice(0, 200)}`;
}

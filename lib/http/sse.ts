/**
 * Server-sent events, in one place: the framing (pure, tested as a table) and the one record of
 * whether a response is an event stream and who wrote its head.
 *
 * Writers: the loading stream (middleware/make-ready.ts), the error that ends a stream
 * (middleware/error-handler.ts), the admin API's `/api/events` (middleware/admin-api.ts). The
 * forwarder (middleware/proxy.ts) passes an upstream's own event stream through and records it.
 */
import type { OutgoingHttpHeaders } from 'node:http';
import type { Response } from 'express';

/** One message of `data:` lines: each line of `text` on its own `data:` line, then the blank line. */
export function sseData(text: string): string {
  return `${text.split(/\r\n|\r|\n/).map((line) => `data: ${line}`).join('\n')}\n\n`;
}

/** One message whose data is `value` as JSON (a single line: JSON text escapes its newlines). */
export function sseJson(value: unknown): string {
  return sseData(JSON.stringify(value));
}

/** One named event (`event:` then its JSON data). */
export function sseEvent(event: string, value: unknown): string {
  return `event: ${event}\n${sseJson(value)}`;
}

/** A comment, ignored by clients: keeps proxies from cutting an idle stream. */
export function sseComment(text: string): string {
  return `${text.split(/\r\n|\r|\n/).map((line) => `: ${line}`).join('\n')}\n\n`;
}

/** The reconnection delay a client should use. */
export function sseRetry(ms: number): string {
  return `retry: ${Math.round(ms)}\n\n`;
}

/** The end of an OpenAI-style stream. */
export const SSE_DONE = 'data: [DONE]\n\n';

/** The head of an event stream siesta writes itself (the loading stream: llama-swap's headers). */
export const EVENT_STREAM_HEADERS: Readonly<OutgoingHttpHeaders> = Object.freeze({
  'content-type': 'text/event-stream',
  'cache-control': 'no-cache',
  connection: 'keep-alive',
  // nginx: do not buffer the stream.
  'x-accel-buffering': 'no',
});

/** Whether a `Content-Type` header names an event stream (any case, any parameters). */
export function isEventStreamType(contentType: string | string[] | number | undefined): boolean {
  return String(contentType ?? '').toLowerCase().includes('text/event-stream');
}

/** Who wrote the head of an event stream: siesta (its own 200 and headers), or the upstream (passed through). */
export type EventStreamOrigin = 'siesta' | 'upstream';

interface EventStreamLocals {
  siestaEventStream?: EventStreamOrigin;
}

/*
 * Trap: the state is recorded, not read back from the headers. `writeHead(status, object)` on a
 * response that had no header set before keeps the object where `getHeader()` does not look, so
 * the content type reads as undefined whenever nothing set a header first (the CLI's app: no
 * X-Powered-By).
 */

/**
 * Send 200 and an event stream's head now (flushed, so the client sees the stream open) and
 * record that siesta opened it: whatever comes next (an upstream's body, an error event)
 * continues this response instead of writing a head of its own.
 */
export function openEventStream(res: Response, headers: Readonly<OutgoingHttpHeaders> = EVENT_STREAM_HEADERS): void {
  res.writeHead(200, { ...headers });
  res.flushHeaders();
  (res.locals as EventStreamLocals).siestaEventStream = 'siesta';
}

/** Record that `res` carries an upstream's event stream, whose head the forwarder passed through. */
export function markEventStream(res: Response): void {
  (res.locals as EventStreamLocals).siestaEventStream = 'upstream';
}

/** Who opened the event stream on `res`; undefined when it is no event stream. */
export function eventStreamOrigin(res: Response): EventStreamOrigin | undefined {
  return (res.locals as EventStreamLocals).siestaEventStream;
}

/** `res` is an event stream (an error after its head becomes its last event). */
export function isEventStream(res: Response): boolean {
  return eventStreamOrigin(res) !== undefined;
}

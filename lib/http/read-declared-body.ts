/**
 * The common request body read without body-parser: a plain (not encoded, not chunked) body whose
 * `Content-Length` is within the limit, as nearly every model request is. Everything else
 * (compressed, chunked, already read by a host app's parser) goes through `express.raw`, which
 * lib/gateway/routes.ts keeps for it.
 *
 * Hand-written rather than body-parser for this case: per request, body-parser builds a content
 * stream, re-checks the type and charset, and raw-body attaches and removes five listeners and
 * formats debug lines; for a declared plain length the HTTP parser already guarantees what those
 * checks are for (it delivers exactly `Content-Length` bytes, or the connection dies first). The
 * profile of the bench's proxy section shows the difference; docs/performance.md has the figures.
 */
import type { IncomingMessage } from 'node:http';
import { GatewayError } from '../errors.js';

/** Whether `req` is a body this reader handles: a declared length, no encoding, nothing read yet. Pure. */
export function isPlainDeclaredBody(req: Pick<IncomingMessage, 'headers' | 'readableDidRead' | 'readableEnded'>, declared: number | undefined): declared is number {
  const { headers } = req;
  return declared !== undefined && headers['content-encoding'] === undefined && headers['transfer-encoding'] === undefined && !req.readableDidRead && !req.readableEnded;
}

/**
 * Read `length` bytes of `req` into one Buffer and call `done(null, body)`; a client that goes away
 * first gets `done(client_gone)`. The caller checked the length against its limit.
 */
export function readDeclaredBody(req: IncomingMessage, length: number, done: (error: GatewayError | null, body?: Buffer) => void): void {
  const chunks: Buffer[] = [];
  let received = 0;
  const onData = (chunk: Buffer): void => {
    chunks.push(chunk);
    received += chunk.length;
  };
  const finish = (error: GatewayError | null): void => {
    req.off('data', onData);
    req.off('end', onEnd);
    req.off('error', onGone);
    req.off('close', onGone);
    if (error) return done(error);
    done(null, chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, received));
  };
  const onEnd = (): void => finish(received === length ? null : new GatewayError('bad_request', `Request body of ${received} bytes does not match its Content-Length (${length})`));
  // An aborted request emits `error` ("aborted") then `close`, or only `close`: either is the client leaving.
  const onGone = (): void => finish(new GatewayError('client_gone'));
  req.on('data', onData);
  req.on('end', onEnd);
  req.on('error', onGone);
  req.on('close', onGone);
}

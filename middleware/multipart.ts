/**
 * Multipart uploads (audio transcriptions, image edits) without holding them in memory.
 *
 * The request is read only until the form's `model` field is complete; what was read so far is
 * kept (the spool), then routing decides where the upload goes and the proxy sends the spool
 * followed by the rest of the request as it arrives, with the `model` field's value replaced on the
 * fly when the upstream must see another name (`useModelName`, a profile pin, a selector, a peer).
 *
 * The bound: a form whose `model` field comes after a large file part (the `openai` npm client
 * sends `file` before `model` when the caller writes them in that order) has to be read up to the
 * field before it can be routed. The first `holdBytes` (default 4 MiB) of it stay in memory; the
 * rest goes to a temporary file (`tmpDir`, default the OS's temp directory, mode 0600), removed when
 * the response closes. Memory per upload is therefore at most `holdBytes` plus stream buffers,
 * whatever the upload's size; the disk holds at most `maxUploadBytes`.
 *
 * Size cap: `maxUploadBytes` (config `maxUploadSize`, default 2 GiB) over the whole body, checked
 * against Content-Length up front and counted while reading and forwarding: above it, 413.
 *
 * Here: finding the field, splicing its value, the middleware. The spool and the paused reader
 * that fills it are multipart-spool.ts; the multipart scanner is multipart-parser.ts.
 */
import { tmpdir } from 'node:os';
import { Readable } from 'node:stream';
import type { RequestHandler, Response } from 'express';
import { GatewayError } from '../lib/errors.js';
import type { StreamedBody } from '../lib/gateway/types.js';
import { multipartBoundary, MultipartError, MultipartScanner } from './multipart-parser.js';
import { readUntil, Spool } from './multipart-spool.js';

/** Bytes of an upload held in memory while looking for its model field (beyond: a temporary file). */
export const DEFAULT_HOLD_BYTES = 4 * 1024 * 1024;
/** Longest `model` field value accepted. */
export const MAX_MODEL_FIELD_BYTES = 4096;

export interface UploadOptions {
  readonly maxUploadBytes: number;
  readonly holdBytes?: number;
  readonly tmpDir?: string;
}

/** Where the form's model field sits: its value and its byte range in the body. */
export interface FieldSpan {
  readonly value: string;
  readonly start: number;
  readonly end: number;
}

/** A multipart request read up to its model field (`res.locals.siestaUpload`). */
export interface Upload {
  /** The first plain (non-file) field named `model`, or undefined when the form has none. */
  readonly model: string | undefined;
  /** The body to forward, the model field's value replaced by `replacement` when given. Call once. */
  body(replacement?: string): StreamedBody;
}

export function uploadOf(res: Response): Upload | undefined {
  return (res.locals as { siestaUpload?: Upload }).siestaUpload;
}

function tooLarge(maxUploadBytes: number): GatewayError {
  return new GatewayError('body_too_large', `Multipart upload is larger than maxUploadSize (${maxUploadBytes} bytes)`, { headers: { connection: 'close' } });
}

/** Scans a form for the first plain field `name`; `span` is set once its value is complete. */
export class FieldFinder {
  span: FieldSpan | undefined;
  readonly scanner: MultipartScanner;
  #start = -1;
  #chunks: Buffer[] = [];
  #bytes = 0;

  constructor(boundary: string, name = 'model') {
    this.scanner = new MultipartScanner(boundary, {
      onPartStart: (headers, offset) => {
        if (this.span === undefined && this.#start < 0 && headers.name === name && headers.filename === undefined) this.#start = offset;
      },
      onPartData: (data) => {
        if (this.#start < 0 || this.span) return;
        this.#bytes += data.length;
        if (this.#bytes > MAX_MODEL_FIELD_BYTES) throw new MultipartError(`the form's ${name} field is longer than ${MAX_MODEL_FIELD_BYTES} bytes`);
        this.#chunks.push(Buffer.from(data));
      },
      onPartEnd: (offset) => {
        if (this.#start < 0 || this.span) return;
        this.span = { value: Buffer.concat(this.#chunks).toString('utf8'), start: this.#start, end: offset };
        this.#chunks = [];
      },
    });
  }
}

/** The form field `name` of a body already in memory (express.raw), with its byte range. */
export function findField(body: Buffer, contentType: string, name = 'model'): FieldSpan | undefined {
  const boundary = multipartBoundary(contentType);
  if (!boundary) return undefined;
  const finder = new FieldFinder(boundary, name);
  try {
    finder.scanner.write(body);
  } catch (error) {
    if (error instanceof MultipartError) return undefined;
    throw error;
  }
  return finder.span;
}

/** `body` with bytes [start, end) replaced by `insert`: pure. */
export function spliceBuffer(body: Buffer, start: number, end: number, insert: Buffer): Buffer {
  return Buffer.concat([body.subarray(0, start), insert, body.subarray(end)]);
}

/** Chunks of `source` (starting at byte 0) with bytes [start, end) replaced by `insert`. */
export async function* spliceChunks(source: AsyncIterable<Buffer> | Iterable<Buffer>, start: number, end: number, insert: Buffer): AsyncGenerator<Buffer> {
  let offset = 0;
  let inserted = false;
  for await (const chunk of source) {
    const from = offset;
    const to = offset + chunk.length;
    offset = to;
    if (to <= start || from >= end) {
      if (!inserted && from >= end) {
        inserted = true;
        if (insert.length > 0) yield insert;
      }
      yield chunk;
      continue;
    }
    if (from < start) yield chunk.subarray(0, start - from);
    if (!inserted) {
      inserted = true;
      if (insert.length > 0) yield insert;
    }
    if (to > end) yield chunk.subarray(end - from);
  }
  if (!inserted && offset >= start) yield insert;
}

/** Counts what passes and fails with 413 past `maxBytes` (counting from `already`). */
async function* capped(source: AsyncIterable<Buffer>, already: number, maxBytes: number): AsyncGenerator<Buffer> {
  let total = already;
  for await (const chunk of source) {
    total += chunk.length;
    if (total > maxBytes) throw tooLarge(maxBytes);
    yield chunk;
  }
}

export function createUploadMiddleware(options: Readonly<UploadOptions>): RequestHandler {
  const { maxUploadBytes } = options;
  const holdBytes = options.holdBytes ?? DEFAULT_HOLD_BYTES;
  const tmpDir = options.tmpDir ?? tmpdir();
  return async function uploadMiddleware(req, res, next) {
    const boundary = multipartBoundary(req.headers['content-type']);
    if (!boundary) return next();
    const declared = req.headers['content-length'] === undefined ? undefined : Number(req.headers['content-length']);
    if (declared !== undefined && declared > maxUploadBytes) return next(tooLarge(maxUploadBytes));
    const spool = new Spool(holdBytes, tmpDir);
    let opened = false;
    res.once('close', () => void spool.dispose());
    // Answered without forwarding (unknown model, 429, ...): read and drop the rest of the upload,
    // as Node does for a body nobody read, so the connection can serve the next request.
    res.once('finish', () => {
      if (!opened && !req.readableEnded) req.resume();
    });
    const finder = new FieldFinder(boundary);
    let outcome: 'stopped' | 'ended';
    try {
      outcome = await readUntil(req, async (chunk) => {
        if (spool.bytes + chunk.length > maxUploadBytes) throw tooLarge(maxUploadBytes);
        await spool.write(chunk);
        finder.scanner.write(chunk);
        return finder.span !== undefined;
      });
      if (outcome === 'ended') finder.scanner.end();
    } catch (error) {
      // The rest of the body stays unread: end the connection after the error.
      if (!res.headersSent) res.setHeader('connection', 'close');
      if (error instanceof MultipartError) throw new GatewayError('bad_request', `Multipart body: ${error.message}`, { cause: error });
      throw error;
    }
    const { span } = finder;
    const upload: Upload = {
      model: span?.value,
      body(replacement) {
        if (opened) throw new Error('bug: an upload body is opened once');
        opened = true;
        const insert = span && replacement !== undefined && replacement !== span.value ? Buffer.from(replacement, 'utf8') : undefined;
        const delta = insert && span ? insert.length - (span.end - span.start) : 0;
        const spooled = insert && span ? spliceChunks(spool.read(), span.start, span.end, insert) : spool.read();
        const rest = outcome === 'stopped' ? capped(req as AsyncIterable<Buffer>, spool.bytes, maxUploadBytes) : undefined;
        async function* all(): AsyncGenerator<Buffer> {
          yield* spooled;
          if (rest) yield* rest;
        }
        return { stream: Readable.from(all(), { objectMode: false }), length: declared === undefined ? undefined : declared + delta };
      },
    };
    (res.locals as { siestaUpload?: Upload }).siestaUpload = upload;
    next();
  };
}

export { multipartBoundary };

/**
 * What the fake upstream received: the body read once, summarised for the recorder and the echo
 * routes. A JSON or other body is kept as text (as before); a multipart form is parsed as it
 * streams in (fields kept, file parts only counted and hashed), so a 200 MB upload is never held.
 */
import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { multipartBoundary, MultipartScanner } from '../middleware/multipart-parser.js';

/** Multipart bodies up to this size are also kept as text (tests read small forms whole). */
const KEEP_TEXT_BYTES = 1024 * 1024;

export interface ReceivedFile {
  readonly name: string;
  readonly filename: string;
  readonly contentType: string | undefined;
  readonly bytes: number;
  readonly sha256: string;
}

export interface ReceivedForm {
  /** Plain fields in order (a name may repeat). */
  readonly fields: readonly (readonly [name: string, value: string])[];
  readonly files: readonly ReceivedFile[];
}

export interface Received {
  /** The body as text; '' for a multipart body larger than 1 MiB. */
  readonly text: string;
  readonly bytes: number;
  readonly sha256: string;
  readonly contentType: string | undefined;
  /** The parsed form of a multipart body; its parse error, if it was malformed. */
  readonly form?: ReceivedForm;
  readonly formError?: string;
}

export async function receive(req: IncomingMessage): Promise<Received> {
  const contentType = req.headers['content-type'];
  const boundary = multipartBoundary(contentType);
  const hash = createHash('sha256');
  let bytes = 0;
  if (!boundary) {
    const chunks: Buffer[] = [];
    for await (const chunk of req as AsyncIterable<Buffer>) {
      chunks.push(chunk);
      hash.update(chunk);
      bytes += chunk.length;
    }
    return { text: Buffer.concat(chunks).toString('utf8'), bytes, sha256: hash.digest('hex'), contentType };
  }
  const fields: [string, string][] = [];
  const files: ReceivedFile[] = [];
  let part: { name: string; filename: string | undefined; contentType: string | undefined; chunks: Buffer[]; bytes: number; hash: ReturnType<typeof createHash> } | undefined;
  const scanner = new MultipartScanner(boundary, {
    onPartStart: (headers) => {
      part = { ...headers, chunks: [], bytes: 0, hash: createHash('sha256') };
    },
    onPartData: (data) => {
      if (!part) return;
      part.bytes += data.length;
      if (part.filename === undefined) part.chunks.push(Buffer.from(data));
      else part.hash.update(data);
    },
    onPartEnd: () => {
      if (!part) return;
      if (part.filename === undefined) fields.push([part.name, Buffer.concat(part.chunks).toString('utf8')]);
      else files.push({ name: part.name, filename: part.filename, contentType: part.contentType, bytes: part.bytes, sha256: part.hash.digest('hex') });
      part = undefined;
    },
  });
  const kept: Buffer[] = [];
  let formError: string | undefined;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    hash.update(chunk);
    bytes += chunk.length;
    if (bytes <= KEEP_TEXT_BYTES) kept.push(chunk);
    if (formError === undefined) {
      try {
        scanner.write(chunk);
      } catch (error) {
        formError = (error as Error).message;
      }
    }
  }
  if (formError === undefined) {
    try {
      scanner.end();
    } catch (error) {
      formError = (error as Error).message;
    }
  }
  return {
    text: bytes <= KEEP_TEXT_BYTES ? Buffer.concat(kept).toString('utf8') : '',
    bytes,
    sha256: hash.digest('hex'),
    contentType,
    form: { fields, files },
    ...(formError !== undefined ? { formError } : {}),
  };
}

/** The model a request names: the JSON body's, the form's `model` field, else `?model=`. */
export function receivedModel(received: Received, query: URLSearchParams): string | undefined {
  if (received.form) {
    const field = received.form.fields.find(([name]) => name === 'model');
    if (field) return field[1];
  } else if (received.text !== '') {
    try {
      const value: unknown = JSON.parse(received.text);
      if (value && typeof value === 'object' && typeof (value as { model?: unknown }).model === 'string') return (value as { model: string }).model;
    } catch {
      // not JSON
    }
  }
  return query.get('model') ?? undefined;
}

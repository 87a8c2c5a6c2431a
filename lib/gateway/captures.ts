/**
 * Request/response captures of recent model requests (`GET /api/captures/{id}`, llama-swap's
 * `captureBuffer`), kept in memory up to a total number of bytes; the oldest go first, and a
 * capture bigger than the whole buffer is not kept. Credentials are never stored: Authorization,
 * Proxy-Authorization, Cookie, Set-Cookie and X-Api-Key read `[REDACTED]`.
 *
 * The JSON is llama-swap's `ReqRespCapture` (internal/server/captures.go): bodies are bytes in Go,
 * so they travel base64-encoded, and null when not kept. Unlike llama-swap the buffer counts the
 * uncompressed bytes (llama-swap counts zstd-compressed CBOR), so the same setting keeps fewer.
 */

/** llama-swap's `ReqRespCapture` JSON. */
export interface CaptureJson {
  readonly id: number;
  readonly req_path: string;
  readonly req_headers: Readonly<Record<string, string>> | null;
  readonly req_body: string | null;
  readonly resp_headers: Readonly<Record<string, string>> | null;
  readonly resp_body: string | null;
}

/** Headers as node:http holds them (a message's `headers`, `getHeaders()`). */
export type HeaderRecord = Readonly<Record<string, string | number | readonly string[] | undefined>>;

/**
 * One capture as kept. The headers are the message's own objects, redacted (and the response's
 * Content-Encoding left out) only when the capture is read: most captures are never read, and
 * redacting two header sets on every request was a visible share of the journal's cost.
 */
export interface Capture {
  readonly id: number;
  readonly reqPath: string;
  readonly reqHeaders: HeaderRecord | null;
  readonly reqBody: Buffer | null;
  readonly respHeaders: HeaderRecord | null;
  readonly respBody: Buffer | null;
}

/** What a route keeps (llama-swap's `captureFields` mask). */
export interface CaptureFields {
  readonly reqHeaders: boolean;
  readonly reqBody: boolean;
  readonly respHeaders: boolean;
  readonly respBody: boolean;
}

const ALL: CaptureFields = { reqHeaders: true, reqBody: true, respHeaders: true, respBody: true };

/** llama-swap's `captureFieldsByPath`: audio and image routes keep no binary bodies. */
const FIELDS_BY_PATH: Readonly<Record<string, CaptureFields>> = {
  '/v1/audio/speech': { reqHeaders: true, reqBody: true, respHeaders: true, respBody: false },
  '/v1/audio/voices': { reqHeaders: true, reqBody: false, respHeaders: true, respBody: true },
  '/v1/audio/transcriptions': { reqHeaders: true, reqBody: false, respHeaders: true, respBody: true },
  '/v1/images/generations': { reqHeaders: true, reqBody: true, respHeaders: true, respBody: false },
  '/v1/images/edits': { reqHeaders: true, reqBody: false, respHeaders: true, respBody: false },
  '/sdapi/v1/txt2img': { reqHeaders: true, reqBody: true, respHeaders: true, respBody: false },
  '/sdapi/v1/img2img': { reqHeaders: true, reqBody: false, respHeaders: true, respBody: false },
};

export function captureFieldsFor(path: string): CaptureFields {
  return FIELDS_BY_PATH[path] ?? ALL;
}

/** llama-swap's `sensitiveHeaders`. */
const SENSITIVE = new Set(['authorization', 'proxy-authorization', 'cookie', 'set-cookie', 'x-api-key']);

/** Canonical keys seen so far: the same few header names come back on every request. */
const CANONICAL_KEYS = new Map<string, string>();
const MAX_CANONICAL_KEYS = 1024;

/** Go's canonical header key (`content-type` → `Content-Type`), as llama-swap's header maps show them. */
export function canonicalHeaderKey(name: string): string {
  let key = CANONICAL_KEYS.get(name);
  if (key === undefined) {
    key = name.toLowerCase().replace(/(^|-)([a-z])/g, (_match, dash: string, letter: string) => dash + letter.toUpperCase());
    if (CANONICAL_KEYS.size < MAX_CANONICAL_KEYS) CANONICAL_KEYS.set(name, key);
  }
  return key;
}

/**
 * Headers as one value per name (the first, as llama-swap's `headerMap`), credentials redacted;
 * `skip` (lower case) is left out.
 */
export function redactedHeaders(headers: HeaderRecord, skip?: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined) continue;
    const first: string | number | undefined = typeof value === 'string' || typeof value === 'number' ? value : value[0];
    if (first === undefined) continue;
    const lower = name.toLowerCase();
    if (lower === skip) continue;
    out[canonicalHeaderKey(name)] = SENSITIVE.has(lower) ? '[REDACTED]' : String(first);
  }
  return out;
}

export function captureJson(capture: Capture): CaptureJson {
  return {
    id: capture.id,
    req_path: capture.reqPath,
    req_headers: capture.reqHeaders && redactedHeaders(capture.reqHeaders),
    req_body: capture.reqBody ? capture.reqBody.toString('base64') : null,
    // The body is kept decoded, so the response's Content-Encoding no longer describes it.
    resp_headers: capture.respHeaders && redactedHeaders(capture.respHeaders, 'content-encoding'),
    resp_body: capture.respBody ? capture.respBody.toString('base64') : null,
  };
}

/** What the headers count for: names and values (each value of a repeated header). */
function headerBytes(headers: HeaderRecord | null): number {
  if (!headers) return 0;
  let bytes = 0;
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined) continue;
    bytes += name.length;
    if (typeof value === 'string') bytes += value.length;
    else if (typeof value === 'number') bytes += String(value).length;
    else for (const item of value) bytes += item.length;
  }
  return bytes;
}

/** The bytes a capture counts for in the buffer. */
export function captureSize(capture: Capture): number {
  return capture.reqPath.length + headerBytes(capture.reqHeaders) + headerBytes(capture.respHeaders) + (capture.reqBody?.length ?? 0) + (capture.respBody?.length ?? 0);
}

/** The captures, newest kept, their total size at most `maxBytes` (0 = keep none). */
export class CaptureStore {
  readonly #captures = new Map<number, { capture: Capture; size: number }>();
  #bytes = 0;
  #maxBytes: number;

  constructor(maxBytes: number) {
    this.#maxBytes = Math.max(0, maxBytes);
  }

  get enabled(): boolean {
    return this.#maxBytes > 0;
  }

  get maxBytes(): number {
    return this.#maxBytes;
  }

  get bytes(): number {
    return this.#bytes;
  }

  setMaxBytes(maxBytes: number): void {
    this.#maxBytes = Math.max(0, maxBytes);
    this.#evict(0);
  }

  /** Keep `capture`, dropping the oldest as needed; false (nothing changed) when it alone is too big. */
  add(capture: Capture): boolean {
    const size = captureSize(capture);
    if (!this.enabled || size > this.#maxBytes) return false;
    this.#drop(capture.id);
    this.#evict(size);
    this.#captures.set(capture.id, { capture, size });
    this.#bytes += size;
    return true;
  }

  has(id: number): boolean {
    return this.#captures.has(id);
  }

  get(id: number): Capture | undefined {
    return this.#captures.get(id)?.capture;
  }

  #drop(id: number): void {
    const held = this.#captures.get(id);
    if (!held) return;
    this.#captures.delete(id);
    this.#bytes -= held.size;
  }

  /** Drop the oldest until `incoming` more bytes fit. */
  #evict(incoming: number): void {
    for (const id of this.#captures.keys()) {
      if (this.#bytes + incoming <= this.#maxBytes) return;
      this.#drop(id);
    }
  }
}

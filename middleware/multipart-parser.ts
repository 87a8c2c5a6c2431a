/**
 * A streaming multipart/form-data scanner (RFC 7578 / RFC 2046 §5.1): bytes in, part events out,
 * nothing held but a part's headers and a delimiter's worth of lookahead. Part bodies are handed
 * on as slices of the input (no copy); offsets are absolute byte positions in the whole body, so a
 * caller can replace a part's bytes on the fly. No I/O: the gateway and the fake upstream feed it.
 */

/** A part's headers, as the scanner reads them from `Content-Disposition` and `Content-Type`. */
export interface PartHeaders {
  /** The form field name ('' when absent). */
  readonly name: string;
  /** The file name of a file part; undefined for a plain field. */
  readonly filename: string | undefined;
  readonly contentType: string | undefined;
}

export interface PartEvents {
  /** A part begins; its body starts at byte `offset` of the whole body. */
  onPartStart?(headers: PartHeaders, offset: number): void;
  onPartData?(data: Buffer): void;
  /** The part's body ended at byte `offset` (exclusive; the delimiter's CRLF begins there). */
  onPartEnd?(offset: number): void;
  /** The closing delimiter was read. */
  onEnd?(): void;
}

export class MultipartError extends Error {
  override name = 'MultipartError';
}

/** The boundary of a `multipart/form-data; boundary=...` content type; undefined if it is not one. */
export function multipartBoundary(contentType: string | undefined): string | undefined {
  if (!contentType || !/^\s*multipart\/form-data\b/i.test(contentType)) return undefined;
  const match = /;\s*boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType);
  const boundary = match?.[1] ?? match?.[2];
  return boundary && boundary.length <= 200 ? boundary : undefined;
}

/** Read `name` and `filename` of a part's headers block (latin1 text, CRLF-separated). */
export function parsePartHeaders(block: string): PartHeaders {
  let name = '';
  let filename: string | undefined;
  let contentType: string | undefined;
  for (const line of block.split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const key = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    if (key === 'content-type') contentType = value;
    if (key !== 'content-disposition') continue;
    for (const match of value.matchAll(/;\s*([\w*-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;\s]*))/g)) {
      const param = match[1]!.toLowerCase();
      const raw = match[2] !== undefined ? match[2].replace(/\\(.)/g, '$1') : (match[3] ?? '');
      // Header bytes arrive as latin1; browsers and form-data libraries send UTF-8 names.
      const text = Buffer.from(raw, 'latin1').toString('utf8');
      if (param === 'name') name = text;
      if (param === 'filename') filename = text;
    }
  }
  return { name, filename, contentType };
}

type State = 'preamble' | 'after-delimiter' | 'headers' | 'body' | 'done';

/** Longest part header block accepted. */
export const MAX_PART_HEADER_BYTES = 16 * 1024;

/**
 * Feed it with `write(chunk)` and `end()`. Throws `MultipartError` on a malformed form (headers too
 * long, a body that ends before the closing delimiter).
 */
export class MultipartScanner {
  readonly #delimiter: Buffer;
  readonly #events: PartEvents;
  /** Unprocessed bytes; `#carry[0]` is at absolute offset `#carryAt`. */
  #carry: Buffer;
  #carryAt: number;
  #state: State = 'preamble';

  constructor(boundary: string, events: PartEvents) {
    this.#delimiter = Buffer.from(`\r\n--${boundary}`, 'latin1');
    this.#events = events;
    // Every delimiter is CRLF--boundary; the first one may open the body without a CRLF, so the
    // scan starts on a virtual CRLF placed before byte 0.
    this.#carry = Buffer.from('\r\n', 'latin1');
    this.#carryAt = -2;
  }

  get done(): boolean {
    return this.#state === 'done';
  }

  write(chunk: Buffer): void {
    if (this.#state === 'done') return;
    const buffer = this.#carry.length > 0 ? Buffer.concat([this.#carry, chunk]) : chunk;
    const base = this.#carryAt;
    let pos = 0;
    const keep = (from: number): void => {
      this.#carry = buffer.subarray(from);
      this.#carryAt = base + from;
    };
    for (;;) {
      switch (this.#state) {
        case 'preamble': {
          const at = buffer.indexOf(this.#delimiter, pos);
          if (at < 0) return keep(Math.max(pos, buffer.length - this.#delimiter.length + 1));
          pos = at + this.#delimiter.length;
          this.#state = 'after-delimiter';
          break;
        }
        case 'after-delimiter': {
          if (buffer.length - pos < 2) return keep(pos);
          if (buffer[pos] === 0x2d && buffer[pos + 1] === 0x2d) {
            this.#state = 'done';
            this.#carry = Buffer.alloc(0);
            this.#events.onEnd?.();
            return;
          }
          // Transport padding (spaces, tabs) may precede the CRLF.
          const crlf = buffer.indexOf('\r\n', pos, 'latin1');
          if (crlf < 0) {
            if (buffer.length - pos > 1024) throw new MultipartError('malformed multipart body: no line break after a boundary');
            return keep(pos);
          }
          pos = crlf + 2;
          this.#state = 'headers';
          break;
        }
        case 'headers': {
          if (buffer.length - pos < 2) return keep(pos);
          let headers = '';
          if (buffer[pos] === 0x0d && buffer[pos + 1] === 0x0a) {
            pos += 2; // an empty header block
          } else {
            const end = buffer.indexOf('\r\n\r\n', pos, 'latin1');
            if (end < 0) {
              if (buffer.length - pos > MAX_PART_HEADER_BYTES) throw new MultipartError(`malformed multipart body: part headers longer than ${MAX_PART_HEADER_BYTES} bytes`);
              return keep(pos);
            }
            headers = buffer.toString('latin1', pos, end);
            pos = end + 4;
          }
          this.#state = 'body';
          this.#events.onPartStart?.(parsePartHeaders(headers), base + pos);
          break;
        }
        case 'body': {
          const at = buffer.indexOf(this.#delimiter, pos);
          if (at < 0) {
            // Hand on all but what could be the start of a delimiter.
            const safe = Math.max(pos, buffer.length - this.#delimiter.length + 1);
            if (safe > pos) this.#events.onPartData?.(buffer.subarray(pos, safe));
            return keep(safe);
          }
          if (at > pos) this.#events.onPartData?.(buffer.subarray(pos, at));
          this.#events.onPartEnd?.(base + at);
          pos = at + this.#delimiter.length;
          this.#state = 'after-delimiter';
          break;
        }
        default:
          return;
      }
    }
  }

  /** The body ended: a form without its closing delimiter is malformed. */
  end(): void {
    if (this.#state !== 'done') throw new MultipartError('malformed multipart body: it ends before the closing boundary');
  }
}

/**
 * A long-lived response (SSE, followed logs) whose client may stop reading. Every write first looks
 * at how much the response already holds in memory (`res.writableLength`: Node's outgoing buffer
 * plus the socket's); past `maxBufferedBytes` the client is dropped (its socket destroyed) instead
 * of letting the buffer grow without bound. A client that reads normally never gets near the bound.
 */
import type { Response } from 'express';

export const DEFAULT_MAX_BUFFERED_BYTES = 1024 * 1024;

export interface BoundedStreamOptions {
  readonly maxBufferedBytes?: number;
  /** Called once when the stream ends for any reason; `dropped` = cut for falling behind. */
  readonly onClose?: (info: { dropped: boolean }) => void;
}

export class BoundedStream {
  readonly #res: Response;
  readonly #maxBufferedBytes: number;
  readonly #onClose: BoundedStreamOptions['onClose'];
  #closed = false;
  #dropped = false;
  /** The most the response held in memory just before a write (for tests and diagnostics). */
  peakBufferedBytes = 0;

  constructor(res: Response, options: Readonly<BoundedStreamOptions> = {}) {
    this.#res = res;
    this.#maxBufferedBytes = options.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED_BYTES;
    this.#onClose = options.onClose;
    res.once('close', () => this.#finish());
  }

  get closed(): boolean {
    return this.#closed;
  }

  get dropped(): boolean {
    return this.#dropped;
  }

  /** Bytes held in memory for this client right now. */
  bufferedBytes(): number {
    return this.#res.writableLength;
  }

  /**
   * Write unless closed; drops the client (and returns false) when it has fallen too far behind.
   * `initial`: the first write of a response (a snapshot or log history, itself bounded by the log
   * rings) may exceed the bound on its own; only what follows it is held to the bound.
   */
  write(chunk: string, options: { initial?: boolean } = {}): boolean {
    if (this.#closed || this.#res.writableEnded || this.#res.destroyed) return false;
    const buffered = this.#res.writableLength;
    if (buffered > this.peakBufferedBytes) this.peakBufferedBytes = buffered;
    if (!options.initial && buffered + Buffer.byteLength(chunk) > this.#maxBufferedBytes) {
      this.#dropped = true;
      // destroy() rather than end(): end() would queue behind the data the client does not read.
      this.#res.destroy();
      this.#finish();
      return false;
    }
    this.#res.write(chunk);
    return true;
  }

  /** End the response normally. */
  end(chunk?: string): void {
    if (this.#closed) return;
    if (!this.#res.writableEnded && !this.#res.destroyed) this.#res.end(chunk);
    this.#finish();
  }

  #finish(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#onClose?.({ dropped: this.#dropped });
  }
}

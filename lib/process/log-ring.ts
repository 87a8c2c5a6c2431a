/**
 * A bounded ring of a model's log (or the gateway's), read as lines and followed live.
 *
 * A model server's output is kept as the raw chunks read from its pipes, bounded by bytes, and
 * split into lines only when someone reads the ring (`lines()`, `tail()`): llama-server writes
 * several lines per request, and keeping a string and an object per line cost the gateway CPU and
 * garbage on the request path while nobody looked. Followers (`on('line')`) still get every line,
 * in order, as each chunk arrives; the chunk is split for them and the lines are not kept.
 *
 * Lines are split on '\n' in the bytes, before decoding, so a multi-byte UTF-8 character cut
 * across two chunks decodes whole; a '\r' before the '\n' is dropped. A line's `seq` counts every
 * line the ring was given (dropped ones too, so a follower can tell lines were lost) and its `at`
 * is when the chunk that completed it arrived.
 */
import { EventEmitter } from 'node:events';

export interface LogLine {
  readonly seq: number;
  readonly at: number;
  readonly source: string;
  readonly text: string;
}

const NEWLINE = 0x0a;
const CARRIAGE_RETURN = 0x0d;

/** Raw output of one source: its lines are numbered from `firstSeq`. */
interface Chunk {
  readonly kind: 'chunk';
  readonly source: string;
  readonly at: number;
  readonly bytes: Buffer;
  /** The seq of the first line this chunk completes. */
  readonly firstSeq: number;
  /** Its first bytes continue a line that an earlier chunk of the same source began. */
  readonly continues: boolean;
}

/** A line given whole (`push`): siesta's own lines, the gateway's log. */
interface Whole {
  readonly kind: 'line';
  readonly line: LogLine;
  readonly bytes: number;
}

type Entry = Chunk | Whole;

/** The start of a line whose newline has not arrived: its pieces, oldest first. */
type Open = Buffer[];

/** Decode one line (the open pieces, then `bytes[start, end)`), without its '\r'. */
function decodeLine(open: Open | undefined, bytes: Buffer, start: number, end: number): string {
  const whole = open && open.length > 0 ? Buffer.concat([...open, bytes.subarray(start, end)]) : bytes.subarray(start, end);
  const length = whole.length > 0 && whole[whole.length - 1] === CARRIAGE_RETURN ? whole.length - 1 : whole.length;
  return whole.toString('utf8', 0, length);
}

/**
 * Split `bytes` into the lines it completes, `open` being the start of the first one; calls
 * `onLine(text, index)` for each. Returns the line left open: `open` grown by `bytes` when there is
 * no newline, the bytes after the last newline, or undefined when `bytes` ends with one.
 */
function splitLines(open: Open | undefined, bytes: Buffer, onLine: (text: string, index: number) => void): Open | undefined {
  let start = 0;
  let index = 0;
  for (let newline = bytes.indexOf(NEWLINE); newline >= 0; newline = bytes.indexOf(NEWLINE, start)) {
    onLine(decodeLine(index === 0 ? open : undefined, bytes, start, newline), index);
    index += 1;
    start = newline + 1;
  }
  return openAfter(open, bytes, index === 0 ? -1 : start - 1);
}

/** The line left open after `bytes`, whose last newline is at `lastNewline` (-1: none). */
function openAfter(open: Open | undefined, bytes: Buffer, lastNewline: number): Open | undefined {
  if (lastNewline === bytes.length - 1) return undefined;
  if (lastNewline >= 0) return [bytes.subarray(lastNewline + 1)];
  return open ? [...open, bytes] : [bytes];
}

/** How many '\n' `bytes` holds (a native scan, no strings). */
function countNewlines(bytes: Buffer): number {
  let count = 0;
  for (let at = bytes.indexOf(NEWLINE); at >= 0; at = bytes.indexOf(NEWLINE, at + 1)) count += 1;
  return count;
}

/** Keep at most `maxBytes` of an open line (a server that never ends its line: progress bars with '\r'): its newest bytes. */
function capOpen(open: Open | undefined, maxBytes: number): Open | undefined {
  if (!open || open.length < 2) return open;
  let bytes = 0;
  for (const piece of open) bytes += piece.length;
  if (bytes <= maxBytes) return open;
  const whole = Buffer.concat(open);
  return [whole.subarray(whole.length - maxBytes)];
}

export class LogRing extends EventEmitter<{ line: [LogLine] }> {
  readonly #maxBytes: number;
  #entries: Entry[] = [];
  #bytes = 0;
  #seq = 0;
  /** Per source, the bytes of the line still open (for followers and `flush`). */
  readonly #open = new Map<string, Open>();

  /** `maxBytes`: what the ring keeps, in bytes of output (the newest entry is always kept). */
  constructor(maxBytes = 256 * 1024) {
    super();
    this.setMaxListeners(0);
    this.#maxBytes = maxBytes;
  }

  /** Append one complete line. */
  push(source: string, text: string): LogLine {
    const line: LogLine = { seq: ++this.#seq, at: Date.now(), source, text };
    this.#append({ kind: 'line', line, bytes: Buffer.byteLength(text) });
    this.emit('line', line);
    return line;
  }

  /** Append a chunk of a stream (bytes as read, or text); its lines complete as their newlines arrive. */
  write(source: string, chunk: Uint8Array | string): void {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    if (bytes.length === 0) return;
    const open = this.#open.get(source);
    const at = Date.now();
    const firstSeq = this.#seq + 1;
    this.#seq += countNewlines(bytes);
    this.#append({ kind: 'chunk', source, at, bytes, firstSeq, continues: open !== undefined });
    // Lines are made only for followers; otherwise only the open line's end is remembered.
    const rest = this.listenerCount('line') > 0
      ? splitLines(open, bytes, (text, index) => this.emit('line', { seq: firstSeq + index, at, source, text }))
      : openAfter(open, bytes, bytes.lastIndexOf(NEWLINE));
    const capped = capOpen(rest, this.#maxBytes);
    if (capped) this.#open.set(source, capped);
    else this.#open.delete(source);
  }

  /** Flush a pending partial line (the stream ended without a newline). */
  flush(source: string): void {
    if (!this.#open.has(source)) return;
    this.write(source, '\n');
  }

  /** Every line the ring holds, oldest first (split from the kept chunks now). */
  lines(): readonly LogLine[] {
    const lines: LogLine[] = [];
    // Per source, the line left open by its previous chunk; null: its start was dropped with an old chunk.
    const open = new Map<string, Open | null>();
    for (const entry of this.#entries) {
      if (entry.kind === 'line') {
        lines.push(entry.line);
        continue;
      }
      const { source, at, firstSeq, bytes } = entry;
      const before = open.get(source);
      // A chunk that continues a line whose start was dropped: that line is dropped whole.
      const truncated = before === null || (entry.continues && before === undefined);
      const rest = splitLines(before ?? undefined, bytes, (text, index) => {
        if (index > 0 || !truncated) lines.push({ seq: firstSeq + index, at, source, text });
      });
      if (rest === undefined) open.delete(source);
      else open.set(source, truncated && bytes.indexOf(NEWLINE) < 0 ? null : rest);
    }
    return lines;
  }

  tail(count: number): string {
    return this.lines().slice(-count).map((line) => line.text).join('\n');
  }

  #append(entry: Entry): void {
    this.#entries.push(entry);
    this.#bytes += entry.kind === 'chunk' ? entry.bytes.length : entry.bytes;
    let drop = 0;
    while (this.#bytes > this.#maxBytes && drop < this.#entries.length - 1) {
      const old = this.#entries[drop]!;
      this.#bytes -= old.kind === 'chunk' ? old.bytes.length : old.bytes;
      drop += 1;
    }
    if (drop > 0) this.#entries = this.#entries.slice(drop);
  }
}

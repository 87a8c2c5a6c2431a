/** A bounded ring of log lines that can be read and followed. Bounded by total characters. */
import { EventEmitter } from 'node:events';

export interface LogLine {
  readonly seq: number;
  readonly at: number;
  readonly source: string;
  readonly text: string;
}

export class LogRing extends EventEmitter<{ line: [LogLine] }> {
  readonly #maxChars: number;
  #lines: LogLine[] = [];
  #chars = 0;
  #seq = 0;
  #partial = new Map<string, string>();

  constructor(maxChars = 256 * 1024) {
    super();
    this.setMaxListeners(0);
    this.#maxChars = maxChars;
  }

  /** Append one complete line. */
  push(source: string, text: string): LogLine {
    const line: LogLine = { seq: ++this.#seq, at: Date.now(), source, text };
    this.#lines.push(line);
    this.#chars += text.length;
    while (this.#chars > this.#maxChars && this.#lines.length > 1) {
      this.#chars -= this.#lines.shift()!.text.length;
    }
    this.emit('line', line);
    return line;
  }

  /** Append a chunk of a stream; complete lines are pushed, the rest waits for its newline. */
  write(source: string, chunk: string): void {
    const pending = this.#partial.get(source);
    // Scanned with indexOf (no regex split, no array of parts): a server may print lines per request.
    let start = 0;
    for (let newline = chunk.indexOf('\n'); newline >= 0; newline = chunk.indexOf('\n', start)) {
      const end = newline > start && chunk.charCodeAt(newline - 1) === 13 ? newline - 1 : newline;
      let text = chunk.slice(start, end);
      if (start === 0 && pending) {
        // A '\r' that ended the previous chunk belongs to this line's '\r\n'.
        text = newline === 0 && pending.endsWith('\r') ? pending.slice(0, -1) : pending + text;
      }
      this.push(source, text);
      start = newline + 1;
    }
    if (start === 0) {
      if (chunk !== '') this.#partial.set(source, (pending ?? '') + chunk);
    } else if (start < chunk.length) this.#partial.set(source, chunk.slice(start));
    else if (pending !== undefined) this.#partial.delete(source);
  }

  /** Flush a pending partial line (the stream ended without a newline). */
  flush(source: string): void {
    const rest = this.#partial.get(source);
    if (rest) this.push(source, rest);
    this.#partial.delete(source);
  }

  lines(): readonly LogLine[] {
    return this.#lines;
  }

  tail(count: number): string {
    return this.#lines.slice(-count).map((line) => line.text).join('\n');
  }
}

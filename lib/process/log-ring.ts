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
    const text = (this.#partial.get(source) ?? '') + chunk;
    const parts = text.split(/\r?\n/);
    this.#partial.set(source, parts.pop() ?? '');
    for (const part of parts) this.push(source, part);
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

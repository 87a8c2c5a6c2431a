/**
 * Reading a multipart upload before it is routed (middleware/multipart.ts): `Spool` keeps what was
 * read, the first `holdBytes` in memory and the rest in a temporary file (mode 0600, removed by
 * `dispose`), and `readUntil` feeds it the request's chunks one at a time until the caller has
 * what it needs, leaving the rest of the body unread in the paused stream.
 */
import { randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { Request } from 'express';
import { GatewayError } from '../lib/errors.js';

/** What was read before routing: the first `holdBytes` in memory, the rest in a temporary file. */
export class Spool {
  readonly #holdBytes: number;
  readonly #tmpDir: string;
  #memory: Buffer[] = [];
  #memoryBytes = 0;
  #file: FileHandle | undefined;
  #path: string | undefined;
  bytes = 0;

  constructor(holdBytes: number, tmpDir: string) {
    this.#holdBytes = holdBytes;
    this.#tmpDir = tmpDir;
  }

  async write(chunk: Buffer): Promise<void> {
    this.bytes += chunk.length;
    if (!this.#file && this.#memoryBytes + chunk.length <= this.#holdBytes) {
      this.#memory.push(chunk);
      this.#memoryBytes += chunk.length;
      return;
    }
    if (!this.#file) {
      this.#path = join(this.#tmpDir, `siesta-upload-${process.pid}-${randomUUID()}`);
      this.#file = await open(this.#path, 'wx', 0o600);
    }
    await this.#file.write(chunk);
  }

  /** The spooled bytes, in order (the file is closed for writing first). */
  async *read(): AsyncGenerator<Buffer> {
    yield* this.#memory;
    if (this.#path) {
      await this.#file?.close();
      this.#file = undefined;
      yield* createReadStream(this.#path, { highWaterMark: 256 * 1024 }) as AsyncIterable<Buffer>;
    }
  }

  async dispose(): Promise<void> {
    this.#memory = [];
    const file = this.#file;
    const path = this.#path;
    this.#file = undefined;
    this.#path = undefined;
    await file?.close().catch(() => undefined);
    if (path) await unlink(path).catch(() => undefined);
  }
}

/**
 * Feed the request's chunks to `onChunk` (one at a time: the stream is paused while it runs) until
 * it returns true ('stopped': the stream stays paused, unread data left in it) or the body ends.
 */
export function readUntil(req: Request, onChunk: (chunk: Buffer) => Promise<boolean>): Promise<'stopped' | 'ended'> {
  return new Promise((resolve, reject) => {
    let queue: Promise<boolean> = Promise.resolve(false);
    const cleanup = (): void => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
    };
    const fail = (error: unknown): void => {
      cleanup();
      reject(error instanceof Error ? error : new Error(String(error)));
    };
    function onData(chunk: Buffer): void {
      req.pause();
      queue = queue.then(async (stopped) => {
        if (stopped) return true;
        if (await onChunk(chunk)) {
          cleanup();
          resolve('stopped');
          return true;
        }
        req.resume();
        return false;
      });
      queue.catch(fail);
    }
    // 'end' may come while the last chunk is still being handled: wait for it.
    function onEnd(): void {
      queue.then((stopped) => {
        if (stopped) return;
        cleanup();
        resolve('ended');
      }, fail);
    }
    function onError(error: Error): void {
      fail(new GatewayError('client_gone', `The client's upload failed: ${error.message}`, { cause: error }));
    }
    function onClose(): void {
      if (!req.readableEnded) fail(new GatewayError('client_gone', 'The client went away during the upload'));
    }
    req.on('data', onData);
    req.once('end', onEnd);
    req.once('error', onError);
    req.once('close', onClose);
    req.resume();
  });
}

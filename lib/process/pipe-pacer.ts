/**
 * Read a child's output pipes on a timer instead of on every write.
 *
 * A ready llama-server writes several log lines per request, each in three write() calls; every
 * write wakes the gateway's event loop to read a few bytes (about 0.1–0.4 ms of gateway CPU per
 * request on the reference machine). Once the model is ready its output is not urgent: the pacer
 * stops reading the pipes and, every `intervalMs`, lets libuv read whatever has gathered (one
 * wake-up and one chunk per pipe instead of one per write), then stops again. The kernel keeps
 * the bytes meanwhile (a pipe holds 64 KiB; a server that fills it waits in write() for at most
 * one interval).
 *
 * The trap this works around: pausing a Readable does not stop Node reading a pipe (it reads
 * until the stream's buffer is full); only `readStop()` on the stream's handle does. The handle's
 * `reading` flag is left as it is, so the stream does not restart reading behind the pacer's back;
 * a stream Node itself paused (its buffer full) is left alone. A stream that is not backed by a
 * pipe handle (tests' PassThrough) is read as usual.
 */
import type { Readable } from 'node:stream';
import type { Clock, TimerHandle } from '../clock.js';

/** The part of libuv's stream handle (Node's internal `_handle`) the pacer uses. */
interface PipeHandle {
  readonly reading?: boolean;
  readStart(): number;
  readStop(): number;
}

export interface PipePacer {
  /** Read continuously again (an exit, a stop: the last lines must arrive promptly and whole). Idempotent. */
  stop(): void;
}

function handleOf(stream: Readable | null): PipeHandle | null {
  const handle = (stream as { _handle?: Partial<PipeHandle> | null } | null)?._handle;
  return handle && typeof handle.readStart === 'function' && typeof handle.readStop === 'function' ? (handle as PipeHandle) : null;
}

/** Read `streams` every `intervalMs` until `stop()`; a no-op for streams without a pipe handle. */
export function pacePipes(streams: readonly (Readable | null)[], clock: Clock, intervalMs: number): PipePacer {
  // Looked up on each use: a stream that ended or was destroyed has no handle any more.
  const each = (action: (handle: PipeHandle) => void): void => {
    for (const stream of streams) {
      const handle = handleOf(stream);
      if (handle?.reading === true) action(handle);
    }
  };
  if (!streams.some((stream) => handleOf(stream) !== null)) return { stop: () => undefined };
  let stopped = false;
  let timer: TimerHandle | null = null;
  const tick = (): void => {
    if (stopped) return;
    each((handle) => handle.readStart());
    // libuv reads what has gathered in this loop iteration's poll phase; immediates run right after it.
    setImmediate(() => {
      if (stopped) return;
      each((handle) => handle.readStop());
      timer = clock.setTimer(intervalMs, tick);
    });
  };
  each((handle) => handle.readStop());
  timer = clock.setTimer(intervalMs, tick);
  return {
    stop() {
      if (stopped) return;
      stopped = true;
      timer?.cancel();
      each((handle) => handle.readStart());
    },
  };
}

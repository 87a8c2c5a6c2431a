/**
 * Read a child's output pipes on a timer instead of on every write.
 *
 * A ready llama-server writes several log lines per request, each in three write() calls; every
 * write wakes the gateway's event loop to read a few bytes (about 0.1–0.4 ms of gateway CPU per
 * request on the reference machine). Once the model is ready its output is not urgent: after a
 * chunk the pacer stops reading the pipes for `intervalMs`, then lets libuv read whatever has
 * gathered in one turn (one wake-up and one chunk per pipe instead of one per write).
 *
 * The pause must stay short enough for the writer: Node's child "pipes" are Unix socket pairs, and
 * a socket's send buffer counts each write() as a packet of about 1 KiB whatever its size. With
 * llama-server's small writes (2–130 bytes) it is full after about 10 KiB of output; a 100 ms
 * pause held llama-server in write() and capped it near 85 requests/s. So the pause shrinks
 * while the output is busy (about 2 KiB per turn) and grows back when it calms.
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

/** What one read turn should bring at most: a writer that fills its socket blocks (see the top). */
const TURN_TARGET_BYTES = 2048;
const MIN_PAUSE_MS = 5;

/**
 * How long to stop reading after a turn that read `turnBytes` after a pause of `pauseMs`: long
 * enough to gather, short enough that the writer never fills the socket. Scaled so that the next
 * turn brings about TURN_TARGET_BYTES at the same rate, within [MIN_PAUSE_MS, maxMs].
 */
export function nextPauseMs(pauseMs: number, turnBytes: number, maxMs: number): number {
  const scaled = (pauseMs * TURN_TARGET_BYTES) / Math.max(1, turnBytes);
  return Math.min(maxMs, Math.max(Math.min(MIN_PAUSE_MS, maxMs), scaled));
}

/**
 * Read `streams` at most once per `intervalMs` while they are busy, until `stop()`. A quiet pipe is
 * read as usual (no timer runs: a timer tick costs the gateway about as much as a few reads here);
 * the first chunk after a quiet spell is read at once, then reading stops for a while and whatever
 * gathered meanwhile is read in one turn. A turn that reads nothing makes the pipes quiet again.
 * The pause adapts to the output rate (`nextPauseMs`), up to `intervalMs`. A no-op for streams
 * without a pipe handle.
 */
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
  /** 'quiet': read as usual; 'paused': reading stopped until the timer; 'turn': one read turn. */
  let phase: 'quiet' | 'paused' | 'turn' = 'quiet';
  let pauseMs = intervalMs;
  let turnBytes = 0;
  let timer: TimerHandle | null = null;
  const pauseNow = (): void => {
    phase = 'paused';
    each((handle) => handle.readStop());
    timer = clock.setTimer(pauseMs, turn);
  };
  const turn = (): void => {
    if (stopped) return;
    phase = 'turn';
    turnBytes = 0;
    each((handle) => handle.readStart());
    // libuv reads what has gathered in this loop iteration's poll phase; immediates run right after it.
    setImmediate(() => {
      if (stopped) return;
      if (turnBytes === 0) {
        phase = 'quiet';
        pauseMs = intervalMs;
        return;
      }
      pauseMs = nextPauseMs(pauseMs, turnBytes, intervalMs);
      pauseNow();
    });
  };
  const onData = (chunk: Buffer | string): void => {
    if (stopped) return;
    if (phase === 'quiet') pauseNow();
    else if (phase === 'turn') turnBytes += chunk.length;
  };
  for (const stream of streams) stream?.on('data', onData);
  return {
    stop() {
      if (stopped) return;
      stopped = true;
      timer?.cancel();
      for (const stream of streams) stream?.off('data', onData);
      each((handle) => handle.readStart());
    },
  };
}

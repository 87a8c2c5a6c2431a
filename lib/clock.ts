/** Time source and timers behind one small interface so tests can drive timers without waiting. */
export interface TimerHandle {
  cancel(): void;
}

export interface Clock {
  /** Milliseconds, monotonic enough for durations. */
  now(): number;
  setTimer(delayMs: number, callback: () => void): TimerHandle;
}

export const systemClock: Clock = {
  now: () => performance.timeOrigin + performance.now(),
  setTimer(delayMs, callback) {
    const timer = setTimeout(callback, delayMs);
    timer.unref();
    return { cancel: () => clearTimeout(timer) };
  },
};

/** A clock for tests: time moves only when `advance` is called; due timers fire in order. */
export class FakeClock implements Clock {
  #nowMs: number;
  #timers: { dueAt: number; seq: number; callback: () => void; cancelled: boolean }[] = [];
  #seq = 0;

  constructor(startMs = 1_000_000) {
    this.#nowMs = startMs;
  }

  now(): number {
    return this.#nowMs;
  }

  setTimer(delayMs: number, callback: () => void): TimerHandle {
    const timer = { dueAt: this.#nowMs + Math.max(0, delayMs), seq: this.#seq++, callback, cancelled: false };
    this.#timers.push(timer);
    return { cancel: () => { timer.cancelled = true; } };
  }

  /** Number of timers still armed. */
  get pending(): number {
    return this.#timers.filter((t) => !t.cancelled).length;
  }

  advance(ms: number): void {
    const target = this.#nowMs + ms;
    for (;;) {
      const live = this.#timers.filter((t) => !t.cancelled && t.dueAt <= target);
      if (live.length === 0) break;
      live.sort((a, b) => a.dueAt - b.dueAt || a.seq - b.seq);
      const next = live[0]!;
      next.cancelled = true;
      this.#nowMs = Math.max(this.#nowMs, next.dueAt);
      next.callback();
    }
    this.#nowMs = target;
    this.#timers = this.#timers.filter((t) => !t.cancelled);
  }
}

/**
 * A pause of `delayMs` on `clock`, for code that awaits time (poll back-off, kill grace, drain
 * bounds): `done` resolves when the timer fires; `cancel` disarms it (`done` then never resolves,
 * so race it against what you wait for). On a FakeClock it ends only when the test advances time.
 */
export function pause(clock: Clock, delayMs: number): { readonly done: Promise<void>; cancel(): void } {
  let timer: TimerHandle | undefined;
  const done = new Promise<void>((resolve) => (timer = clock.setTimer(delayMs, resolve)));
  return { done, cancel: () => timer?.cancel() };
}

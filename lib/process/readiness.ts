/**
 * Adaptive readiness polling: the first poll comes almost at once and the interval backs off to a
 * ceiling (100 ms), so a model that is ready after 3.2 s is seen at ~3.2 s, not at the next whole
 * second. Servers print a line when they start listening, so any output from the child also cuts
 * the current wait short: the moment of readiness is usually seen within a millisecond or two.
 */
import { pause, systemClock, type Clock } from '../clock.js';
import type { HttpClient } from './http.js';

/** The delays between polls: pure, so the schedule can be asserted exactly. */
export function pollDelays(firstMs = 5, factor = 1.5, maxMs = 100): () => number {
  let next = firstMs;
  return () => {
    const current = next;
    next = Math.min(maxMs, Math.ceil(next * factor));
    return current;
  };
}

export interface ReadinessOptions {
  readonly url: string;
  readonly deadlineMs: number;
  readonly http: HttpClient;
  /** Resolves (with a reason) when waiting should stop early, e.g. the process exited. */
  readonly abandon: Promise<string>;
  readonly firstDelayMs?: number;
  readonly maxDelayMs?: number;
  /** Registers a callback to call when the child shows activity (a log line); returns an unsubscribe. */
  readonly onActivity?: (poke: () => void) => () => void;
  /** The pauses between polls and the deadline run on it (default the system clock). */
  readonly clock?: Clock;
}

/**
 * Not ready: `reason` for the logs and the model's state; `summary`, the same in words an API
 * client is told ("health check timed out: …", or why waiting stopped, e.g. the exit code).
 */
export type ReadinessResult = { ready: true; polls: number } | { ready: false; reason: string; summary: string; polls: number };

export async function waitReady(options: ReadinessOptions): Promise<ReadinessResult> {
  const clock = options.clock ?? systemClock;
  const started = clock.now();
  const elapsed = (): number => clock.now() - started;
  const delays = pollDelays(options.firstDelayMs ?? 5, 1.5, options.maxDelayMs ?? 100);
  let abandoned: string | null = null;
  void options.abandon.then((reason) => {
    abandoned = reason;
  });
  let cutWaitShort: (() => void) | undefined;
  const unsubscribe = options.onActivity?.(() => cutWaitShort?.());
  let polls = 0;
  let lastStatus = 'no answer yet';
  try {
    for (;;) {
      const remaining = options.deadlineMs - elapsed();
      if (abandoned !== null) return { ready: false, reason: abandoned, summary: abandoned, polls };
      if (remaining <= 0) {
        const reason = `not ready after ${Math.round(options.deadlineMs / 1000)}s (last check: ${lastStatus})`;
        return { ready: false, reason, summary: `health check timed out: ${reason}`, polls };
      }
      polls++;
      try {
        const result = await options.http.request({ url: options.url, timeoutMs: Math.max(50, Math.min(remaining, 5000)) });
        if (result.status === 200) return { ready: true, polls };
        lastStatus = `HTTP ${result.status}`;
      } catch (error) {
        lastStatus = (error as { code?: string }).code ?? (error as Error).message;
      }
      const wait = pause(clock, Math.min(delays(), Math.max(0, options.deadlineMs - elapsed())));
      const poked = new Promise<void>((resolve) => (cutWaitShort = resolve));
      await Promise.race([wait.done, poked, options.abandon]);
      wait.cancel();
      cutWaitShort = undefined;
    }
  } finally {
    unsubscribe?.();
  }
}

/**
 * The timers of a model at rest, on the injected clock: the next rung of its idle ladder (the
 * decision of which rung is `nextIdleStep`, pure) and, for a backend that sleeps by itself, the
 * status poll. The owner says when to arm and cancel, and what a due rung does.
 */
import type { IdleStep } from '../config/types.js';
import type { Clock, TimerHandle } from '../clock.js';
import { nextIdleStep, type IdlePosition } from './idle-ladder.js';

export interface IdleTimersOptions {
  readonly clock: Clock;
  /** How often the status poll runs. */
  readonly statusPollMs: number;
  /** A rung fell due (`index` in the ladder). */
  readonly onDue: (step: IdleStep, index: number) => void;
  /** One status poll; the next is armed when it settles, while `keepPolling` says so. */
  readonly poll: () => Promise<unknown>;
  readonly keepPolling: () => boolean;
}

export interface IdleArming {
  /** Where the model stands; null = nothing to arm (not ready, not asleep). */
  readonly position: IdlePosition | null;
  readonly ladder: readonly IdleStep[];
  readonly defaultLevel: number;
  /** The rungs are due this long after it (the last completed request, or readiness). */
  readonly idleSince: number;
  /** Whether to poll the backend's own sleep status too. */
  readonly pollStatus: boolean;
}

export class IdleTimers {
  readonly #options: IdleTimersOptions;
  #step: TimerHandle | null = null;
  #status: TimerHandle | null = null;
  /** Rungs of the ladder already taken in this period of idleness. */
  stepsDone = 0;

  constructor(options: IdleTimersOptions) {
    this.#options = options;
  }

  /** Cancel what is armed, then arm the next rung (and the status poll) for `arming`. */
  arm(arming: IdleArming): void {
    this.cancel();
    if (!arming.position) return;
    const { clock } = this.#options;
    const next = nextIdleStep(arming.ladder, arming.position, arming.defaultLevel, this.stepsDone);
    if (next) {
      const dueAt = arming.idleSince + next.step.afterMs;
      this.#step = clock.setTimer(dueAt - clock.now(), () => {
        this.#step = null;
        this.#options.onDue(next.step, next.index);
      });
    }
    if (arming.pollStatus) this.#armStatusPoll();
  }

  /** Cancel the rung only (a request began; the status poll goes on). */
  cancelStep(): void {
    this.#step?.cancel();
    this.#step = null;
  }

  cancel(): void {
    this.cancelStep();
    this.#status?.cancel();
    this.#status = null;
  }

  #armStatusPoll(): void {
    this.#status = this.#options.clock.setTimer(this.#options.statusPollMs, () => {
      this.#status = null;
      void this.#options.poll().finally(() => {
        if (this.#options.keepPolling() && !this.#status) this.#armStatusPoll();
      });
    });
  }
}

/**
 * The requests in flight on one model process, the one count of them: each admitted request holds
 * a lease until it ends. A sleep or stop waits for the count to reach zero (`drained`), a stop at
 * most `drainMs` on the clock (`drainFor`). The owner hears each change through the hooks.
 *
 * Why the scheduler keeps its own granted set beside this count (issue 12 item 3): the two are fed
 * by one act (a grant takes a lease; the served lease's release ends both, effect-runner.ts), but
 * neither can replace the other. This count outlives the manager and its scheduler: after a config
 * reload it still holds the old manager's requests on an adopted process (the new scheduler sees
 * them as one stand-in grant) and those on a retiring process (in no scheduler at all), and the
 * drains of an admin unload, an idle step and a reload wait on it. The scheduler is pure and
 * synchronous, so it cannot ask a process; it needs the ids of its grants to match `serve-done`
 * and `cancel`, and decides evictions on them. The per-model concurrency limit
 * (middleware/concurrency-limit.ts) is a third, different fact: requests from arrival to the
 * response's close, queued ones included.
 */
import { pause, type Clock } from '../clock.js';

export interface Lease {
  /** Marks the request finished; idempotent. */
  release(): void;
}

export interface LeaseHooks {
  /** A lease was taken (the count just went up). */
  readonly onTake: () => void;
  /** A lease was released (the count just went down), before any drain waiter runs. */
  readonly onRelease: () => void;
  /** The last lease was released (the count is zero again), after the drain waiters ran. */
  readonly onDrained: () => void;
}

export type DrainOutcome = 'drained' | 'cut' | 'timeout';

export class Leases {
  readonly #clock: Clock;
  readonly #hooks: LeaseHooks;
  #inFlight = 0;
  #waiters: (() => void)[] = [];

  constructor(clock: Clock, hooks: LeaseHooks) {
    this.#clock = clock;
    this.#hooks = hooks;
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  take(): Lease {
    this.#inFlight++;
    this.#hooks.onTake();
    let released = false;
    return {
      release: () => {
        if (released) return;
        released = true;
        this.#inFlight--;
        this.#hooks.onRelease();
        if (this.#inFlight > 0) return;
        const waiters = this.#waiters;
        this.#waiters = [];
        for (const waiter of waiters) waiter();
        this.#hooks.onDrained();
      },
    };
  }

  /** Resolves once no lease is out (at once when none is). */
  drained(): Promise<void> {
    if (this.#inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  /** Wait for the leases out to be released, at most `drainMs` on the clock, or until `cut` resolves. */
  async drainFor(drainMs: number, cut: Promise<void>): Promise<DrainOutcome> {
    if (this.#inFlight === 0) return 'drained';
    const bound = pause(this.#clock, drainMs);
    const outcome = await Promise.race([
      this.drained().then(() => 'drained' as const),
      cut.then(() => 'cut' as const),
      bound.done.then(() => 'timeout' as const),
    ]);
    bound.cancel();
    return outcome;
  }
}

/**
 * The requests waiting for the scheduler to grant them their model, by request id: each one's
 * promise, its client's abort signal and the progress it is told (state, queue position, start
 * step). A waiter leaves when it is granted, rejected, cancelled by its client, or moved to the
 * next manager on a config reload; whoever takes it settles it.
 */
import { GatewayError } from '../errors.js';
import type { ReadyOutcome } from '../process/model-process.js';
import type { AcquireOptions, LoadProgress, ModelAccess } from './types.js';

export interface Waiter {
  readonly requestId: string;
  readonly model: string;
  /** performance.now() when the request asked: `waitedMs` counts from here. */
  readonly askedAt: number;
  readonly signal: AbortSignal;
  readonly onProgress: ((progress: LoadProgress) => void) | undefined;
  /** 1-based place in the queue; null when not queued. */
  position: number | null;
  /** The start or wake this request waited for, once the load that made its model ready ended. */
  outcome: ReadyOutcome | null;
  /** Settle the request; either also stops listening for its client going away. */
  readonly resolve: (access: ModelAccess) => void;
  readonly reject: (error: unknown) => void;
  /** Stop listening for the client going away (the request moves to another manager). */
  readonly detach: () => void;
}

export class Waiters {
  readonly #byRequest = new Map<string, Waiter>();

  /**
   * Register a waiting request and return its promise. When its client goes away while it waits,
   * it leaves, `onCancel` runs (tell the scheduler) and it rejects with `client_gone`; a signal
   * aborted already does that at once (check `has` before telling the scheduler of the request).
   */
  add(requestId: string, model: string, options: AcquireOptions, onCancel: () => void): Promise<ModelAccess> {
    return new Promise<ModelAccess>((resolve, reject) => {
      const onAbort = (): void => {
        if (this.#byRequest.get(requestId) !== waiter) return; // granted, rejected or moved meanwhile
        this.#byRequest.delete(requestId);
        onCancel();
        waiter.reject(new GatewayError('client_gone'));
      };
      const detach = (): void => options.signal.removeEventListener('abort', onAbort);
      const settle = <T>(finish: (value: T) => void) => (value: T): void => {
        detach();
        finish(value);
      };
      const waiter: Waiter = {
        requestId,
        model,
        askedAt: performance.now(),
        signal: options.signal,
        onProgress: options.onProgress,
        position: null,
        outcome: null,
        resolve: settle(resolve),
        reject: settle(reject),
        detach,
      };
      this.#byRequest.set(requestId, waiter);
      if (options.signal.aborted) return onAbort();
      options.signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  has(requestId: string): boolean {
    return this.#byRequest.has(requestId);
  }

  get(requestId: string): Waiter | undefined {
    return this.#byRequest.get(requestId);
  }

  /** Remove the waiter (to settle it); undefined when it has left already. */
  take(requestId: string): Waiter | undefined {
    const waiter = this.#byRequest.get(requestId);
    this.#byRequest.delete(requestId);
    return waiter;
  }

  /** Remove every waiter (a config reload moves them to the next manager). */
  takeAll(): Waiter[] {
    const all = [...this.#byRequest.values()];
    this.#byRequest.clear();
    return all;
  }

  /** The waiters of one model, in arrival order. */
  *ofModel(model: string): Iterable<Waiter> {
    for (const waiter of this.#byRequest.values()) if (waiter.model === model) yield waiter;
  }

  /** Tell every waiter of `model` its progress; `progress` makes each one's (it reads the waiter's position). */
  tell(model: string, progress: (waiter: Waiter) => LoadProgress): void {
    for (const waiter of this.ofModel(model)) waiter.onProgress?.(progress(waiter));
  }
}

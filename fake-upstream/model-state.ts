/** What the fake model is doing: loaded, which parts sleep, requests in flight. One instance per process. */
import { EventEmitter, once } from 'node:events';

/** A generation request being answered (admitted past any sleep gate). */
export interface ActiveGeneration {
  /** Set by a vLLM `/sleep` in `abort` mode: the generation ends early with `finish_reason: "abort"`. */
  aborted: boolean;
}

export class ModelState {
  loaded = false;
  /** vLLM tracks weights and KV cache separately; the other backends move both together. */
  weightsAsleep = false;
  kvCacheAsleep = false;
  /** After a level-2 sleep the weights were discarded: woken weights hold garbage until `reload_weights`. */
  weightsStale = false;
  /** Level of the current sleep; null while fully awake. */
  level: number | null = null;
  /** Generation requests received and not yet answered (including those waiting for a wake). */
  inFlight = 0;
  /** Generation requests answered. */
  served = 0;
  promptTokensTotal = 0;
  predictedTokensTotal = 0;
  readonly active = new Set<ActiveGeneration>();
  private readonly events = new EventEmitter();

  constructor() {
    this.events.setMaxListeners(0);
  }

  get asleep(): boolean {
    return this.weightsAsleep || this.kvCacheAsleep;
  }

  /** Call after any mutation so waiters re-check their condition. */
  changed(): void {
    this.events.emit('change');
  }

  sleepAll(level: number, discardWeights = false): void {
    this.weightsAsleep = true;
    this.kvCacheAsleep = true;
    this.level = level;
    if (discardWeights) this.weightsStale = true;
    this.changed();
  }

  wakeParts(parts: { weights: boolean; kvCache: boolean }): void {
    if (parts.weights) this.weightsAsleep = false;
    if (parts.kvCache) this.kvCacheAsleep = false;
    if (!this.asleep) this.level = null;
    this.changed();
  }

  /** Resolve once `predicate` holds; reject with the signal's reason when it aborts first. */
  async waitUntil(predicate: () => boolean, signal: AbortSignal): Promise<void> {
    while (!predicate()) {
      signal.throwIfAborted();
      await once(this.events, 'change', { signal });
    }
  }
}

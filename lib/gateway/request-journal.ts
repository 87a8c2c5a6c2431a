/**
 * What the gateway remembers of model requests for llama-swap's management API: the activity log
 * (timings and token counts read from the model server's answer), captures (request and response
 * bodies, bounded) and the requests in progress (which can be cancelled).
 *
 * The request log middleware calls `track(req, res)` for every request; a request counts once it
 * has a model (resolve-model or the /upstream middleware set `res.locals.siesta`, or a peer's
 * context). Each request is followed by a RequestTracker (request-tracker.ts), which reads the
 * answer as it passes and records it here when the response closes.
 */
import type { Request, Response } from 'express';
import { ActivityLog, type ActivityEntry } from './activity.js';
import { CaptureStore } from './captures.js';
import { InflightRegistry } from './inflight.js';
import { RequestTracker, type RecordInput } from './request-tracker.js';

/** llama-swap's default `captureBuffer` (5 MB), until the gateway configures the journal. */
const DEFAULT_CAPTURE_BYTES = 5 * 1024 * 1024;

export interface JournalSettings {
  /** `metricsMaxInMemory`: activity entries kept (<= 0: 1000, as llama-swap). */
  readonly metricsMaxInMemory: number;
  /** `captureBuffer` in bytes; 0 keeps no captures. */
  readonly captureBufferBytes: number;
}

/** Totals since the gateway started (for `/api/performance`). */
export interface RequestTotals {
  readonly recorded: number;
  readonly failed: number;
  readonly inputTokens: number;
  readonly outputTokens: number;
}

export class RequestJournal {
  readonly activity: ActivityLog;
  readonly captures: CaptureStore;
  readonly inflight = new InflightRegistry();
  #totals: RequestTotals = { recorded: 0, failed: 0, inputTokens: 0, outputTokens: 0 };

  constructor(settings: Partial<JournalSettings> = {}) {
    this.activity = new ActivityLog(settings.metricsMaxInMemory ?? 1000);
    this.captures = new CaptureStore(settings.captureBufferBytes ?? DEFAULT_CAPTURE_BYTES);
  }

  /** Apply the configuration's bounds (at start and on every reload). */
  configure(settings: JournalSettings): void {
    this.activity.setMax(settings.metricsMaxInMemory);
    this.captures.setMaxBytes(settings.captureBufferBytes);
  }

  get totals(): RequestTotals {
    return this.#totals;
  }

  /**
   * Follow one request: call the returned `run(next)` to continue the chain inside the request's
   * context, and `finish()` once the response closed.
   */
  track(req: Request, res: Response): { run(next: () => void): void; finish(): void } {
    const tracker = new RequestTracker(this, req, res);
    return {
      run: (next) => next(),
      finish: () => tracker.finish(),
    };
  }

  record(input: RecordInput): ActivityEntry {
    const id = this.activity.peekId();
    const captured = this.captures.add({ id, ...input.capture });
    const entry = this.activity.add(input.activity, () => captured);
    const { tokens } = entry;
    this.#totals = {
      recorded: this.#totals.recorded + 1,
      failed: this.#totals.failed + (entry.resp_status_code === 200 ? 0 : 1),
      inputTokens: this.#totals.inputTokens + Math.max(0, tokens.input_tokens),
      outputTokens: this.#totals.outputTokens + Math.max(0, tokens.output_tokens),
    };
    return entry;
  }
}

/**
 * One journal per gateway, found from an object that lives as long as the gateway (its logger):
 * the request log (built again on every reload) and the management API reach the same journal
 * without more wiring in createGateway.
 */
const journals = new WeakMap<object, RequestJournal>();

export function journalOf(owner: object): RequestJournal {
  let journal = journals.get(owner);
  if (!journal) journals.set(owner, (journal = new RequestJournal()));
  return journal;
}

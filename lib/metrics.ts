/**
 * Prometheus metrics with prom-client, on a registry of the gateway's own (never the global one, so
 * several gateways in one process do not clash). Model metrics come from the model manager's state
 * changes and sleep/wake step timings; request metrics from the request log's `onDone` hook.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { MODEL_STATES, type StateChange } from './process/states.js';

/** One successful step of a sleep or wake (the recipe runner's timing, forwarded by the manager). */
export interface SleepStepSample {
  readonly model: string;
  readonly what: 'sleep' | 'wake';
  /** `http` or `cuda-checkpoint`. */
  readonly method: string;
  /** `POST /sleep?level=1`, `cuda-checkpoint lock`, `confirm`. */
  readonly step: string;
  readonly ms: number;
}

/** The part of the model manager metrics read: state changes, step timings, and in-flight counts at scrape time. */
export interface MetricsSource {
  on(event: 'state', listener: (change: StateChange) => void): unknown;
  on(event: 'sleep-step', listener: (sample: SleepStepSample) => void): unknown;
  off(event: 'state', listener: (change: StateChange) => void): unknown;
  off(event: 'sleep-step', listener: (sample: SleepStepSample) => void): unknown;
  processes(): readonly { readonly id: string; readonly state: string; readonly inFlight: number }[];
}

export type FallbackKind = 'sleep' | 'wake';

/**
 * Whether a state change is a fallback: a failed sleep that became a stop, or a failed wake that
 * became a stop and cold start. Read from the reasons the model process gives its `stopping`
 * transition (`sleep failed: ...`, `wake failed: ...`, `wake for deeper sleep failed: ...`).
 */
export function fallbackOf(change: Pick<StateChange, 'to' | 'reason'>): FallbackKind | null {
  if (change.to !== 'stopping') return null;
  if (change.reason.startsWith('sleep failed')) return 'sleep';
  if (change.reason.startsWith('wake failed') || change.reason.startsWith('wake for deeper sleep failed')) return 'wake';
  return null;
}

/** Cold starts take seconds to minutes; sleeps and wakes take milliseconds to tens of seconds. */
const START_BUCKETS = [0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600];
const SWAP_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
const STEP_BUCKETS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
const WAIT_BUCKETS = [0.005, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];

export interface RequestSample {
  readonly model: string | null;
  readonly status: number;
  /** Time the request waited for its model (queue + start/wake); absent when it never got one. */
  readonly waitMs?: number;
}

export class Metrics {
  readonly registry = new Registry();
  readonly #state: Gauge<'model' | 'state'>;
  readonly #starts: Counter<'model'>;
  readonly #sleeps: Counter<'model'>;
  readonly #wakes: Counter<'model'>;
  readonly #stops: Counter<'model'>;
  readonly #fallbacks: Counter<'model' | 'kind'>;
  readonly #startSeconds: Histogram<'model'>;
  readonly #sleepSeconds: Histogram<'model'>;
  readonly #wakeSeconds: Histogram<'model'>;
  readonly #waitSeconds: Histogram<'model'>;
  readonly #stepSeconds: Histogram<'model' | 'method' | 'step'>;
  readonly #requests: Counter<'model' | 'status'>;
  /**
   * The per-request series' children, by model (and status): prom-client hashes a label object on
   * every `inc`/`observe`; a child found once is incremented directly. Never reset, so never stale.
   */
  readonly #requestChildren = new Map<string, Map<number, { inc(): void }>>();
  readonly #waitChildren = new Map<string, { observe(value: number): void }>();
  readonly #routeDecisions: Counter<'outcome' | 'cost'>;
  #source: MetricsSource | null = null;
  readonly #onState = (change: StateChange): void => this.#observeState(change);
  readonly #onStep = (sample: SleepStepSample): void => this.observeStep(sample);

  constructor(options: { readonly defaultMetrics?: boolean } = {}) {
    const registers = [this.registry];
    this.#state = new Gauge({ name: 'siesta_model_state', help: 'Current state of each model (1 for its state, 0 for the others)', labelNames: ['model', 'state'], registers });
    this.#starts = new Counter({ name: 'siesta_model_starts_total', help: 'Cold starts begun', labelNames: ['model'], registers });
    this.#sleeps = new Counter({ name: 'siesta_model_sleeps_total', help: 'Models put to sleep (reached asleep)', labelNames: ['model'], registers });
    this.#wakes = new Counter({ name: 'siesta_model_wakes_total', help: 'Models woken from sleep (waking -> ready)', labelNames: ['model'], registers });
    this.#stops = new Counter({ name: 'siesta_model_stops_total', help: 'Models whose process stopped (any reason, crashes included)', labelNames: ['model'], registers });
    this.#fallbacks = new Counter({ name: 'siesta_model_fallbacks_total', help: 'Fallbacks: kind=sleep a failed sleep became a stop, kind=wake a failed wake became a stop and cold start', labelNames: ['model', 'kind'], registers });
    this.#startSeconds = new Histogram({ name: 'siesta_model_start_seconds', help: 'Duration of successful cold starts (starting -> ready)', labelNames: ['model'], buckets: START_BUCKETS, registers });
    this.#sleepSeconds = new Histogram({ name: 'siesta_model_sleep_seconds', help: 'Duration of successful sleeps (sleeping -> asleep, draining in-flight requests included)', labelNames: ['model'], buckets: SWAP_BUCKETS, registers });
    this.#wakeSeconds = new Histogram({ name: 'siesta_model_wake_seconds', help: 'Duration of successful wakes (waking -> ready)', labelNames: ['model'], buckets: SWAP_BUCKETS, registers });
    this.#waitSeconds = new Histogram({ name: 'siesta_request_wait_seconds', help: 'Time a request waited for its model (queue, start or wake) before being proxied', labelNames: ['model'], buckets: WAIT_BUCKETS, registers });
    this.#stepSeconds = new Histogram({
      name: 'siesta_sleep_step_seconds',
      help: 'Duration of each successful step of a sleep or wake (step = "sleep <step>" or "wake <step>"; confirm = polling the backend until it reports the new state)',
      labelNames: ['model', 'method', 'step'],
      buckets: STEP_BUCKETS,
      registers,
    });
    this.#requests = new Counter({ name: 'siesta_requests_total', help: 'Requests for a model, by final HTTP status (499 = client went away)', labelNames: ['model', 'status'], registers });
    this.#routeDecisions = new Counter({ name: 'siesta_route_decisions_total', help: 'Cluster routing decisions: outcome=local|peer|retry|forwarded-in|loop|unauthorized, cost=the chosen node\'s cost class (lib/cluster/route-decision.ts)', labelNames: ['outcome', 'cost'], registers });
    const source = (): MetricsSource | null => this.#source;
    new Gauge({
      name: 'siesta_model_in_flight',
      help: 'Requests being served by each model',
      labelNames: ['model'],
      registers,
      collect() {
        this.reset();
        for (const process of source()?.processes() ?? []) this.set({ model: process.id }, process.inFlight);
      },
    });
    if (options.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry });
  }

  /** Follow `source` (a model manager); stops following the previous one (config reload). */
  attach(source: MetricsSource): void {
    this.detach();
    this.#source = source;
    source.on('state', this.#onState);
    source.on('sleep-step', this.#onStep);
    this.#state.reset();
    for (const process of source.processes()) this.#setState(process.id, process.state);
  }

  detach(): void {
    this.#source?.off('state', this.#onState);
    this.#source?.off('sleep-step', this.#onStep);
  }

  /** Time one step of a sleep or wake. */
  observeStep(sample: SleepStepSample): void {
    this.#stepSeconds.observe({ model: sample.model, method: sample.method, step: `${sample.what} ${sample.step}` }, sample.ms / 1000);
  }

  /** Count one finished request (the request log's `onDone`). Requests that named no model are not counted. */
  observeRequest(sample: RequestSample): void {
    const { model, status } = sample;
    if (model === null) return;
    let byStatus = this.#requestChildren.get(model);
    if (!byStatus) this.#requestChildren.set(model, (byStatus = new Map<number, { inc(): void }>()));
    let counter = byStatus.get(status);
    if (!counter) byStatus.set(status, (counter = this.#requests.labels({ model, status: String(status) })));
    counter.inc();
    if (sample.waitMs === undefined) return;
    let wait = this.#waitChildren.get(model);
    if (!wait) this.#waitChildren.set(model, (wait = this.#waitSeconds.labels({ model })));
    wait.observe(sample.waitMs / 1000);
  }

  /** Count one cluster routing decision (middleware/cluster-route.ts). */
  routeDecision(outcome: string, cost: string): void {
    this.#routeDecisions.inc({ outcome, cost });
  }

  /** The exposition text and its content type. */
  async render(): Promise<{ contentType: string; text: string }> {
    return { contentType: this.registry.contentType, text: await this.registry.metrics() };
  }

  #setState(model: string, state: string): void {
    for (const candidate of MODEL_STATES) this.#state.set({ model, state: candidate }, candidate === state ? 1 : 0);
  }

  #observeState(change: StateChange): void {
    const { model } = change;
    this.#setState(model, change.to);
    const seconds = change.durationMs / 1000;
    if (change.to === 'starting') this.#starts.inc({ model });
    if (change.to === 'asleep') {
      this.#sleeps.inc({ model });
      if (change.from === 'sleeping') this.#sleepSeconds.observe({ model }, seconds);
    }
    if (change.from === 'waking' && change.to === 'ready') {
      this.#wakes.inc({ model });
      this.#wakeSeconds.observe({ model }, seconds);
    }
    if (change.from === 'starting' && change.to === 'ready') this.#startSeconds.observe({ model }, seconds);
    if (change.to === 'stopped') this.#stops.inc({ model });
    const fallback = fallbackOf(change);
    if (fallback) this.#fallbacks.inc({ model, kind: fallback });
  }
}

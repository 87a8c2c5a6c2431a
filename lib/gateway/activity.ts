/**
 * The activity log of llama-swap's UI (`GET /api/metrics/activity`, `GET /api/metrics/stats`): one
 * entry per model request with its timings and token counts, the newest `metricsMaxInMemory` kept
 * in memory. The JSON shapes are llama-swap's (internal/store/store.go: `ActivityLogEntry`,
 * `ActivityPage`, `ActivityStats`, `HistogramData`); the query rules are its `parseActivityQuery`.
 * Everything here but the ring itself is pure.
 */
import type { TokenMetrics } from './usage.js';

/** llama-swap's `ActivityLogEntry` JSON. */
export interface ActivityEntry {
  readonly id: number;
  /** ISO 8601. */
  readonly timestamp: string;
  readonly model: string;
  readonly req_path: string;
  readonly resp_content_type: string;
  readonly resp_status_code: number;
  readonly tokens: TokenMetrics;
  readonly duration_ms: number;
  readonly has_capture: boolean;
  readonly error_msg?: string;
  readonly metadata?: Readonly<Record<string, string>>;
}

export type NewActivity = Omit<ActivityEntry, 'id' | 'has_capture'>;

/**
 * The routes whose requests are recorded: llama-swap's three model route tables
 * (`modelPostJSONRoutes`, `modelPostFormRoutes`, `modelGetRoutes`, its `isMetricsRecordPath`), for
 * POST requests only, as its metrics middleware. `/upstream/<model>/<path>` counts when `<path>` is one.
 */
export const ACTIVITY_ROUTES: ReadonlySet<string> = new Set([
  '/v1/chat/completions', '/v1/responses', '/v1/completions', '/v1/messages', '/v1/messages/count_tokens', '/v1/embeddings',
  '/reranking', '/rerank', '/v1/rerank', '/v1/reranking', '/infill', '/completion', '/v1/audio/speech', '/v1/audio/voices',
  '/v1/images/generations', '/sdapi/v1/txt2img', '/sdapi/v1/img2img', '/audioapi/v1/tasks/run',
  '/v/chat/completions', '/v/responses', '/v/completions', '/v/messages', '/v/messages/count_tokens', '/v/embeddings', '/v/rerank', '/v/reranking',
  '/v1/audio/transcriptions', '/v1/images/edits',
  '/sdapi/v1/loras', '/props',
]);

/**
 * Whether a request is recorded: a POST to a model route, or to `/upstream/<model>/<route>`
 * (`forwardedPath` is then the path after the model, as the model server received it).
 */
export function isActivityRequest(method: string, path: string, forwardedPath: string): boolean {
  if (method !== 'POST') return false;
  if (ACTIVITY_ROUTES.has(path)) return true;
  return path.startsWith('/upstream/') && ACTIVITY_ROUTES.has(forwardedPath);
}

/** The newest entries, at most `max`; ids count up from 1 and are never reused. */
export class ActivityLog {
  #entries: ActivityEntry[] = [];
  #nextId = 1;
  #max: number;

  constructor(max = 1000) {
    this.#max = ActivityLog.bound(max);
  }

  /** llama-swap: `metricsMaxInMemory` <= 0 means its default, 1000. */
  static bound(max: number): number {
    return max > 0 ? Math.floor(max) : 1000;
  }

  setMax(max: number): void {
    this.#max = ActivityLog.bound(max);
    this.#compact();
  }

  /** Oldest first. */
  entries(): readonly ActivityEntry[] {
    this.#compact();
    return this.#entries;
  }

  add(entry: NewActivity, hasCapture: (id: number) => boolean = () => false): ActivityEntry {
    const id = this.#nextId++;
    const stored: ActivityEntry = { id, ...entry, has_capture: hasCapture(id) };
    this.#entries.push(stored);
    this.#trim();
    return stored;
  }

  /** Claim the next id (a capture is stored under it before the entry is added). */
  peekId(): number {
    return this.#nextId;
  }

  /**
   * Up to twice the bound is held between reads and cut back in one copy: copying the newest
   * `max` on every request once the log is full cost a copy of 1000 entries per request.
   */
  #trim(): void {
    if (this.#entries.length >= 2 * this.#max) this.#compact();
  }

  #compact(): void {
    if (this.#entries.length > this.#max) this.#entries = this.#entries.slice(-this.#max);
  }
}

/** llama-swap's sortable keys (the UI's column ids) and the entry value each sorts by. */
const SORT_KEYS: Readonly<Record<string, (entry: ActivityEntry) => number | string>> = {
  id: (entry) => entry.id,
  time: (entry) => Date.parse(entry.timestamp),
  model: (entry) => entry.model,
  req_path: (entry) => entry.req_path,
  resp_status_code: (entry) => entry.resp_status_code,
  resp_content_type: (entry) => entry.resp_content_type,
  cached: (entry) => entry.tokens.cache_tokens,
  prompt: (entry) => entry.tokens.input_tokens,
  generated: (entry) => entry.tokens.output_tokens,
  drafted: (entry) => entry.tokens.draft_tokens,
  prompt_speed: (entry) => entry.tokens.prompt_per_second,
  gen_speed: (entry) => entry.tokens.tokens_per_second,
  duration: (entry) => entry.duration_ms,
};

export interface ActivityQuery {
  readonly models: readonly string[];
  /** Epoch ms bounds, inclusive; null = unbounded. */
  readonly start: number | null;
  readonly end: number | null;
  readonly minId: number;
  readonly maxId: number;
  readonly limit: number;
  readonly page: number;
  readonly sort: string;
  readonly order: 'asc' | 'desc';
}

type QueryParams = Readonly<Record<string, unknown>>;

function values(params: QueryParams, name: string): string[] {
  const value = params[name];
  if (value === undefined) return [];
  return (Array.isArray(value) ? value : [value]).map((item) => String(item));
}

function first(params: QueryParams, name: string): string {
  return (values(params, name)[0] ?? '').trim();
}

/** Go's `time.Parse(time.RFC3339, …)`: a date, a time and a zone (Z or ±hh:mm). */
const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

/** llama-swap's `parseActivityQuery`: the query, or the message of its 400 answer. */
export function parseActivityQuery(params: QueryParams): ActivityQuery | { error: string } {
  const models = values(params, 'model').map((model) => model.trim()).filter((model) => model !== '');
  const time = (name: string): number | null | { error: string } => {
    const raw = first(params, name);
    if (raw === '') return null;
    const at = RFC3339.test(raw) ? Date.parse(raw) : NaN;
    return Number.isNaN(at) ? { error: `invalid '${name}' timestamp, use RFC3339 format` } : at;
  };
  const start = time('start');
  if (typeof start === 'object' && start !== null) return start;
  const end = time('end');
  if (typeof end === 'object' && end !== null) return end;
  if (start !== null && end !== null && start > end) return { error: 'start must be before end' };
  const id = (name: string): number | { error: string } => {
    const raw = first(params, name);
    if (raw === '') return 0;
    const value = /^[+-]?\d+$/.test(raw) ? Number(raw) : NaN;
    return Number.isInteger(value) && value >= 1 ? value : { error: `${name} must be >= 1` };
  };
  const minId = id('min_id');
  if (typeof minId === 'object') return minId;
  const maxId = id('max_id');
  if (typeof maxId === 'object') return maxId;
  if (minId > 0 && maxId > 0 && minId > maxId) return { error: 'min_id must be <= max_id' };
  let limit = 25;
  const rawLimit = first(params, 'limit');
  if (rawLimit !== '') {
    if (!/^[+-]?\d+$/.test(rawLimit)) return { error: 'invalid limit' };
    limit = Number(rawLimit);
    if (!(limit > 0 && limit < 1000)) return { error: 'limit must be between 1 and 999' };
  }
  let page = 1;
  const rawPage = first(params, 'page');
  if (rawPage !== '') {
    page = /^[+-]?\d+$/.test(rawPage) ? Number(rawPage) : NaN;
    if (!(page >= 1)) return { error: 'page must be >= 1' };
  }
  const sort = first(params, 'sort');
  if (sort !== '' && !(sort in SORT_KEYS)) return { error: 'invalid sort column' };
  const rawOrder = first(params, 'order').toLowerCase();
  if (rawOrder !== '' && rawOrder !== 'asc' && rawOrder !== 'desc') return { error: 'order must be asc or desc' };
  return { models, start, end, minId, maxId, limit, page, sort: sort || 'id', order: rawOrder === 'asc' ? 'asc' : 'desc' };
}

function matches(entry: ActivityEntry, query: Pick<ActivityQuery, 'models' | 'start' | 'end' | 'minId' | 'maxId'>): boolean {
  if (query.models.length > 0 && !query.models.includes(entry.model)) return false;
  const at = Date.parse(entry.timestamp);
  if (query.start !== null && at < query.start) return false;
  if (query.end !== null && at > query.end) return false;
  if (query.minId > 0 && entry.id < query.minId) return false;
  if (query.maxId > 0 && entry.id > query.maxId) return false;
  return true;
}

/** llama-swap's `ActivityPage` JSON. */
export interface ActivityPage {
  readonly data: readonly ActivityEntry[];
  readonly page: number;
  readonly limit: number;
  readonly total: number;
  readonly total_pages: number;
}

/** One page of entries, sorted by the query's column then id (both in its order), as llama-swap's store. */
export function activityPage(entries: readonly ActivityEntry[], query: ActivityQuery, hasCapture: (id: number) => boolean = () => false): ActivityPage {
  const key = SORT_KEYS[query.sort] ?? SORT_KEYS['id']!;
  const direction = query.order === 'asc' ? 1 : -1;
  const selected = entries.filter((entry) => matches(entry, query));
  selected.sort((a, b) => {
    const left = key(a);
    const right = key(b);
    const byKey = left < right ? -1 : left > right ? 1 : 0;
    return (byKey !== 0 ? byKey : a.id - b.id) * direction;
  });
  const offset = (query.page - 1) * query.limit;
  const total = selected.length;
  return {
    data: selected.slice(offset, offset + query.limit).map((entry) => ({ ...entry, has_capture: hasCapture(entry.id) })),
    page: query.page,
    limit: query.limit,
    total,
    total_pages: total === 0 ? 0 : Math.ceil(total / query.limit),
  };
}

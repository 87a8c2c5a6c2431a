/**
 * Requests in progress, with the ids that `POST /api/inflight/{id}/cancel` takes. llama-swap's UI
 * learns the ids from its event stream (`inflight` messages: a `snapshot`, then `upsert` and
 * `remove`); siesta lists them at `GET /api/inflight` in the shape of that snapshot message
 * (`{ operation: 'snapshot', requests: [...] }`, each request llama-swap's `InflightRequestEntry`).
 */

/** llama-swap's `InflightRequestEntry` JSON. */
export interface InflightEntry {
  readonly id: string;
  /** ISO 8601. */
  readonly timestamp: string;
  readonly model: string;
  readonly req_path: string;
  readonly method: string;
  readonly req_headers: Readonly<Record<string, string>>;
  readonly remote_ip: string;
  readonly resp_headers: Readonly<Record<string, string>>;
  readonly resp_bytes: number;
  readonly elapsed_ms: number;
}

/** What the registry asks of a request in progress. */
export interface InflightRequest {
  /** Null while the request names no model yet (or never will: not a model request). */
  describe(now: number): InflightEntry | null;
  /** Abort it; false when it cannot be cancelled (it has no model, or it already ended). */
  cancel(by: string): boolean;
}

export class InflightRegistry {
  readonly #requests = new Map<string, InflightRequest>();
  #nextId = 0;

  /** Register a request; returns its id. */
  add(request: InflightRequest): string {
    const id = String(++this.#nextId);
    this.#requests.set(id, request);
    return id;
  }

  remove(id: string): void {
    this.#requests.delete(id);
  }

  /** Model requests in progress, oldest first (llama-swap's snapshot order: timestamp, then id). */
  list(now = Date.now()): InflightEntry[] {
    const entries: InflightEntry[] = [];
    for (const request of this.#requests.values()) {
      const entry = request.describe(now);
      if (entry) entries.push(entry);
    }
    return entries.sort((a, b) => (a.timestamp === b.timestamp ? Number(a.id) - Number(b.id) : a.timestamp < b.timestamp ? -1 : 1));
  }

  get size(): number {
    return this.list().length;
  }

  /** Cancel the model request `id`; false when there is none (llama-swap answers 404 then). */
  cancel(id: string): boolean {
    const request = this.#requests.get(id);
    return request ? request.cancel(`POST /api/inflight/${id}/cancel`) : false;
  }
}

/**
 * A peer's models as this node sees them: built from the peer's `/api/events` (`snapshot`, `state`,
 * `model` events) or its `/api/models`, by pure functions over the admin API's JSON. Anything that
 * does not look like a model view is ignored (a peer of another version must not break routing).
 */
import { MODEL_STATES, type ModelState } from '../process/states.js';
import type { ModelStatus } from './types.js';

export type PeerModels = ReadonlyMap<string, ModelStatus>;

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

const count = (value: unknown): number => (typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : 0);

/** A ModelView (middleware/admin-api.ts) as a ModelStatus, or null. */
export function statusOfView(view: unknown): ModelStatus | null {
  if (!isRecord(view) || typeof view.id !== 'string' || !(MODEL_STATES as readonly unknown[]).includes(view.state)) return null;
  return {
    id: view.id,
    state: view.state as ModelState,
    asleepLevel: typeof view.asleepLevel === 'number' ? view.asleepLevel : view.state === 'sleeping' && typeof view.sleepLevel === 'number' ? view.sleepLevel : null,
    inFlight: count(view.inFlight),
    queued: count(view.queued),
    resources: (isRecord(view.resources) ? view.resources : {}),
  };
}

/** `{ models: [...] }` (GET /api/models, or a `snapshot` event's data) as a map by id. */
export function modelsOfList(data: unknown): Map<string, ModelStatus> | null {
  if (!isRecord(data) || !Array.isArray(data.models)) return null;
  const models = new Map<string, ModelStatus>();
  for (const view of data.models) {
    const status = statusOfView(view);
    if (status) models.set(status.id, status);
  }
  return models;
}

/** The models after one event (`snapshot`, `state`, `model`; others change nothing). Returns a new map when something changed. */
export function applyEvent(models: PeerModels, event: string, data: unknown): PeerModels {
  switch (event) {
    case 'snapshot':
      return modelsOfList(data) ?? models;
    case 'state':
    case 'model': {
      const status = statusOfView(event === 'state' && isRecord(data) ? data.model : data);
      if (!status) return models;
      const next = new Map(models);
      next.set(status.id, status);
      return next;
    }
    default:
      return models;
  }
}

/** Server-sent events, parsed incrementally (the subset siesta sends: `event:`, `data:`, comments, blank line ends an event). */
export class SseParser {
  #buffer = '';
  #event = '';
  #data: string[] = [];

  /** Feed a chunk; returns the events it completed. */
  push(chunk: string): { event: string; data: string }[] {
    this.#buffer += chunk;
    const done: { event: string; data: string }[] = [];
    let newline: number;
    while ((newline = this.#buffer.indexOf('\n')) >= 0) {
      const line = this.#buffer.slice(0, newline).replace(/\r$/, '');
      this.#buffer = this.#buffer.slice(newline + 1);
      if (line === '') {
        if (this.#data.length > 0) done.push({ event: this.#event || 'message', data: this.#data.join('\n') });
        this.#event = '';
        this.#data = [];
      } else if (line.startsWith(':')) {
        continue;
      } else {
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
        if (field === 'event') this.#event = value;
        else if (field === 'data') this.#data.push(value);
      }
    }
    return done;
  }
}

/** Reconnect delay after `failures` failures in a row: doubling from `baseMs`, capped at `maxMs`. Pure. */
export function backoffMs(failures: number, baseMs = 250, maxMs = 2000): number {
  return Math.min(maxMs, baseMs * 2 ** Math.max(0, failures - 1));
}

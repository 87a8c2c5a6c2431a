/**
 * Follows one peer's model states: its `/api/events` stream (authenticated with the cluster key),
 * or, when the peer has no usable stream, a poll of `/api/models`. The peer is `up` from its first
 * snapshot (or poll answer) until the stream breaks, a poll fails, or nothing (event, heartbeat)
 * arrived for `downAfterMs`: then it is marked down at once and the follower reconnects with a
 * doubling backoff (250 ms to 2 s), so a peer that comes back is up again within a backoff step.
 */
import { EventEmitter } from 'node:events';
import { request as httpRequest, type ClientRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { ResourceAmounts } from '../config/types.js';
import { systemClock, type Clock, type TimerHandle } from '../clock.js';
import type { Logger } from '../logger.js';
import { isEventStreamType } from '../http/sse.js';
import { applyEvent, backoffMs, modelsOfList, SseParser, type PeerModels } from './peer-state.js';

export const CLUSTER_KEY_HEADER = 'x-siesta-cluster-key';
/** Set by a node on the answers it gives its followers: its name and its budgets (JSON). */
export const NODE_HEADER = 'x-siesta-node';
export const BUDGETS_HEADER = 'x-siesta-budgets';

export interface PeerFollowerOptions {
  readonly url: string;
  readonly key: string;
  readonly downAfterMs: number;
  readonly connectTimeoutMs: number;
  readonly log: Logger;
  readonly clock?: Clock;
}

type FollowerEvents = { up: []; down: []; change: [] };

export function parseBudgets(value: string | string[] | undefined): ResourceAmounts | null {
  if (typeof value !== 'string') return null;
  try {
    const parsed = JSON.parse(value) as unknown;
    if (parsed === null || typeof parsed !== 'object') return null;
    const { vram, ram } = parsed as { vram?: unknown; ram?: unknown };
    const out: { vram?: number; ram?: number } = {};
    if (typeof vram === 'number') out.vram = vram;
    if (typeof ram === 'number') out.ram = ram;
    return out.vram === undefined && out.ram === undefined ? null : out;
  } catch {
    return null;
  }
}

export class PeerFollower extends EventEmitter<FollowerEvents> {
  readonly url: string;
  #models: PeerModels = new Map();
  #budgets: ResourceAmounts | null = null;
  #name: string | null = null;
  #up = false;
  #mode: 'events' | 'poll' = 'events';
  #failures = 0;
  #closed = false;
  #request: ClientRequest | null = null;
  #silence: TimerHandle | null = null;
  #next: TimerHandle | null = null;
  readonly #options: PeerFollowerOptions;
  readonly #clock: Clock;

  constructor(options: PeerFollowerOptions) {
    super();
    this.url = options.url;
    this.#options = options;
    this.#clock = options.clock ?? systemClock;
  }

  get up(): boolean {
    return this.#up;
  }

  get models(): PeerModels {
    return this.#models;
  }

  get budgets(): ResourceAmounts | null {
    return this.#budgets;
  }

  /** The peer's own name (`cluster.self` there), once it answered. */
  get name(): string | null {
    return this.#name;
  }

  get mode(): 'events' | 'poll' {
    return this.#mode;
  }

  start(): void {
    this.#connect();
  }

  close(): void {
    this.#closed = true;
    this.#silence?.cancel();
    this.#next?.cancel();
    this.#request?.destroy();
    this.#request = null;
    this.removeAllListeners();
  }

  #get(path: string, onResponse: (res: IncomingMessage) => void): ClientRequest {
    const url = new URL(path, `${this.url}/`);
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    const req = send(url, { method: 'GET', headers: { [CLUSTER_KEY_HEADER]: this.#options.key, accept: path.endsWith('events') ? 'text/event-stream' : 'application/json' }, agent: false }, onResponse);
    req.on('error', () => this.#fail('connection failed', req));
    req.end();
    return req;
  }

  /** No byte for downAfterMs (no heartbeat, no answer): the peer counts as gone. */
  #armSilence(request: ClientRequest): void {
    this.#silence?.cancel();
    this.#silence = this.#clock.setTimer(this.#options.downAfterMs, () => this.#fail(`silent for ${this.#options.downAfterMs} ms`, request));
  }

  #markUp(res: IncomingMessage): void {
    this.#failures = 0;
    this.#budgets = parseBudgets(res.headers[BUDGETS_HEADER]);
    const name = res.headers[NODE_HEADER];
    this.#name = typeof name === 'string' ? name : null;
    if (!this.#up) {
      this.#up = true;
      this.#options.log.info('cluster peer up', { peer: this.url, mode: this.#mode });
      this.emit('up');
    }
  }

  /** `request` failed: ignored unless it is the current one. */
  #fail(reason: string, request: ClientRequest): void {
    if (this.#closed || this.#request !== request) return;
    this.#request = null;
    request.destroy();
    this.#silence?.cancel();
    this.#failures++;
    if (this.#up) {
      this.#up = false;
      this.#options.log.warn('cluster peer down', { peer: this.url, reason });
      this.emit('down');
    }
    // After a failed poll, try the event stream again first.
    this.#mode = 'events';
    this.#next = this.#clock.setTimer(backoffMs(this.#failures), () => this.#connect());
  }

  #connect(): void {
    if (this.#closed) return;
    if (this.#mode === 'poll') return this.#poll();
    const parser = new SseParser();
    const request = this.#get('api/events', (res) => {
      if (res.statusCode !== 200 || !isEventStreamType(res.headers['content-type'])) {
        res.resume();
        if (res.statusCode === 401 || res.statusCode === 403) {
          this.#options.log.warn('cluster peer refused the cluster key', { peer: this.url, status: res.statusCode });
          return this.#fail(`HTTP ${res.statusCode}`, request);
        }
        // No usable event stream (another version, a proxy that buffers): poll instead.
        this.#mode = 'poll';
        this.#silence?.cancel();
        this.#request = null;
        return this.#poll();
      }
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        this.#armSilence(request);
        let changed = false;
        for (const { event, data } of parser.push(chunk)) {
          let parsed: unknown;
          try {
            parsed = JSON.parse(data);
          } catch {
            continue;
          }
          const next = applyEvent(this.#models, event, parsed);
          if (event === 'snapshot' && next !== this.#models) this.#markUp(res);
          if (next !== this.#models) {
            this.#models = next;
            changed = true;
          }
        }
        if (changed) this.emit('change');
      });
      res.on('close', () => this.#fail('event stream ended', request));
    });
    this.#request = request;
    this.#armSilence(request);
  }

  #poll(): void {
    if (this.#closed) return;
    let body = '';
    const request = this.#get('api/models', (res) => {
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => {
        if (this.#request !== request) return;
        let models: PeerModels | null;
        try {
          models = res.statusCode === 200 ? modelsOfList(JSON.parse(body)) : null;
        } catch {
          models = null;
        }
        if (!models) return this.#fail(`poll answered HTTP ${res.statusCode}`, request);
        this.#silence?.cancel();
        this.#request = null;
        this.#models = models;
        this.#markUp(res);
        this.emit('change');
        this.#next = this.#clock.setTimer(Math.max(100, Math.floor(this.#options.downAfterMs / 3)), () => this.#poll());
      });
    });
    this.#request = request;
    this.#armSilence(request);
  }
}

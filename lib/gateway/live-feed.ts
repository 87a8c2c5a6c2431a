/**
 * The gateway's live feed: state changes and log lines (the gateway's own and every model's) from
 * the current model manager, re-emitted in one place for the event stream (`/api/events`) and the
 * followed logs (`/logs/stream`). It outlives config reloads: `attach()` switches it to the new
 * manager and tells listeners to start over from a fresh snapshot.
 *
 * It also keeps the list of open long-lived responses, so that closing the gateway ends them (an
 * open SSE response would otherwise keep `server.close()` waiting forever).
 */
import { EventEmitter } from 'node:events';
import type { BoundedStream } from '../bounded-stream.js';
import type { LogLine, LogRing } from '../process/log-ring.js';
import type { StateChange } from '../process/states.js';
import type { ModelManager } from './model-manager.js';
import { findModelView, logEntry, modelViews, type LogEntry, type ModelView } from './model-view.js';

type FeedEvents = {
  state: [StateChange];
  log: [LogEntry];
  /** Something not carried by a state change (self-sleep status) changed for `model`. */
  changed: [string];
  /** The set of models changed (config reload): listeners should send a new snapshot. */
  reset: [];
  close: [];
};

export interface StreamStats {
  readonly open: number;
  /** Clients cut for falling behind, since the gateway started. */
  readonly dropped: number;
  /** The most any client's response held in memory just before a write. */
  readonly peakBufferedBytes: number;
}

export class LiveFeed extends EventEmitter<FeedEvents> {
  readonly gatewayLogs: LogRing;
  #manager: ModelManager | null = null;
  #detach: (() => void) | null = null;
  readonly #streams = new Set<BoundedStream>();
  #dropped = 0;
  #peakBufferedBytes = 0;
  #closed = false;

  /** Relays the current manager's model log lines; attached only while this feed's `log` has listeners. */
  readonly #relayLog = ({ model, line }: { model: string; line: LogLine }): void => void this.emit('log', logEntry(model, line));

  constructor(gatewayLogs: LogRing) {
    super();
    this.setMaxListeners(0);
    this.gatewayLogs = gatewayLogs;
    gatewayLogs.on('line', (line) => {
      if (this.listenerCount('log') > 0) this.emit('log', logEntry(null, line));
    });
    // Model output is followed only while someone follows the feed (an event stream, a followed
    // log, logToStdout): the manager then follows its processes' rings, which otherwise split
    // their output into lines only when read (lib/process/log-ring.ts).
    const emitter = this as EventEmitter;
    emitter.on('newListener', (event: string | symbol) => {
      if (event === 'log' && this.listenerCount('log') === 0) this.#manager?.on('log', this.#relayLog);
    });
    emitter.on('removeListener', (event: string | symbol) => {
      if (event === 'log' && this.listenerCount('log') === 0) this.#manager?.off('log', this.#relayLog);
    });
  }

  get manager(): ModelManager {
    if (!this.#manager) throw new Error('bug: live feed used before attach()');
    return this.#manager;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Follow `manager` (and stop following the previous one). */
  attach(manager: ModelManager): void {
    const first = this.#manager === null;
    this.#detach?.();
    this.#manager = manager;
    const onState = (change: StateChange): void => void this.emit('state', change);
    const onSelfSleep = ({ model }: { model: string }): void => void this.emit('changed', model);
    manager.on('state', onState);
    if (this.listenerCount('log') > 0) manager.on('log', this.#relayLog);
    manager.on('self-sleep', onSelfSleep);
    this.#detach = () => {
      manager.off('state', onState);
      manager.off('log', this.#relayLog);
      manager.off('self-sleep', onSelfSleep);
    };
    if (!first) this.emit('reset');
  }

  views(): ModelView[] {
    return modelViews(this.manager);
  }

  /** The view of one model by id, or null. */
  view(id: string): ModelView | null {
    return findModelView(this.manager, id);
  }

  /** Whether `id` names a configured model (id or alias); returns its id. */
  resolve(id: string): string | undefined {
    return this.manager.resolve(id)?.id;
  }

  /**
   * Recent log lines, oldest first: the gateway's and every model's (`model` undefined), only the
   * gateway's (`null`), or one model's. At most `perSource` lines from each ring.
   */
  recentLogs(model?: string | null, perSource = 500): LogEntry[] {
    const entries: LogEntry[] = [];
    if (model === undefined || model === null) entries.push(...this.gatewayLogs.lines().slice(-perSource).map((line) => logEntry(null, line)));
    if (model !== null) {
      for (const process of this.manager.processes()) {
        if (model !== undefined && process.id !== model) continue;
        entries.push(...process.logs.lines().slice(-perSource).map((line) => logEntry(process.id, line)));
      }
    }
    // Stable sort: lines of one ring keep their order when timestamps tie.
    return entries.sort((a, b) => a.at - b.at);
  }

  /** Keep `stream` in the list of open responses until it closes; closes it at once if the feed is closed. */
  track(stream: BoundedStream): void {
    if (this.#closed) {
      stream.end();
      return;
    }
    this.#streams.add(stream);
  }

  /** Called by a stream when it closes. */
  untrack(stream: BoundedStream): void {
    if (!this.#streams.delete(stream)) return;
    if (stream.dropped) this.#dropped++;
    this.#peakBufferedBytes = Math.max(this.#peakBufferedBytes, stream.peakBufferedBytes);
  }

  stats(): StreamStats {
    let peak = this.#peakBufferedBytes;
    for (const stream of this.#streams) peak = Math.max(peak, stream.peakBufferedBytes);
    return { open: this.#streams.size, dropped: this.#dropped, peakBufferedBytes: peak };
  }

  /** End every open stream and stop following the manager. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.emit('close');
    for (const stream of [...this.#streams]) stream.end();
    this.#detach?.();
    this.#detach = null;
  }
}

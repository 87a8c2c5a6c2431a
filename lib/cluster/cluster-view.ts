/**
 * The cluster as this node sees it: one PeerFollower per peer (static peers, plus DNS peers
 * resolved at start and every `dnsRefreshMs`: a new address is a new peer, a vanished one is
 * dropped), and the forwards in flight to each peer (load its events do not show yet).
 */
import { EventEmitter } from 'node:events';
import { promises as dns } from 'node:dns';
import type { ClusterConfig } from '../config/types.js';
import { systemClock, type Clock, type TimerHandle } from '../clock.js';
import type { Logger } from '../logger.js';
import { peerList } from './discovery.js';
import { PeerFollower } from './peer-follower.js';
import type { PeerStatus } from './types.js';

/** Resolves a DNS name to addresses (A and AAAA); a test seam. */
export type Resolver = (name: string) => Promise<string[]>;

export const resolveAll: Resolver = async (name) => {
  const [v4, v6] = await Promise.allSettled([dns.resolve4(name), dns.resolve6(name)]);
  const addresses = [...(v4.status === 'fulfilled' ? v4.value : []), ...(v6.status === 'fulfilled' ? v6.value : [])];
  if (addresses.length === 0 && v4.status === 'rejected' && v6.status === 'rejected') throw v4.reason;
  return addresses;
};

export interface ClusterViewOptions {
  readonly config: ClusterConfig;
  readonly log: Logger;
  readonly clock?: Clock;
  readonly resolve?: Resolver;
}

type ViewEvents = { down: [peer: string]; change: [] };

export class ClusterView extends EventEmitter<ViewEvents> {
  readonly #followers = new Map<string, PeerFollower>();
  readonly #pending = new Map<string, number>();
  readonly #options: ClusterViewOptions;
  readonly #clock: Clock;
  #refresh: TimerHandle | null = null;
  #closed = false;

  constructor(options: ClusterViewOptions) {
    super();
    this.setMaxListeners(0);
    this.#options = options;
    this.#clock = options.clock ?? systemClock;
  }

  get config(): ClusterConfig {
    return this.#options.config;
  }

  start(): void {
    this.#setPeers(peerList(this.config.peers, [], this.config.port, this.config.self));
    if (this.config.dns !== '') void this.#resolveDns();
  }

  /** The peers, as routing and `/api/cluster` see them (this node is added by the caller). */
  peers(): PeerStatus[] {
    return [...this.#followers.values()].map((follower) => ({
      id: follower.url,
      url: follower.url,
      name: follower.name,
      mode: follower.mode,
      up: follower.up,
      budgets: follower.budgets,
      models: follower.models,
      pending: this.#pending.get(follower.url) ?? 0,
    }));
  }

  isUp(url: string): boolean {
    return this.#followers.get(url)?.up === true;
  }

  /** Count a forward to `url` until the returned function is called. */
  beginForward(url: string): () => void {
    this.#pending.set(url, (this.#pending.get(url) ?? 0) + 1);
    let done = false;
    return () => {
      if (done) return;
      done = true;
      const left = (this.#pending.get(url) ?? 1) - 1;
      if (left > 0) this.#pending.set(url, left);
      else this.#pending.delete(url);
    };
  }

  close(): void {
    this.#closed = true;
    this.#refresh?.cancel();
    for (const follower of this.#followers.values()) follower.close();
    this.#followers.clear();
    this.removeAllListeners();
  }

  async #resolveDns(): Promise<void> {
    const { config, log } = this.#options;
    let addresses: string[] | null = null;
    try {
      addresses = await (this.#options.resolve ?? resolveAll)(config.dns);
    } catch (error) {
      log.warn('cluster dns lookup failed', { name: config.dns, error: error instanceof Error ? error.message : String(error) });
    }
    if (this.#closed) return;
    // A failed lookup keeps the current list (a DNS hiccup must not drop every peer).
    if (addresses !== null) this.#setPeers(peerList(config.peers, addresses, config.port, config.self));
    this.#refresh = this.#clock.setTimer(config.dnsRefreshMs, () => void this.#resolveDns());
  }

  #setPeers(urls: readonly string[]): void {
    const { config, log, clock } = this.#options;
    for (const [url, follower] of this.#followers) {
      if (urls.includes(url)) continue;
      follower.close();
      this.#followers.delete(url);
      log.info('cluster peer removed', { peer: url });
      this.emit('down', url);
    }
    for (const url of urls) {
      if (this.#followers.has(url)) continue;
      const follower = new PeerFollower({ url, key: config.key, downAfterMs: config.downAfterMs, connectTimeoutMs: config.connectTimeoutMs, log, ...(clock ? { clock } : {}) });
      follower.on('down', () => this.emit('down', url));
      follower.on('change', () => this.emit('change'));
      this.#followers.set(url, follower);
      log.info('cluster peer added', { peer: url });
      follower.start();
    }
  }
}

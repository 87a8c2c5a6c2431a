/** What a node of the cluster knows about itself and its peers: plain data, built by lib/cluster. */
import type { ModelResources, ResourceAmounts } from '../config/types.js';
import type { ModelState } from '../process/states.js';

/** One model on one node, as routing needs it (a subset of the admin API's ModelView). */
export interface ModelStatus {
  readonly id: string;
  readonly state: ModelState;
  /** The level it sleeps at, when asleep (or going to sleep). */
  readonly asleepLevel: number | null;
  readonly inFlight: number;
  readonly queued: number;
  readonly resources: ModelResources;
}

export interface NodeStatus {
  /** `cluster.self` for this node, the base URL for a peer. */
  readonly id: string;
  /** Where requests go (null: this node). */
  readonly url: string | null;
  readonly up: boolean;
  /** The node's global budgets (`resources:`), or null when it has none. */
  readonly budgets: ResourceAmounts | null;
  readonly models: ReadonlyMap<string, ModelStatus>;
  /** Requests this node has forwarded there and not yet seen finish (load the peer's events do not show yet). */
  readonly pending: number;
}

/** A peer as the cluster view follows it: its status plus what `/api/cluster` shows of it. */
export interface PeerStatus extends NodeStatus {
  readonly url: string;
  /** The peer's own name (`cluster.self` there), once it answered. */
  readonly name: string | null;
  /** How it is followed: its event stream, or polling `/api/models` while the stream fails. */
  readonly mode: 'events' | 'poll';
}

/**
 * `createCluster(options)`: this node's part of the cluster, built with each configuration. It
 * follows the peers (ClusterView), routes requests for models the cluster serves
 * (middleware/cluster-route.ts) and answers its peers (peer-api.ts). Without `cluster:` in the
 * configuration every piece is a no-op.
 *
 * Lifetime: the view lives as long as the model manager it was built with. It closes itself when
 * the live feed moves to another manager (a config reload builds a new cluster) or closes (the
 * gateway closes), so the gateway needs no extra bookkeeping.
 */
import type { RequestHandler } from 'express';
import type { GatewayConfig } from '../config/types.js';
import type { LiveFeed } from '../gateway/live-feed.js';
import type { ModelManager } from '../gateway/model-manager.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import { createClusterRouteMiddleware } from '../../middleware/cluster-route.js';
import { ClusterView } from './cluster-view.js';
import { localNode } from './local-status.js';
import { hasBudgets } from '../scheduler/budget.js';
import { createClusterApi } from './peer-api.js';

export interface ClusterOptions {
  readonly config: GatewayConfig;
  readonly manager: ModelManager;
  readonly feed: LiveFeed;
  readonly metrics: Metrics;
  readonly log: Logger;
  readonly adminAuth: RequestHandler;
}

export interface Cluster {
  /** After resolve-model in the model routes; undefined without `cluster:`. */
  readonly route: RequestHandler | undefined;
  /** Under `/api`, before the admin API. */
  readonly api: RequestHandler;
  readonly view: ClusterView | null;
}

/** Without `cluster:`: `/api/cluster` answers an empty cluster (the status page then hides its section). */
function noClusterApi(adminAuth: RequestHandler): RequestHandler {
  return function noClusterApi(req, res, next) {
    if (req.method !== 'GET' || req.path !== '/cluster') return next();
    void adminAuth(req, res, (error?: unknown) => (error ? next(error) : void res.json({ self: null, nodes: [] })));
  };
}

export function createCluster(options: Readonly<ClusterOptions>): Cluster {
  const { config, manager, feed, metrics, log } = options;
  const cluster = config.cluster;
  if (!cluster) return { route: undefined, api: noClusterApi(options.adminAuth), view: null };
  const budgets = hasBudgets(config.resources) ? config.resources : null;
  const view = new ClusterView({ config: cluster, log });
  const self = (): ReturnType<typeof localNode> => localNode(cluster.self, manager, budgets);
  const close = (): void => {
    feed.off('reset', onReset);
    feed.off('close', close);
    view.close();
  };
  const onReset = (): void => {
    if (feed.manager !== manager) close();
  };
  feed.on('reset', onReset);
  feed.on('close', close);
  view.start();
  return {
    view,
    route: createClusterRouteMiddleware({ cluster, view, local: self, record: (outcome, cost) => metrics.routeDecision(outcome, cost), log }),
    api: createClusterApi({
      self: cluster.self,
      key: cluster.key,
      budgets,
      heartbeatMs: cluster.heartbeatMs,
      feed,
      views: manager,
      adminAuth: options.adminAuth,
      nodes: () => [{ ...self(), name: cluster.self, mode: 'self' }, ...view.peers()],
    }),
  };
}

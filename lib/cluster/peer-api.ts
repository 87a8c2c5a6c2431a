/**
 * What a node serves its peers and its status page, mounted under `/api` before the admin API:
 *
 *   GET /api/events   with `x-siesta-cluster-key`: the admin event stream, with a heartbeat every
 *                     `cluster.heartbeat` (so a silent peer is noticed) and this node's name and
 *                     budgets in the response headers;
 *   GET /api/models   with the key: the admin API's model list, same headers (the poll fallback);
 *   GET /api/cluster  behind the admin auth: the nodes and their models' states (the status page).
 *
 * A request that carries a wrong cluster key is refused (401); one without the header passes on
 * to the admin API and its own keys.
 */
import type { RequestHandler } from 'express';
import { createHash, timingSafeEqual } from 'node:crypto';
import { GatewayError } from '../errors.js';
import { createEventStreamHandler } from '../../middleware/admin-api.js';
import type { LiveFeed } from '../gateway/live-feed.js';
import { modelViews, type ViewSource } from '../gateway/model-view.js';
import type { ResourceAmounts } from '../config/types.js';
import { BUDGETS_HEADER, CLUSTER_KEY_HEADER, NODE_HEADER } from './peer-follower.js';
import type { NodeStatus } from './types.js';

/** Constant-time comparison, also of the length (both sides hashed first). */
export function clusterKeyMatches(presented: string | string[] | undefined, key: string): boolean {
  if (typeof presented !== 'string' || key === '') return false;
  const digest = (text: string): Buffer => createHash('sha256').update(text).digest();
  return timingSafeEqual(digest(presented), digest(key));
}

export interface ClusterApiOptions {
  readonly self: string;
  readonly key: string;
  readonly budgets: ResourceAmounts | null;
  readonly heartbeatMs: number;
  readonly feed: LiveFeed;
  readonly views: ViewSource;
  readonly adminAuth: RequestHandler;
  /** Every node (this one first) and how each is followed, for `/api/cluster`. */
  readonly nodes: () => readonly (NodeStatus & { readonly name?: string | null; readonly mode?: string | null })[];
}

export function createClusterApi(options: Readonly<ClusterApiOptions>): RequestHandler {
  const { self, key, feed, views, adminAuth } = options;
  const events = createEventStreamHandler(feed, { heartbeatMs: options.heartbeatMs, refreshMs: Math.min(250, options.heartbeatMs), snapshotLogLines: 1 });
  const nodeHeaders = { [NODE_HEADER]: self, ...(options.budgets ? { [BUDGETS_HEADER]: JSON.stringify(options.budgets) } : {}) };
  return function clusterApi(req, res, next): void {
    const presented = req.headers[CLUSTER_KEY_HEADER];
    if (presented !== undefined && req.method === 'GET' && (req.path === '/events' || req.path === '/models')) {
      if (!clusterKeyMatches(presented, key)) return next(new GatewayError('unauthorized', 'Invalid cluster key (cluster.key must be the same on every node)'));
      res.set(nodeHeaders);
      if (req.path === '/models') res.json({ models: modelViews(views) });
      else void events(req, res, next);
      return;
    }
    if (req.method === 'GET' && req.path === '/cluster') {
      void adminAuth(req, res, (error?: unknown) => {
        if (error) return next(error);
        res.json({
          self,
          nodes: options.nodes().map((node) => ({
            id: node.id,
            name: node.name ?? null,
            self: node.url === null,
            up: node.up,
            mode: node.mode ?? null,
            pending: node.pending,
            models: [...node.models.values()].map((model) => ({ id: model.id, state: model.state, asleepLevel: model.asleepLevel, inFlight: model.inFlight, queued: model.queued })),
          })),
        });
      });
      return;
    }
    next();
  };
}

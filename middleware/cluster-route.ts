/**
 * Sleep-aware routing across the cluster, after resolve-model, for a local model that peers serve
 * too. The decision is `rankCandidates` (lib/cluster/route-decision.ts); this file does what it
 * says: serve here (pass on to the local chain), or forward to a peer once, trying the next
 * candidate when a peer fails before its first byte. A request a peer forwarded is served here and
 * never forwarded again (`incomingVerdict`). Every decision is logged and counted.
 */
import type { RequestHandler } from 'express';
import type { ClusterConfig } from '../lib/config/types.js';
import { GatewayError } from '../lib/errors.js';
import { peerRequestContext, requestContext } from '../lib/gateway/types.js';
import type { Logger } from '../lib/logger.js';
import type { ClusterView } from '../lib/cluster/cluster-view.js';
import { attemptOnPeer, FORWARDED_BY_HEADER } from '../lib/cluster/forward.js';
import { CLUSTER_KEY_HEADER, NODE_HEADER } from '../lib/cluster/peer-follower.js';
import { clusterKeyMatches } from '../lib/cluster/peer-api.js';
import { incomingVerdict, rankCandidates, type CostClass } from '../lib/cluster/route-decision.js';
import type { NodeStatus } from '../lib/cluster/types.js';
import { rawBody, reserialisedBody } from './resolve-model.js';

/** `siesta_route_decisions_total{outcome}`: what a node did with one request (a retry adds a decision). */
export type RouteOutcome = 'local' | 'peer' | 'retry' | 'forwarded-in' | 'loop' | 'unauthorized';

export interface ClusterRouteOptions {
  readonly cluster: ClusterConfig;
  readonly view: Pick<ClusterView, 'peers' | 'beginForward' | 'on' | 'off'>;
  /** This node's status now. */
  readonly local: () => NodeStatus;
  readonly record: (outcome: RouteOutcome, cost: CostClass | 'none') => void;
  readonly log: Logger;
}

export function createClusterRouteMiddleware(options: Readonly<ClusterRouteOptions>): RequestHandler {
  const { cluster, view, local, record, log } = options;
  return async function clusterRouteMiddleware(req, res, next) {
    if (peerRequestContext(res)) return next(); // a static peer's model (`peers:`): not the cluster's
    const forwardedBy = req.headers[FORWARDED_BY_HEADER];
    const verdict = incomingVerdict({
      forwardedBy: typeof forwardedBy === 'string' ? forwardedBy : Array.isArray(forwardedBy) ? forwardedBy.join(',') : undefined,
      keyValid: clusterKeyMatches(req.headers[CLUSTER_KEY_HEADER], cluster.key),
      self: cluster.self,
    });
    const context = requestContext(res);
    const model = context.model.id;
    // The key is for this hop only: never passed to the model server.
    delete req.headers[CLUSTER_KEY_HEADER];
    switch (verdict) {
      case 'unauthorized':
        record('unauthorized', 'none');
        log.warn('route decision', { model, outcome: 'unauthorized', from: String(forwardedBy) });
        return next(new GatewayError('unauthorized', 'Invalid or missing cluster key on a forwarded request (cluster.key must be the same on every node)'));
      case 'loop':
        record('loop', 'none');
        log.warn('route decision', { model, outcome: 'loop', from: String(forwardedBy) });
        return next(new GatewayError('loop_detected', `The request for "${model}" was forwarded in a loop (via ${String(forwardedBy)}): check cluster.self and the peer list`));
      case 'serve':
        record('forwarded-in', 'none');
        log.info('route decision', { model, outcome: 'forwarded-in', from: String(forwardedBy) });
        res.setHeader(NODE_HEADER, cluster.self);
        return next();
      case 'route':
        break;
    }
    const body = rawBody(req) ?? reserialisedBody(req);
    const streamedUpload = context.body !== undefined && !Buffer.isBuffer(context.body);
    const candidates = streamedUpload ? [] : rankCandidates(model, [local(), ...view.peers()], context.model.concurrencyLimit);
    const path = req.originalUrl.slice(req.baseUrl.length) || '/';
    for (const candidate of candidates) {
      if (candidate.url === null) break;
      record('peer', candidate.cost);
      log.info('route decision', { model, outcome: 'peer', node: candidate.node, cost: candidate.cost, load: candidate.load, candidates: candidates.length });
      const down = new AbortController();
      const peerUrl = candidate.url;
      const onDown = (url: string): void => {
        if (url === peerUrl) down.abort();
      };
      view.on('down', onDown);
      const done = view.beginForward(peerUrl);
      try {
        const result = await attemptOnPeer(req, res, {
          url: peerUrl,
          path,
          body,
          headers: { [FORWARDED_BY_HEADER]: cluster.self, [CLUSTER_KEY_HEADER]: cluster.key },
          connectTimeoutMs: cluster.connectTimeoutMs,
          signal: down.signal,
        });
        if (result.kind === 'answered') return;
        record('retry', candidate.cost);
        log.warn('route decision', { model, outcome: 'retry', node: candidate.node, reason: result.reason });
      } finally {
        done();
        view.off('down', onDown);
      }
      if (res.destroyed) return;
    }
    const chosen = candidates.find((candidate) => candidate.url === null);
    record('local', chosen?.cost ?? 'none');
    log.info('route decision', { model, outcome: 'local', cost: chosen?.cost ?? 'none', candidates: candidates.length });
    res.setHeader(NODE_HEADER, cluster.self);
    next();
  };
}

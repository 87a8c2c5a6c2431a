/**
 * `cluster:` resolved: the shared key, this node's name, static peers and the DNS name of the
 * others, and the timings of following them. Pure; every problem is collected, none thrown.
 *
 *   cluster:
 *     key: ${env.SIESTA_CLUSTER_KEY}   # required: the secret every node shares
 *     self: ${env.SIESTA_POD_IP}       # this node (address or URL); dropped from the peers
 *     peers: [http://10.0.0.6:8080]    # static peers
 *     dns: siesta-peers.siesta.svc     # and/or: every A/AAAA record is a peer (http://<ip>:<port>)
 *     port: 8080                       # the port of DNS peers
 *     dnsRefresh: 10s  downAfter: 3s  heartbeat: 1s  connectTimeout: 2s
 */
import { hostname } from 'node:os';
import type { ClusterConfig } from './types.js';
import type { RawConfig } from './raw.js';
import type { Report } from './routing.js';
import { checkBaseUrl } from './base-url.js';

export const CLUSTER_DEFAULTS = Object.freeze({
  port: 8080,
  dnsRefreshMs: 10_000,
  downAfterMs: 3000,
  heartbeatMs: 1000,
  connectTimeoutMs: 2000,
});

export function resolveCluster(raw: RawConfig, issue: Report, warn: Report): ClusterConfig | undefined {
  const cluster = raw.cluster;
  if (cluster === undefined || cluster === null || typeof cluster !== 'object') return undefined;
  const key = typeof cluster.key === 'string' ? cluster.key : '';
  if (key.trim() === '') issue(['cluster', 'key'], 'is required: the secret every node of the cluster shares (e.g. ${env.SIESTA_CLUSTER_KEY})');
  else if (/\s/.test(key)) issue(['cluster', 'key'], 'must not contain spaces');
  const peers: string[] = [];
  (cluster.peers ?? []).forEach((peer, index) => {
    if (typeof peer !== 'string') return;
    const url = checkBaseUrl(peer.trim(), ['cluster', 'peers', index], issue, `invalid peer URL (${peer}); write it as http://host:port`);
    if (!peers.includes(url)) peers.push(url);
  });
  const dns = (cluster.dns ?? '').trim();
  if (peers.length === 0 && dns === '') warn(['cluster'], 'no peers and no dns: this node has nobody to route to');
  const downAfterMs = cluster.downAfter ?? CLUSTER_DEFAULTS.downAfterMs;
  const heartbeatMs = cluster.heartbeat ?? CLUSTER_DEFAULTS.heartbeatMs;
  if (heartbeatMs >= downAfterMs) issue(['cluster', 'heartbeat'], `must be shorter than downAfter (${downAfterMs} ms), or healthy peers would be marked down`);
  return {
    key,
    self: (cluster.self ?? '').trim() || hostname(),
    peers,
    dns,
    port: cluster.port ?? CLUSTER_DEFAULTS.port,
    dnsRefreshMs: cluster.dnsRefresh ?? CLUSTER_DEFAULTS.dnsRefreshMs,
    downAfterMs,
    heartbeatMs,
    connectTimeoutMs: cluster.connectTimeout ?? CLUSTER_DEFAULTS.connectTimeoutMs,
  };
}

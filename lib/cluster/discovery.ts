/**
 * The peer list: the static `cluster.peers` plus one `http://<ip>:<port>` per A/AAAA record of
 * `cluster.dns`, without this node. Pure list-making here; the resolving is in cluster-view.ts.
 */
import { isIPv6 } from 'node:net';

/** `host` and optional port of `self` (an address, a host name, or a URL). */
function selfParts(self: string): { host: string; port: string } {
  try {
    if (/^[a-z]+:\/\//i.test(self)) {
      const url = new URL(self);
      return { host: url.hostname.replace(/^\[(.*)\]$/, '$1').toLowerCase(), port: url.port || (url.protocol === 'https:' ? '443' : '80') };
    }
  } catch {
    // not a URL: an address or name
  }
  return { host: self.replace(/^\[(.*)\]$/, '$1').toLowerCase(), port: '' };
}

/** Whether a peer URL is this node (same host, and same port when `self` names one). */
export function isSelf(peerUrl: string, self: string): boolean {
  const me = selfParts(self);
  try {
    const url = new URL(peerUrl);
    const host = url.hostname.replace(/^\[(.*)\]$/, '$1').toLowerCase();
    const port = url.port || (url.protocol === 'https:' ? '443' : '80');
    return host === me.host && (me.port === '' || me.port === port);
  } catch {
    return false;
  }
}

export function addressUrl(address: string, port: number): string {
  return `http://${isIPv6(address) ? `[${address}]` : address}:${port}`;
}

/** Static peers, then DNS peers, each once, without this node. */
export function peerList(staticPeers: readonly string[], addresses: readonly string[], port: number, self: string): string[] {
  const all = [...staticPeers, ...addresses.map((address) => addressUrl(address, port))];
  return [...new Set(all)].filter((url) => !isSelf(url, self));
}

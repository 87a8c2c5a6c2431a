/**
 * One rule for every URL siesta builds on a model's server: the path of the model's `proxy` URL is
 * a prefix. Health checks, sleep/wake steps and the plugins' probes and warm-up use `upstreamUrl`;
 * traffic uses the same rule in the forwarder (middleware/proxy.ts, `parseOrigin`: the URL's path
 * without trailing slashes, then the request's path). So with `proxy: http://127.0.0.1:5800/base`
 * the health check is `/base/health`, a sleep step `/base/sleep?level=1` and a chat
 * `/base/v1/chat/completions`. Like the forwarder, the proxy URL's own query string and credentials
 * are not sent.
 */

/** `scheme://host[:port]` plus the proxy URL's path without trailing slashes; the raw text if it is no URL. */
export function upstreamBase(proxy: string): string {
  let url: URL;
  try {
    url = new URL(proxy);
  } catch {
    return proxy.replace(/\/+$/, '');
  }
  return `${url.protocol}//${url.host}${url.pathname.replace(/\/+$/, '')}`;
}

/** The URL of `path` (with its query string) on the server whose base is `base` (from `upstreamBase`). */
export function joinUpstream(base: string, path: string): string {
  return base + (path.startsWith('/') ? path : `/${path}`);
}

/** `joinUpstream(upstreamBase(proxy), path)`. */
export function upstreamUrl(proxy: string, path: string): string {
  return joinUpstream(upstreamBase(proxy), path);
}

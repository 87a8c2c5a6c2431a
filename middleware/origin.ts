/**
 * Origins as both browser-facing rules compare them: CORS (middleware/cors.ts, which origins get
 * `Access-Control-Allow-Origin`) and the admin cross-site rule (middleware/admin-auth.ts, which
 * origins may change the gateway's state). One function, so an origin listed in `cors.origins`
 * means the same to both.
 */

/**
 * An origin as compared: scheme and host lower case, the scheme's default port dropped, no
 * trailing slash (`HTTPS://App.Example:443/` = `https://app.example`). What is not an http(s)
 * origin (`null`, `chrome-extension://…`, a string with a path) is only trimmed, lower-cased and
 * stripped of trailing slashes, so it matches only itself.
 */
export function normaliseOrigin(origin: string): string {
  const trimmed = origin.trim();
  try {
    const url = new URL(trimmed);
    if (url.origin !== 'null' && url.pathname === '/' && url.search === '' && url.hash === '' && url.username === '' && url.password === '') return url.origin;
  } catch {
    // not a URL: compared as text below
  }
  return trimmed.toLowerCase().replace(/\/+$/, '');
}

/** Whether `origins` lets `origin` in (`*` anywhere in the list allows all). */
export function originAllowed(origins: readonly string[], origin: string): boolean {
  const wanted = normaliseOrigin(origin);
  return origins.some((allowed) => allowed === '*' || normaliseOrigin(allowed) === wanted);
}

/**
 * Whether a browser `Origin` is the gateway's own: the same host and port as the request's `Host`
 * header (default ports aside: `http://localhost` is `Host: localhost:80`). False for anything that
 * is not an http(s) origin.
 */
export function originIsHost(origin: string, host: string | undefined): boolean {
  if (host === undefined) return false;
  try {
    const url = new URL(normaliseOrigin(origin));
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return false;
    return url.host === new URL(`${url.protocol}//${host}`).host;
  } catch {
    return false;
  }
}

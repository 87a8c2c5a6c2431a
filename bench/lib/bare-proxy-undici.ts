/**
 * The same floor as bare-proxy.ts, with undici as the upstream client instead of node:http's
 * `request`: a keep-alive Pool per upstream, headers and body timeouts set, the answer written
 * with `stream()` straight into the server's response. Measured beside bare-proxy.ts by the proxy
 * section so that the forwarder's client can be chosen on CPU and tails (issue 12).
 *
 *   node --import tsx bench/lib/bare-proxy-undici.ts PORT UPSTREAM_PORT
 */
import type { IncomingHttpHeaders } from 'node:http';
import { createServer } from 'node:http';
import { Pool } from 'undici';

const [port, upstreamPort] = process.argv.slice(2).map(Number);
const pool = new Pool(`http://127.0.0.1:${upstreamPort}`, { connections: 1024, pipelining: 1, keepAliveTimeout: 60_000, headersTimeout: 60_000, bodyTimeout: 60_000 });

// undici refuses hop-by-hop request headers (connection, keep-alive, transfer-encoding, upgrade):
// the pool manages its own connection, and it frames the body itself from content-length.
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'proxy-connection', 'te', 'trailer']);
function forwardable(headers: IncomingHttpHeaders): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const name in headers) {
    const value = headers[name];
    if (value !== undefined && !HOP_BY_HOP.has(name)) out[name] = value;
  }
  return out;
}

const server = createServer((req, res) => {
  const hasBody = req.method !== 'GET' && req.method !== 'HEAD';
  pool
    .stream({ path: req.url ?? '/', method: req.method ?? 'GET', headers: forwardable(req.headers), body: hasBody ? req : null }, ({ statusCode, headers }) => {
      res.writeHead(statusCode, headers);
      return res;
    })
    .catch(() => {
      if (!res.headersSent) res.writeHead(502).end();
      else res.destroy();
    });
});
server.keepAliveTimeout = 65_000;
server.listen(port, '127.0.0.1', () => process.stdout.write(`bare-proxy-undici: listening ${port}\n`));
process.on('SIGTERM', () => process.exit(0));

/**
 * The floor: the smallest useful Node proxy (node:http server piping to a keep-alive agent), run
 * as its own process like the gateway. Its CPU time per request is what any Node-based proxy pays
 * on this machine (syscalls, HTTP parsing), so siesta's own cost is the difference.
 *
 *   node --import tsx bench/lib/bare-proxy.ts PORT UPSTREAM_PORT
 */
import { Agent, createServer, request } from 'node:http';

const [port, upstreamPort] = process.argv.slice(2).map(Number);
const agent = new Agent({ keepAlive: true, maxSockets: 1024 });
const server = createServer((req, res) => {
  const upstream = request({ host: '127.0.0.1', port: upstreamPort, method: req.method, path: req.url, headers: req.headers, agent }, (upstreamRes) => {
    res.writeHead(upstreamRes.statusCode ?? 502, upstreamRes.headers);
    upstreamRes.pipe(res);
  });
  upstream.on('error', () => res.destroy());
  req.pipe(upstream);
});
server.keepAliveTimeout = 65_000;
server.listen(port, '127.0.0.1', () => process.stdout.write(`bare-proxy: listening ${port}\n`));
process.on('SIGTERM', () => process.exit(0));

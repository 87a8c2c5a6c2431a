/**
 * The Express floor: the bare proxy (bare-proxy.ts) as an Express 5 app that reads the body with
 * `express.raw` (as siesta's model routes do) and forwards it. What any Express-based gateway pays
 * per request on this machine before its own code runs.
 *
 *   node --import tsx bench/lib/express-proxy.ts PORT UPSTREAM_PORT
 */
import express from 'express';
import { Agent, request } from 'node:http';
import { createExpressServer } from '../../lib/http/express-server.js';

const [port, upstreamPort] = process.argv.slice(2).map(Number);
const agent = new Agent({ keepAlive: true });
const app = express();
app.post('/v1/chat/completions', express.raw({ type: () => true, limit: '32mb' }), (req, res) => {
  const body = req.body as Buffer;
  const headers = { ...req.headers, 'content-length': String(body.length) };
  const upstream = request({ host: '127.0.0.1', port: upstreamPort, method: req.method, path: req.url, headers, agent }, (upstreamRes) => {
    res.writeHead(upstreamRes.statusCode ?? 502, upstreamRes.headers);
    upstreamRes.pipe(res);
  });
  upstream.on('error', () => res.destroy());
  upstream.end(body);
});
// As the siesta command serves its app (lib/http/express-server.ts): requests born with Express's prototypes.
const server = createExpressServer(app).listen(port, '127.0.0.1', () => process.stdout.write(`express-proxy: listening ${port}\n`));
server.keepAliveTimeout = 65_000;
process.on('SIGTERM', () => process.exit(0));

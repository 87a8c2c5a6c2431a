/**
 * The forwarder's phase timeouts (middleware/proxy.ts, armTimeouts): a TLS handshake that never
 * completes and response headers that never come are each answered 504 `upstream_timeout`,
 * naming the phase, at the timeout.
 */
import { createServer as createTcpServer, type Socket } from 'node:net';
import { createServer, type Server } from 'node:http';
import { expect } from 'chai';
import express from 'express';
import request from 'supertest';
import { createForwarder, type ForwardTarget } from '../../middleware/proxy.js';
import { createErrorHandler } from '../../middleware/error-handler.js';
import { memoryLogger } from './support.js';

const NO_TIMEOUTS: ForwardTarget['timeouts'] = { connectMs: 0, tlsHandshakeMs: 0, responseHeaderMs: 0, idleMs: 0 };

function gatewayTo(target: ForwardTarget): express.Express {
  const forward = createForwarder();
  const app = express();
  app.post('/v1/chat/completions', express.raw({ type: () => true }), (req, res) => forward(req, res, target, req.body as Buffer));
  app.use(createErrorHandler({ log: memoryLogger() }));
  return app;
}

describe('e2e: forwarder phase timeouts', function () {
  const sockets = new Set<Socket>();
  const servers: (Server | ReturnType<typeof createTcpServer>)[] = [];
  afterEach(async function () {
    for (const socket of sockets) socket.destroy();
    sockets.clear();
    await Promise.all(servers.splice(0).map((server) => new Promise<void>((resolve) => server.close(() => resolve()))));
  });

  async function listen(server: Server | ReturnType<typeof createTcpServer>): Promise<number> {
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('no port');
    return address.port;
  }

  it('a TLS server that accepts the connection but never answers the handshake: 504 after timeouts.tlsHandshake', async function () {
    const silent = createTcpServer((socket) => {
      sockets.add(socket); // holds the connection, never speaks TLS
    });
    const port = await listen(silent);
    const app = gatewayTo({ url: `https://127.0.0.1:${port}`, timeouts: { ...NO_TIMEOUTS, connectMs: 5000, tlsHandshakeMs: 300 }, describe: (reason) => `model: ${reason}` });
    const startedAt = Date.now();
    const response = await request(app).post('/v1/chat/completions').send({ model: 'm' }).expect(504);
    expect(response.body.error.code).to.equal('upstream_timeout');
    expect(response.body.error.message).to.equal('model: TLS handshake timeout after 300 ms');
    expect(Date.now() - startedAt, 'answered at the timeout').to.be.lessThan(5000);
  });

  it('a server that takes the request and never answers: 504 after timeouts.responseHeader', async function () {
    let seen = 0;
    const mute = createServer((req) => {
      seen += 1;
      sockets.add(req.socket); // reads the request, never answers
    });
    const port = await listen(mute);
    const app = gatewayTo({ url: `http://127.0.0.1:${port}`, timeouts: { ...NO_TIMEOUTS, responseHeaderMs: 300 }, describe: (reason) => `model: ${reason}` });
    const response = await request(app).post('/v1/chat/completions').send({ model: 'm' }).expect(504);
    expect(response.body.error.message).to.equal('model: timeout awaiting response headers after 300 ms');
    expect(seen).to.equal(1);
  });

  it('answers that come before the response-header timeout pass, three in a row on the kept-alive socket', async function () {
    const quick = createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}'));
    const port = await listen(quick);
    const app = gatewayTo({ url: `http://127.0.0.1:${port}`, timeouts: { ...NO_TIMEOUTS, connectMs: 1000, responseHeaderMs: 200 }, describe: (reason) => reason });
    for (let i = 0; i < 3; i += 1) expect((await request(app).post('/v1/chat/completions').send({ model: 'm' }).expect(200)).body).to.deep.equal({ ok: true });
  });
});

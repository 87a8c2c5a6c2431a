/**
 * The request hot path with real upstream processes: requests for a ready model are admitted at
 * once (no queue) but never past a swap the scheduler must hold them for; the request log counts
 * the bytes the client really received; the CLI's HTTP server keeps Express's API intact.
 */
import { getEventListeners } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { connect } from 'node:net';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import express from 'express';
import request from 'supertest';
import { createExpressServer } from '../../lib/http/express-server.js';
import { startStaleSocketServer } from '../helpers/stale-socket-server.js';
import { assertNoChildren, pollUntil } from '../helpers/wait.js';
import { chat, cleanup, configYaml, genericCmd, memoryLogger, openGateway, track } from './support.js';

async function listen(server: ReturnType<typeof createExpressServer>): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  track({ close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }) });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe('e2e: the request hot path', function () {
  afterEach(async function () {
    await cleanup();
    await assertNoChildren();
  });

  it('serves concurrent requests for a ready model at once and returns every lease', async function () {
    const h = await openGateway(await configYaml({ echo: { cmd: genericCmd('echo'), concurrencyLimit: 32 } }));
    await request(h.app).post('/v1/chat/completions').send(chat('echo')).expect(200);
    const before = h.gateway.manager.snapshot().models.find((m) => m.id === 'echo')!.lastUsedAt!;
    const responses = await Promise.all(Array.from({ length: 20 }, () => request(h.app).post('/v1/chat/completions').send(chat('echo'))));
    expect(responses.map((r) => r.status)).to.deep.equal(Array(20).fill(200));
    const after = h.gateway.manager.snapshot();
    const echo = after.models.find((m) => m.id === 'echo')!;
    expect(echo.inFlight, 'scheduler: nothing in flight').to.equal(0);
    expect(after.queue).to.deep.equal([]);
    expect(h.gateway.manager.process('echo').inFlight, 'process: every lease released').to.equal(0);
    expect(echo.lastUsedAt, 'the last use moved with the requests').to.be.above(before);
  });

  it('does not let a request for a ready model pass a higher-priority swap waiting for it', async function () {
    const h = await openGateway(
      await configYaml(
        {
          a: { cmd: genericCmd('a', ['--tokens', '200', '--token-interval', '20ms']) },
          b: { cmd: genericCmd('b'), priority: 5 },
        },
        { groups: { pair: { swap: true, members: ['a', 'b'] } } },
      ),
    );
    const url = await listen(createExpressServer(express().use(h.gateway.router)));
    const post = (body: Record<string, unknown>, signal?: AbortSignal): Promise<Response> =>
      fetch(`${url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), ...(signal ? { signal } : {}) });

    // a streams (busy, 4 s of tokens); b, of higher priority, must wait for it to finish.
    const streaming = new AbortController();
    const stream = await post(chat('a', { stream: true }), streaming.signal);
    expect(stream.status).to.equal(200);
    const reader = stream.body!.getReader();
    await reader.read();
    const finished: string[] = [];
    const forB = post(chat('b')).then(async (r) => (finished.push('b'), await r.text(), r.status));
    await pollUntil(() => h.gateway.manager.snapshot().queue.some((q) => q.model === 'b'), { what: 'b to queue' });
    const forA = post(chat('a')).then(async (r) => (finished.push('a'), await r.text(), r.status));
    await pollUntil(() => h.gateway.manager.snapshot().queue.some((q) => q.model === 'a'), { what: 'the new request for a to queue behind b' });
    expect(finished, 'a is ready, yet its new request waits').to.deep.equal([]);

    streaming.abort();
    await reader.cancel().catch(() => undefined);
    // Well before the stream's 4 s: the client's leaving ends it and releases a.
    await pollUntil(() => h.gateway.manager.process('a').inFlight === 0, { timeoutMs: 2000, what: 'the aborted stream to release a' });
    expect(await forB).to.equal(200);
    expect(await forA).to.equal(200);
    expect(finished).to.deep.equal(['b', 'a']);
  });

  it('tryAcquire: nothing while the model loads; once ready, a lease counted by the scheduler and the process, released once', async function () {
    const h = await openGateway(await configYaml({ echo: { cmd: genericCmd('echo') } }));
    const { manager } = h.gateway;
    expect(manager.tryAcquire('echo'), 'stopped').to.equal(undefined);
    const loading = manager.load('echo');
    expect(manager.tryAcquire('echo'), 'starting').to.equal(undefined);
    expect(manager.snapshot().queue, 'only the load itself waits: asking queued nothing').to.have.length(1);
    await loading;
    const inFlight = (): [number, number] => [manager.snapshot().models.find((m) => m.id === 'echo')!.inFlight, manager.process('echo').inFlight];
    const access = manager.tryAcquire('echo');
    expect(access, 'ready: granted at once').to.not.equal(undefined);
    expect(access!.outcome).to.deep.equal({ action: 'none', ms: 0 });
    expect(inFlight()).to.deep.equal([1, 1]);
    access!.lease.release();
    access!.lease.release();
    expect(inFlight(), 'a second release changes nothing').to.deep.equal([0, 0]);
  });

  it('a request whose model fails to start stops listening for its client going away', async function () {
    const h = await openGateway(await configYaml({ broken: { cmd: genericCmd('broken', ['--fail-start']) } }));
    const controller = new AbortController();
    const error = await h.gateway.manager.acquire('broken', { signal: controller.signal }).then(() => null, (e: unknown) => e as { code?: string });
    expect(error?.code).to.equal('start_failed');
    expect(getEventListeners(controller.signal, 'abort')).to.have.length(0);
  });

  it('a request that waited for its model stops listening for its client going away once granted', async function () {
    const h = await openGateway(await configYaml({ echo: { cmd: genericCmd('echo') } }));
    const controller = new AbortController();
    const access = await h.gateway.manager.acquire('echo', { signal: controller.signal });
    expect(access.outcome.action).to.equal('started');
    expect(getEventListeners(controller.signal, 'abort')).to.have.length(0);
    access.lease.release();
    expect(h.gateway.manager.process('echo').inFlight).to.equal(0);
  });

  it('resends a request once when the model server closed the kept-alive connection it went out on', async function () {
    const stale = await startStaleSocketServer();
    track(stale);
    const placeholder = `${process.execPath} -e "setInterval(() => {}, 1 << 30)"`;
    const h = await openGateway(await configYaml({ m: { cmd: placeholder, proxy: stale.url, checkEndpoint: 'none' } }));
    for (const attempt of [1, 2, 3]) {
      const response = await request(h.app).post('/v1/chat/completions').send(chat('m'));
      expect(response.status, `request ${attempt}: ${JSON.stringify(response.body)}`).to.equal(200);
    }
    expect(stale.answered()).to.equal(3);
    expect(stale.connections(), 'each reuse met a closed connection and went out again on a new one').to.equal(3);
  });

  it('logs the bytes the client received for the response, headers included', async function () {
    const logger = memoryLogger();
    const h = await openGateway(await configYaml({ echo: { cmd: genericCmd('echo') } }), { logger });
    const url = new URL(await listen(createExpressServer(express().use(h.gateway.router))));
    const body = JSON.stringify(chat('echo'));
    const received = await new Promise<Buffer>((resolve, reject) => {
      const chunks: Buffer[] = [];
      const socket = connect(Number(url.port), url.hostname, () => {
        socket.write(`POST /v1/chat/completions HTTP/1.1\r\nHost: ${url.host}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
      });
      socket.on('data', (chunk: Buffer) => chunks.push(chunk)).on('end', () => resolve(Buffer.concat(chunks))).on('error', reject);
    });
    expect(received.toString('latin1')).to.match(/^HTTP\/1\.1 200 /);
    const line = await pollUntil(() => logger.lines.find((l) => l.message === 'request' && l.fields['path'] === '/v1/chat/completions'), { what: 'the request log line' });
    expect(line.fields).to.include({ method: 'POST', model: 'echo', status: 200, bytes: received.length });
  });

  it('logs each response’s own bytes on kept-alive and pipelined connections', async function () {
    const logger = memoryLogger();
    const h = await openGateway(await configYaml({ echo: { cmd: genericCmd('echo') } }), { logger });
    const url = new URL(await listen(createExpressServer(express().use(h.gateway.router))));
    // Two requests in one write (pipelined), then a third on the same connection that closes it.
    const requests = ['/v1/models', '/health', '/running'].map((path, i) => `GET ${path} HTTP/1.1\r\nHost: ${url.host}${i === 2 ? '\r\nConnection: close' : ''}\r\n\r\n`);
    const received = await new Promise<Buffer>((resolve, reject) => {
      const chunks: Buffer[] = [];
      const socket = connect(Number(url.port), url.hostname, () => socket.write(requests[0]! + requests[1]!));
      let sentThird = false;
      socket.on('data', (chunk: Buffer) => {
        chunks.push(chunk);
        if (!sentThird && responseLengths(Buffer.concat(chunks)).length === 2) {
          sentThird = true;
          socket.write(requests[2]!);
        }
      });
      socket.on('end', () => resolve(Buffer.concat(chunks))).on('error', reject);
    });
    const lengths = responseLengths(received);
    expect(lengths).to.have.length(3);
    const logged = await pollUntil(() => {
      const lines = logger.lines.filter((l) => l.message === 'request');
      return lines.length === 3 ? lines : undefined;
    }, { what: 'three request log lines' });
    expect(logged.map((l) => [l.fields['path'], l.fields['bytes']])).to.deep.equal([
      ['/v1/models', lengths[0]],
      ['/health', lengths[1]],
      ['/running', lengths[2]],
    ]);
  });

  it('createExpressServer: requests arrive on the app’s own prototypes (before Express sees them), with Express’s API intact', async function () {
    const app = express();
    app.get('/proto', (req, res) => {
      res.status(201).json({ agent: req.get('user-agent'), path: req.path, query: req.query });
    });
    const first = createExpressServer(app);
    const second = createExpressServer(app); // a second server for the same app must not undo the first
    const arrived: boolean[] = [];
    for (const server of [first, second]) {
      server.prependListener('request', (req: IncomingMessage, res: ServerResponse) => {
        arrived.push(Object.getPrototypeOf(req) === app.request && Object.getPrototypeOf(res) === app.response);
      });
    }
    for (const url of [await listen(first), await listen(second)]) {
      const response = await fetch(`${url}/proto?x=1`, { headers: { 'user-agent': 'hot-path-test' } });
      expect(response.status).to.equal(201);
      expect(await response.json()).to.deep.equal({ agent: 'hot-path-test', path: '/proto', query: { x: '1' } });
    }
    expect(arrived, 'born on the app’s prototypes, on both servers').to.deep.equal([true, true]);
    // The control: a plain node server hands Express node's own objects, which Express then moves.
    const plain = express();
    plain.get('/proto', (_req, res) => res.end());
    const control = createServer(plain);
    let controlArrived: boolean | undefined;
    control.prependListener('request', (req: IncomingMessage) => {
      controlArrived = Object.getPrototypeOf(req) === plain.request;
    });
    await (await fetch(`${await listen(control)}/proto`)).text();
    expect(controlArrived).to.equal(false);
  });
});

/** The byte length of each complete HTTP response in `data` (responses with a content-length). */
function responseLengths(data: Buffer): number[] {
  const lengths: number[] = [];
  let offset = 0;
  for (;;) {
    const headerEnd = data.indexOf('\r\n\r\n', offset);
    if (headerEnd < 0) return lengths;
    const head = data.subarray(offset, headerEnd).toString('latin1');
    const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? Number.NaN);
    if (Number.isNaN(length)) throw new Error(`a response without content-length:\n${head}`);
    const end = headerEnd + 4 + length;
    if (end > data.length) return lengths;
    lengths.push(end - offset);
    offset = end;
  }
}

/**
 * Requests against the lifecycle: a client that goes away while its model loads leaves the queue
 * (the load still completes, nothing leaks), and close() stops every child even mid-start.
 */
import { createServer, request as httpRequest, type RequestListener } from 'node:http';
import { once } from 'node:events';
import { expect } from 'chai';
import request from 'supertest';
import { assertNoChildren, childPids, pollUntil } from '../helpers/wait.js';
import { chat, cleanup, configYaml, memoryLogger, openGateway, track, upstreamCalls, vllmCmd } from './support.js';

/** Listen on an ephemeral port; closed by cleanup(). */
async function listen(app: RequestListener): Promise<{ port: number }> {
  const server = createServer(app);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  track({ close: () => new Promise<void>((resolve) => server.close(() => resolve())) });
  const address = server.address();
  return { port: typeof address === 'object' && address ? address.port : 0 };
}

describe('e2e: lifecycle seen from requests', function () {
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown): void => {
    unhandled.push(reason);
  };
  beforeEach(function () {
    unhandled.length = 0;
    process.on('unhandledRejection', onUnhandled);
  });
  afterEach(async function () {
    process.off('unhandledRejection', onUnhandled);
    await cleanup();
    await assertNoChildren();
  });

  it('a client that disconnects while its model loads leaves the queue; the load completes; no error leaks', async function () {
    const logger = memoryLogger();
    // A long start delay ended on demand (SIGUSR2) makes "still loading" deterministic.
    const { gateway, app } = await openGateway(await configYaml({ a: { cmd: vllmCmd('a', ['--start-delay', '60s']), backend: 'vllm' } }, { sendLoadingState: true }), { logger });
    const { port } = await listen(app);
    const sent: { streamed: string; error: Error | null; status: number | null } = { streamed: '', error: null, status: null };
    const client = httpRequest({ port, host: '127.0.0.1', method: 'POST', path: '/v1/chat/completions', headers: { 'content-type': 'application/json' } }, (res) => {
      sent.status = res.statusCode ?? null;
      res.setEncoding('utf8').on('data', (chunk: string) => (sent.streamed += chunk));
      res.on('error', () => undefined);
    });
    client.on('error', (error) => (sent.error = error));
    client.end(JSON.stringify(chat('a', { stream: true })));

    await pollUntil(() => gateway.manager.state('a') === 'starting' && gateway.manager.snapshot().queue.length === 1, { what: 'the request to wait for a starting model' });
    await pollUntil(() => sent.streamed.includes('siesta: a: starting'), { what: 'the loading stream to begin' });
    client.destroy();
    await pollUntil(() => gateway.manager.snapshot().queue.length === 0, { what: 'the request to leave the queue' });
    expect(gateway.manager.state('a')).to.equal('starting');

    const pid = gateway.manager.process('a').pid!;
    await pollUntil(() => /loading model a/.test(gateway.manager.process('a').logs.tail(20)), { what: 'the fake to print its loading line' });
    process.kill(pid, 'SIGUSR2'); // end the start delay now
    await pollUntil(() => gateway.manager.state('a') === 'ready', { what: 'the load to complete' });
    expect(gateway.manager.process('a').pid).to.equal(pid);
    // The abandoned request never reached the model, and nothing was counted in flight for it.
    expect((await upstreamCalls(gateway, 'a')).filter((call) => call.kind === 'generate')).to.have.length(0);
    expect(gateway.manager.process('a').inFlight).to.equal(0);
    expect(gateway.manager.snapshot().models.find((model) => model.id === 'a')).to.include({ inFlight: 0, queued: 0 });
    // The model serves the next request at once.
    await request(app).post('/v1/chat/completions').send(chat('a')).expect(200);
    expect(logger.lines.filter((line) => line.level === 'error' || line.message === 'request failed')).to.deep.equal([]);
    expect(unhandled).to.deep.equal([]);
  });

  it('close() while a model starts and a request waits: the request gets 503, every child stops', async function () {
    const { gateway, app } = await openGateway(await configYaml({ a: { cmd: vllmCmd('a', ['--start-delay', '60s']), backend: 'vllm' } }));
    const waiting = request(app).post('/v1/chat/completions').send(chat('a')).then((response) => response);
    await pollUntil(() => gateway.manager.state('a') === 'starting' && gateway.manager.process('a').pid !== null, { what: 'the model to start' });
    const pid = gateway.manager.process('a').pid!;
    expect(childPids()).to.include(pid);
    await gateway.close();
    const response = await waiting;
    expect(response.status).to.equal(503);
    expect(response.body.error.code).to.be.oneOf(['shutting_down', 'start_failed']);
    expect(childPids()).to.not.include(pid);
    expect(gateway.manager.state('a')).to.equal('shutdown');
    await request(app).post('/v1/chat/completions').send(chat('a')).expect(503);
    expect(unhandled).to.deep.equal([]);
  });
});

/**
 * Every error the request path can answer, OpenAI-shaped (`{"error": {"message", "type", "code"}}`):
 * 400 bad JSON / missing model, 401 bad key, 404 unknown model, 413 too large, 429 over the
 * concurrency limit, 502 when the upstream dies mid-request, 503 when the model cannot start.
 */
import { expect } from 'chai';
import request from 'supertest';
import { assertNoChildren, pollUntil } from '../helpers/wait.js';
import { chat, cleanup, configYaml, genericCmd, memoryLogger, openGateway, sseEvents, textParser, upstreamCalls, type Harness } from './support.js';

function expectOpenAiError(body: unknown, code: string, type: string): { message: string } {
  expect(body).to.have.all.keys('error');
  const error = (body as { error: Record<string, unknown> }).error;
  expect(error).to.include({ code, type });
  expect(error.message).to.be.a('string').and.not.empty;
  return error as { message: string };
}

describe('e2e: errors', function () {
  afterEach(async function () {
    await cleanup();
    await assertNoChildren();
  });

  describe('requests the gateway refuses before any model starts', function () {
    let h: Harness;
    beforeEach(async function () {
      h = await openGateway(await configYaml({ echo: { cmd: genericCmd('echo') } }, { maxBodySize: 1024 }));
    });

    it('400 for a body that is not JSON', async function () {
      const response = await request(h.app).post('/v1/chat/completions').set('content-type', 'application/json').send('{"model": "echo",').expect(400);
      expect(response.headers['content-type']).to.match(/application\/json/);
      expectOpenAiError(response.body, 'bad_json', 'invalid_request_error');
    });

    it('400 for JSON that is not an object, and for a request that names no model', async function () {
      expectOpenAiError((await request(h.app).post('/v1/chat/completions').send([1, 2]).expect(400)).body, 'bad_request', 'invalid_request_error');
      expectOpenAiError((await request(h.app).post('/v1/chat/completions').send({ messages: [] }).expect(400)).body, 'missing_model', 'invalid_request_error');
      expectOpenAiError((await request(h.app).post('/v1/embeddings').send({ model: '', input: 'x' }).expect(400)).body, 'missing_model', 'invalid_request_error');
    });

    it('404 for an unknown model, naming it', async function () {
      const error = expectOpenAiError((await request(h.app).post('/v1/chat/completions').send(chat('nope')).expect(404)).body, 'model_not_found', 'invalid_request_error');
      expect(error.message).to.include('nope');
      expectOpenAiError((await request(h.app).get('/upstream/nope/v1/models').expect(404)).body, 'model_not_found', 'invalid_request_error');
    });

    it('404 JSON for an unknown route', async function () {
      expectOpenAiError((await request(h.app).get('/v2/whatever').expect(404)).body, 'not_found', 'invalid_request_error');
    });

    it('413 for a body over maxBodySize', async function () {
      const response = await request(h.app).post('/v1/chat/completions').send(chat('echo', { padding: 'x'.repeat(2000) })).expect(413);
      expectOpenAiError(response.body, 'body_too_large', 'invalid_request_error');
      expect(h.gateway.manager.state('echo'), 'no refused request starts the model').to.equal('stopped');
    });

  });

  describe('401 with apiKeys', function () {
    let h: Harness;
    beforeEach(async function () {
      h = await openGateway(await configYaml({ echo: { cmd: genericCmd('echo') } }, { apiKeys: ['sk-right'] }));
    });

    it('refuses a missing or wrong key in every form', async function () {
      const basic = (password: string) => `Basic ${Buffer.from(`user:${password}`).toString('base64')}`;
      const attempts: [string, string][] = [
        ['x-nothing', 'x'],
        ['authorization', 'Bearer sk-wrong'],
        ['authorization', 'Bearer'],
        ['x-api-key', 'sk-wrong'],
        ['authorization', basic('sk-wrong')],
        ['authorization', 'Basic !!!'],
        ['authorization', 'Token sk-right'],
      ];
      for (const [header, value] of attempts) {
        const response = await request(h.app).get('/v1/models').set(header, value).expect(401);
        expectOpenAiError(response.body, 'unauthorized', 'authentication_error');
      }
      expectOpenAiError((await request(h.app).post('/v1/chat/completions').send(chat('echo')).expect(401)).body, 'unauthorized', 'authentication_error');
      expect(h.gateway.manager.state('echo')).to.equal('stopped');
    });

    it('accepts the key as Bearer, x-api-key or Basic password; /health needs none', async function () {
      await request(h.app).get('/v1/models').set('authorization', 'Bearer sk-right').expect(200);
      await request(h.app).get('/v1/models').set('authorization', 'bearer sk-right').expect(200);
      await request(h.app).get('/v1/models').set('x-api-key', 'sk-right').expect(200);
      await request(h.app).get('/v1/models').set('authorization', `Basic ${Buffer.from('anyone:sk-right').toString('base64')}`).expect(200);
      await request(h.app).get('/health').expect(200);
    });
  });

  describe('failures of the model server', function () {
    it('429 with Retry-After over concurrencyLimit, while a stream holds the only slot', async function () {
      const { gateway, app } = await openGateway(await configYaml({ slow: { cmd: genericCmd('slow', ['--tokens', '4', '--token-interval', '150ms']), concurrencyLimit: 1 } }));
      const first = request(app).post('/v1/chat/completions').send(chat('slow', { stream: true })).buffer(true).parse(textParser);
      const firstDone = first.then((response) => response);
      await pollUntil(async () => (await upstreamCalls(gateway, 'slow')).some((call) => call.kind === 'generate'), { what: 'the first request to reach the upstream' });
      const refused = await request(app).post('/v1/chat/completions').send(chat('slow')).expect(429);
      expect(refused.headers['retry-after']).to.equal('1');
      const error = expectOpenAiError(refused.body, 'too_many_requests', 'rate_limit_error');
      expect(error.message).to.include('concurrencyLimit 1');
      const held = await firstDone;
      expect(held.status).to.equal(200);
      expect(sseEvents(held.body as string).at(-1)).to.equal('[DONE]');
      // The slot is free again.
      await request(app).post('/v1/chat/completions').send(chat('slow')).expect(200);
      expect((await upstreamCalls(gateway, 'slow')).filter((call) => call.kind === 'generate')).to.have.length(2);
    });

    it('502 JSON when the upstream process dies during a request; the next request starts it again', async function () {
      const { gateway, app } = await openGateway(await configYaml({ dies: { cmd: genericCmd('dies', ['--tokens', '100', '--token-interval', '100ms']) } }));
      const pending = request(app).post('/v1/chat/completions').send(chat('dies'));
      const answered = pending.then((response) => response);
      await pollUntil(async () => (await upstreamCalls(gateway, 'dies')).some((call) => call.kind === 'generate'), { what: 'the request to reach the upstream' });
      const pid = gateway.manager.process('dies').pid!;
      process.kill(pid, 'SIGKILL');
      const response = await answered;
      expect(response.status).to.equal(502);
      expectOpenAiError(response.body, 'upstream_failed', 'upstream_error');
      await pollUntil(() => gateway.manager.state('dies') === 'stopped', { what: 'the crash to be noticed' });
      const again = await request(app).post('/v1/embeddings').send({ model: 'dies', input: 'x' }).expect(200);
      expect(again.body.object).to.equal('list');
      expect(gateway.manager.process('dies').pid).to.not.equal(pid);
    });

    it('a stream cut by an upstream crash ends with an error event (then [DONE]), with or without the loading stream', async function () {
      const { gateway, app } = await openGateway(await configYaml({ crashy: { cmd: genericCmd('crashy', ['--crash-mid-stream']), sendLoadingState: true } }));
      const cut = async (): Promise<(Record<string, unknown> | '[DONE]')[]> => {
        const response = await request(app).post('/v1/chat/completions').send(chat('crashy', { stream: true })).buffer(true).parse(textParser);
        expect(response.status).to.equal(200);
        const events = sseEvents(response.body as string);
        expect(events.at(-1), 'the error event, then [DONE] (issue 11 defect 8)').to.equal('[DONE]');
        expect(events.filter((event) => event === '[DONE]')).to.have.length(1);
        const upstream = events.filter((event) => event !== '[DONE]' && String(event.id).startsWith('chatcmpl-fake-'));
        expect(upstream.length, 'the upstream chunks before the crash arrived').to.be.at.least(1);
        expectOpenAiError(events.at(-2), 'upstream_failed', 'upstream_error');
        await pollUntil(() => gateway.manager.state('crashy') === 'stopped', { what: 'the crash to be noticed' });
        return events;
      };
      // Cold start: the loading stream opened the response, the upstream's stream continued in it.
      const withLoading = await cut();
      expect(withLoading.some((event) => event !== '[DONE]' && event.id === 'siesta-loading')).to.equal(true);
      // Ready model: plain proxying.
      await request(app).post('/v1/chat/completions').send(chat('crashy')).expect(200);
      const plain = await cut();
      expect(plain.some((event) => event !== '[DONE]' && event.id === 'siesta-loading')).to.equal(false);
    });

    it('503 with the reason from the model log when the model cannot start', async function () {
      const logger = memoryLogger();
      const { gateway, app } = await openGateway(await configYaml({ broken: { cmd: genericCmd('broken', ['--fail-start']) } }), { logger });
      const response = await request(app).post('/v1/chat/completions').send(chat('broken')).expect(503);
      const error = expectOpenAiError(response.body, 'start_failed', 'server_error');
      expect(error.message).to.include('broken');
      // The reason, not the server's output: that is in the logs (test/e2e/start-failure-messages.test.ts).
      expect(error.message).to.include('process exited early (code 1)');
      expect(error.message).to.not.include('out of memory');
      expect(gateway.manager.state('broken')).to.equal('stopped');
      // A streaming request fails the same way, and the model is tried again (not stuck).
      const again = await request(app).post('/v1/chat/completions').send(chat('broken', { stream: true })).buffer(true).parse(textParser);
      expect(again.status).to.equal(503);
      expectOpenAiError(JSON.parse(again.body as string), 'start_failed', 'server_error');
    });
  });
});

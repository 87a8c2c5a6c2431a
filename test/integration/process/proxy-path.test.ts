/**
 * Issue 11, defect 10: the path in a model's `proxy:` URL. One rule for every call on the model's
 * server: the URL's path is a prefix. The fake upstream runs with `--base-path /base` and answers
 * 404 to anything outside it, so a call that forgot the prefix fails: the health check (start never
 * ready), a sleep step (the model would be stopped instead of asleep), a wake step or the warm-up,
 * and traffic (404 to the client).
 */
import { expect } from 'chai';
import request from 'supertest';
import { fakeCommand } from '../../helpers/fake-upstream.js';
import { chat, cleanup, configYaml, describeCalls, openGateway, upstreamCalls } from '../../e2e/support.js';
import { assertNoServerChildren } from './harness.js';

describe('a model whose proxy URL has a path (issue 11, defect 10)', function () {
  afterEach(async function () {
    await cleanup();
    await assertNoServerChildren();
  });

  it('uses the path for the health check, sleep and wake steps, the warm-up and the traffic alike', async function () {
    const yaml = await configYaml({
      m: {
        cmd: fakeCommand(['--port', '${PORT}', '--backend', 'vllm', '--enable-sleep-mode', '--model', 'm', '--base-path', '/base', '--start-delay', '100ms']),
        proxy: 'http://127.0.0.1:${PORT}/base',
        backend: 'vllm',
      },
    });
    const { app, gateway } = await openGateway(yaml);
    const proxy = gateway.config.models['m']!.proxy;
    expect(proxy).to.match(/^http:\/\/127\.0\.0\.1:\d+\/base$/);

    // Cold start: ready only if /base/health answered; the chat itself goes to /base/v1/chat/completions.
    const first = await request(app).post('/v1/chat/completions').send(chat('m'));
    expect(first.status, JSON.stringify(first.body)).to.equal(200);
    // The fake upstream really refuses calls without the prefix.
    expect((await fetch(`${new URL(proxy).origin}/health`)).status).to.equal(404);

    const slept = await request(app).post('/api/models/m/sleep');
    expect(slept.status, JSON.stringify(slept.body)).to.equal(200);
    const state = (await (await fetch(`${proxy}/__state`)).json()) as { asleep: boolean; pid: number };
    expect(state.asleep, 'the sleep step reached /base/sleep').to.equal(true);

    const second = await request(app).post('/v1/chat/completions').send(chat('m'));
    expect(second.status, JSON.stringify(second.body)).to.equal(200);
    const after = (await (await fetch(`${proxy}/__state`)).json()) as { asleep: boolean; pid: number };
    expect(after.pid, 'woken, not cold-started').to.equal(state.pid);

    // Recorded paths are those under /base (the fake strips the prefix; anything else was a 404 and is not recorded).
    expect(describeCalls(await upstreamCalls(gateway, 'm'))).to.deep.equal([
      'POST /v1/chat/completions',
      'POST /sleep?level=1',
      'GET /is_sleeping',
      'POST /wake_up',
      'GET /is_sleeping',
      'POST /v1/completions',
      'POST /v1/chat/completions',
    ]);
  });
});

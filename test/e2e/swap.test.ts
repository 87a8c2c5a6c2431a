/**
 * Swaps inside one group: the evicted vLLM-style model sleeps (its process stays up) and wakes on
 * the next request; level 2 wakes in three steps; A B A B is served as A A B B.
 */
import { expect } from 'chai';
import request from 'supertest';
import { assertNoChildren } from '../helpers/wait.js';
import { chat, cleanup, configYaml, describeCalls, openGateway, upstreamCalls, vllmCmd, type Harness } from './support.js';

/** Lifecycle and generation calls without repeated `/is_sleeping` polls (their count depends on timing). */
function sequence(calls: Parameters<typeof describeCalls>[0]): string[] {
  return describeCalls(calls).filter((line, index, all) => !(line === 'GET /is_sleeping' && all[index - 1] === line));
}

async function swapPair(level: 1 | 2): Promise<Harness> {
  return openGateway(
    await configYaml(
      {
        a: { cmd: vllmCmd('a'), backend: 'vllm', sleep: { level } },
        b: { cmd: vllmCmd('b'), backend: 'vllm', sleep: { level } },
      },
      { groups: { gpu: { swap: true, members: ['a', 'b'] } } },
    ),
  );
}

describe('e2e: swaps between two vLLM-style models of one group', function () {
  afterEach(async function () {
    await cleanup();
    await assertNoChildren();
  });

  it('level 1: the evicted model sleeps, wakes on its next request, and is never restarted', async function () {
    const { gateway, app } = await swapPair(1);
    await request(app).post('/v1/chat/completions').send(chat('a')).expect(200);
    const pidA = gateway.manager.process('a').pid;
    expect(pidA).to.be.a('number');

    await request(app).post('/v1/chat/completions').send(chat('b')).expect(200);
    expect(gateway.manager.state('a')).to.equal('asleep');
    expect(gateway.manager.state('b')).to.equal('ready');
    expect(gateway.manager.process('a').pid, 'a sleeps, its process stays up').to.equal(pidA);
    const pidB = gateway.manager.process('b').pid;

    const back = await request(app).post('/v1/chat/completions').send(chat('a')).expect(200);
    expect(back.body.object).to.equal('chat.completion');
    expect(gateway.manager.state('a')).to.equal('ready');
    expect(gateway.manager.state('b')).to.equal('asleep');
    expect(gateway.manager.process('a').pid, 'woken, not restarted').to.equal(pidA);
    expect(gateway.manager.process('b').pid).to.equal(pidB);

    expect(sequence(await upstreamCalls(gateway, 'a'))).to.deep.equal([
      'POST /v1/chat/completions',
      'POST /sleep?level=1',
      'GET /is_sleeping',
      'POST /wake_up',
      'GET /is_sleeping',
      'POST /v1/completions', // the 1-token warm-up
      'POST /v1/chat/completions',
    ]);
    const a = await upstreamCalls(gateway, 'a');
    const warmup = a.find((call) => call.path === '/v1/completions')!;
    expect(JSON.parse(warmup.body)).to.include({ model: 'a', max_tokens: 1 });
    expect(a.every((call) => call.status === 200), 'every call answered 200').to.equal(true);
    expect(sequence(await upstreamCalls(gateway, 'b'))).to.deep.equal(['POST /v1/chat/completions', 'POST /sleep?level=1', 'GET /is_sleeping']);
    // The fake's own view agrees: b is asleep, a is awake.
    const proxyB = gateway.config.models.b!.proxy;
    const stateB = (await (await fetch(`${proxyB}/__state`)).json()) as { asleep: boolean; level: number };
    expect(stateB).to.include({ asleep: true, level: 1 });
  });

  it('level 2: sleeps with /sleep?level=2 and wakes in three steps plus a prefix-cache reset', async function () {
    const { gateway, app } = await swapPair(2);
    await request(app).post('/v1/chat/completions').send(chat('a')).expect(200);
    const pidA = gateway.manager.process('a').pid;
    await request(app).post('/v1/embeddings').send({ model: 'b', input: 'x' }).expect(200);
    expect(gateway.manager.state('a')).to.equal('asleep');
    const response = await request(app).post('/v1/completions').send({ model: 'a', prompt: 'x' }).expect(200);
    expect(response.body.choices[0].text).to.be.a('string').and.not.empty;
    expect(gateway.manager.process('a').pid).to.equal(pidA);

    const calls = await upstreamCalls(gateway, 'a');
    expect(sequence(calls)).to.deep.equal([
      'POST /v1/chat/completions',
      'POST /sleep?level=2',
      'GET /is_sleeping',
      'POST /wake_up?tags=weights',
      'POST /collective_rpc',
      'POST /wake_up?tags=kv_cache',
      'POST /reset_prefix_cache',
      'GET /is_sleeping',
      'POST /v1/completions', // warm-up
      'POST /v1/completions',
    ]);
    expect(JSON.parse(calls.find((call) => call.path === '/collective_rpc')!.body)).to.deep.equal({ method: 'reload_weights' });
    expect(calls.every((call) => call.status === 200)).to.equal(true);
  });

  it('A B A B with A ready: both A requests are served before B loads, and the B requests share one load', async function () {
    const { gateway, app } = await swapPair(1);
    await request(app).post('/v1/chat/completions').send(chat('a')).expect(200);
    const order: string[] = [];
    const send = (model: string, n: number) =>
      request(app)
        .post('/v1/chat/completions')
        .send(chat(model, { messages: [{ role: 'user', content: `${model}${n}` }] }))
        .expect(200)
        .then(() => order.push(`${model}${n}`));
    await Promise.all([send('a', 1), send('b', 1), send('a', 2), send('b', 2)]);

    const a = await upstreamCalls(gateway, 'a');
    const b = await upstreamCalls(gateway, 'b');
    const prompts = (calls: typeof a) => calls.filter((call) => call.path === '/v1/chat/completions').map((call) => (JSON.parse(call.body) as { messages: { content: string }[] }).messages[0]!.content);
    expect(prompts(a)).to.have.members(['hello', 'a1', 'a2']);
    expect(prompts(b)).to.have.members(['b1', 'b2']);
    // Both A requests reached A before A was put to sleep, and B was loaded only once (one process).
    const sleepAt = a.find((call) => call.path === '/sleep')!.at;
    for (const call of a.filter((call) => call.path === '/v1/chat/completions')) expect(call.at).to.be.at.most(sleepAt);
    expect(a.filter((call) => call.path === '/sleep')).to.have.length(1);
    expect(a.filter((call) => call.path === '/wake_up')).to.have.length(0);
    const firstB = Math.min(...b.filter((call) => call.path === '/v1/chat/completions').map((call) => call.at));
    expect(firstB).to.be.at.least(sleepAt);
    expect(order.indexOf('a1')).to.be.lessThan(order.indexOf('b1'));
    expect(order.indexOf('a2')).to.be.lessThan(order.indexOf('b1'));
    expect(gateway.manager.state('a')).to.equal('asleep');
    expect(gateway.manager.state('b')).to.equal('ready');
    expect(sequence(b).filter((line) => line !== 'GET /is_sleeping')).to.deep.equal(['POST /v1/chat/completions', 'POST /v1/chat/completions']);
  });
});

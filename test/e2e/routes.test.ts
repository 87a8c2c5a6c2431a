/**
 * The gateway's own routes and request rewriting: /v1/models, /running, /unload, the /upstream
 * passthrough (and its 403 on lifecycle paths), useModelName and filters as the upstream sees them,
 * and hooks.on_startup.preload.
 */
import { expect } from 'chai';
import request from 'supertest';
import { assertNoChildren, pollUntil } from '../helpers/wait.js';
import { chat, cleanup, configYaml, genericCmd, openGateway, upstreamCalls, vllmCmd, type Harness } from './support.js';

describe('e2e: gateway routes', function () {
  let h: Harness;
  before(async function () {
    h = await openGateway(
      await configYaml(
        {
          big: {
            cmd: vllmCmd('served-big'),
            backend: 'vllm',
            name: 'Big model',
            description: 'the vLLM one',
            aliases: ['large', 'gpt-4o'],
            useModelName: 'served-big',
            filters: { stripParams: 'top_k, repeat_penalty, model', setParams: { temperature: 0.2, max_tokens: 3 } },
          },
          early: { cmd: genericCmd('early'), aliases: ['first'] },
          secret: { cmd: genericCmd('secret'), unlisted: true },
        },
        // One non-swapping group, so that all three can run together.
        { includeAliasesInList: true, hooks: { on_startup: { preload: ['first'] } }, groups: { all: { swap: false, members: ['big', 'early', 'secret'] } } },
      ),
    );
    await h.gateway.start();
  });
  after(async function () {
    await cleanup();
    await assertNoChildren();
  });

  it('preloads hooks.on_startup.preload (by alias) at start()', async function () {
    await pollUntil(() => h.gateway.manager.state('early') === 'ready', { what: 'the preloaded model to be ready' });
    expect(h.gateway.manager.state('big')).to.equal('stopped');
  });

  it('GET /v1/models and /models list each model with its state, aliases included, unlisted hidden', async function () {
    for (const path of ['/v1/models', '/models']) {
      const response = await request(h.app).get(path).expect(200);
      expect(response.body.object).to.equal('list');
      const byId = new Map<string, Record<string, unknown>>(response.body.data.map((entry: Record<string, unknown>) => [entry.id, entry]));
      expect([...byId.keys()]).to.have.members(['big', 'large', 'gpt-4o', 'early', 'first']);
      expect(byId.get('big')).to.include({ object: 'model', owned_by: 'siesta', state: 'stopped', backend: 'vllm', name: 'Big model', description: 'the vLLM one' });
      expect(byId.get('large')).to.include({ object: 'model', state: 'stopped' });
      expect(byId.get('early')).to.include({ state: 'ready', backend: 'generic' });
      expect(byId.get('big')!.created).to.be.a('number');
    }
  });

  it('an unlisted model is still served', async function () {
    const response = await request(h.app).post('/v1/embeddings').send({ model: 'secret', input: 'x' }).expect(200);
    expect(response.body.model).to.equal('secret');
  });

  it('useModelName and filters (stripParams, setParams) rewrite what the upstream receives', async function () {
    const response = await request(h.app).post('/v1/chat/completions').send(chat('large', { top_k: 40, repeat_penalty: 1.1, temperature: 0.9, seed: 7 })).expect(200);
    expect(response.body.model).to.equal('served-big');
    expect(response.body.usage.completion_tokens).to.equal(3);
    const generation = (await upstreamCalls(h.gateway, 'big')).filter((call) => call.path === '/v1/chat/completions');
    expect(generation).to.have.length(1);
    expect(JSON.parse(generation[0]!.body)).to.deep.equal({ model: 'served-big', messages: [{ role: 'user', content: 'hello' }], temperature: 0.2, seed: 7, max_tokens: 3 });
  });

  it('GET /running lists the running models with state and pid', async function () {
    const response = await request(h.app).get('/running').expect(200);
    const running = response.body.running as { model: string; state: string; pid: number; backend: string; proxy: string }[];
    expect(running.map((entry) => entry.model)).to.have.members(['big', 'early', 'secret']);
    for (const entry of running) {
      expect(entry.state).to.equal('ready');
      expect(entry.pid).to.equal(h.gateway.manager.process(entry.model).pid);
      expect(entry.proxy).to.equal(h.gateway.config.models[entry.model]!.proxy);
    }
  });

  it('/upstream/:model/* passes through raw (body and query unchanged, no rewriting)', async function () {
    const listed = await request(h.app).get('/upstream/big/v1/models').expect(200);
    // vLLM's own listing, not the gateway's.
    expect(listed.body.data[0]).to.include({ id: 'served-big', owned_by: 'vllm' });
    const raw = await request(h.app).post('/upstream/gpt-4o/v1/completions?trace=1').send({ model: 'anything', prompt: 'p', top_k: 5 }).expect(200);
    expect(raw.body.model).to.equal('anything');
    const last = (await upstreamCalls(h.gateway, 'big')).at(-1)!;
    expect(last).to.include({ method: 'POST', path: '/v1/completions', query: 'trace=1' });
    expect(JSON.parse(last.body)).to.deep.equal({ model: 'anything', prompt: 'p', top_k: 5 });
  });

  it('/upstream keeps a path that starts with // on the model’s server (never read as another host)', async function () {
    // Read as a URL, //127.0.0.1:9/... names another host (port 9: nothing listens, so a 502).
    const response = await request(h.app).post('/upstream/big//127.0.0.1:9/v1/completions').send({ model: 'anything', prompt: 'double-slash' });
    expect(response.status, JSON.stringify(response.body)).to.equal(200);
    const last = (await upstreamCalls(h.gateway, 'big')).at(-1)!;
    expect(JSON.parse(last.body)).to.deep.equal({ model: 'anything', prompt: 'double-slash' });
  });

  it('/upstream refuses the backend lifecycle endpoints with 403 and never forwards them', async function () {
    const before = (await upstreamCalls(h.gateway, 'big')).length;
    for (const [method, path] of [
      ['post', '/upstream/big/sleep?level=1'],
      ['post', '/upstream/big/wake_up'],
      ['post', '/upstream/large/wake_up?tags=weights'],
      ['post', '/upstream/big/collective_rpc'],
      ['post', '/upstream/big//sleep/'],
      ['get', '/upstream/big/release_memory_occupation'],
    ] as const) {
      const response = await request(h.app)[method](path).send({ method: 'reload_weights' }).expect(403);
      expect(response.body.error).to.include({ code: 'forbidden_path', type: 'permission_error' });
    }
    expect((await upstreamCalls(h.gateway, 'big')).length).to.equal(before);
    expect(h.gateway.manager.state('big')).to.equal('ready');
  });

  it('/upstream loads a stopped model first', async function () {
    await h.gateway.manager.unload('secret');
    expect(h.gateway.manager.state('secret')).to.equal('stopped');
    const response = await request(h.app).get('/upstream/secret/v1/models').expect(200);
    expect(response.body.data[0].id).to.equal('secret');
    expect(h.gateway.manager.state('secret')).to.equal('ready');
  });

  it('GET /unload stops every model', async function () {
    const pids = h.gateway.manager.processes().map((process) => process.pid).filter((pid) => pid !== null);
    expect(pids).to.have.length(3);
    await request(h.app).get('/unload').expect(200);
    for (const process of h.gateway.manager.processes()) expect(process.state).to.equal('stopped');
    expect((await request(h.app).get('/running').expect(200)).body.running).to.deep.equal([]);
    const listed = await request(h.app).get('/v1/models').expect(200);
    expect(listed.body.data.every((entry: { state: string }) => entry.state === 'stopped')).to.equal(true);
  });
});

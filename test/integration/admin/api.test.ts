/** The admin API: views, actions, errors and the admin keys. */
import { expect } from 'chai';
import supertest from 'supertest';
import type { ModelView } from '../../../lib/gateway/model-view.js';
import { cleanup, configYaml, serve, threeModels } from './support.js';

describe('admin: /api/models', function () {
  afterEach(cleanup);

  it('lists every model with its state, backend, sleep level, recipe, resources and possible actions', async function () {
    const { app } = await serve(await configYaml(threeModels()));
    const response = await supertest(app).get('/api/models').expect(200).expect('content-type', /json/);
    const models = (response.body as { models: ModelView[] }).models;
    const small = models.find((model) => model.id === 'qwen-small')!;
    expect(small).to.deep.include({
      name: 'Qwen small',
      backend: 'vllm',
      state: 'stopped',
      sleepLevel: 1,
      asleepLevel: null,
      canSleep: true,
      recipe: 'vllm level 1',
      lastUsedAt: null,
      inFlight: 0,
      queued: 0,
      pid: null,
      lastChange: null,
      actions: { load: true, sleep: false, wake: false, unload: false },
    });
    expect(small.resources).to.deep.equal({ vram: 6 * 2 ** 30, ram: 2 ** 30, asleep: { vram: 2 ** 30, ram: 6 * 2 ** 30 } });
    const echo = models.find((model) => model.id === 'tiny-echo')!;
    expect(echo).to.deep.include({ backend: 'generic', canSleep: false, recipe: 'stop/start' });
    expect(echo.aliases).to.deep.equal(['echo']);
  });

  it('loads, sleeps, wakes and unloads a vLLM-style model, answering when each action is done', async function () {
    const { app } = await serve(await configYaml(threeModels()));
    const agent = supertest(app);
    const loaded = await agent.post('/api/models/qwen-small/load').expect(200);
    expect(loaded.body).to.deep.include({ action: 'load' });
    expect(loaded.body.result.action).to.equal('started');
    expect(loaded.body.model).to.deep.include({ state: 'ready', actions: { load: false, sleep: true, wake: false, unload: true } });
    expect(loaded.body.model.pid).to.be.a('number');
    expect(loaded.body.model.lastChange).to.deep.include({ from: 'starting', to: 'ready' });
    expect(loaded.body.model.lastChange.durationMs).to.be.at.least(100);

    const slept = await agent.post('/api/models/qwen-small/sleep').expect(200);
    expect(slept.body.result).to.equal('asleep');
    expect(slept.body.model).to.deep.include({ state: 'asleep', asleepLevel: 1 });

    const woke = await agent.post('/api/models/qwen-small/wake').expect(200);
    expect(woke.body.result.action).to.equal('woke');
    expect(woke.body.model.state).to.equal('ready');

    // Deeper sleep on request.
    const deep = await agent.post('/api/models/qwen-small/sleep?level=2').expect(200);
    expect(deep.body.model).to.deep.include({ state: 'asleep', asleepLevel: 2 });

    const unloaded = await agent.post('/api/models/qwen-small/unload').expect(200);
    expect(unloaded.body).to.deep.include({ result: 'stopped' });
    expect(unloaded.body.model).to.deep.include({ state: 'stopped', pid: null });
  });

  it('stops every model with POST /api/models/unload', async function () {
    const { app } = await serve(await configYaml(threeModels()));
    const agent = supertest(app);
    await agent.post('/api/models/qwen-small/load').expect(200);
    await agent.post('/api/models/echo/load').expect(200);
    const response = await agent.post('/api/models/unload').expect(200);
    expect((response.body as { models: ModelView[] }).models.map((model) => model.state)).to.deep.equal(['stopped', 'stopped', 'stopped']);
  });

  it('answers 409 with a clear message to sleep a model that cannot sleep or is stopped, 404 for unknown models and actions', async function () {
    const { app } = await serve(await configYaml(threeModels()));
    const agent = supertest(app);
    await agent.post('/api/models/echo/load').expect(200);
    const cannot = await agent.post('/api/models/tiny-echo/sleep').expect(409);
    expect(cannot.body.error).to.deep.include({ code: 'cannot_sleep', type: 'invalid_request_error' });
    expect(cannot.body.error.message).to.match(/tiny-echo.*cannot sleep.*generic/);

    const stopped = await agent.post('/api/models/qwen-small/sleep').expect(409);
    expect(stopped.body.error.code).to.equal('invalid_state');
    const notAsleep = await agent.post('/api/models/tiny-echo/wake').expect(409);
    expect(notAsleep.body.error.message).to.match(/ready, not asleep/);
    await agent.post('/api/models/qwen-small/load').expect(200);
    const badLevel = await agent.post('/api/models/qwen-small/sleep?level=zero').expect(400);
    expect(badLevel.body.error.code).to.equal('bad_request');

    const unknown = await agent.post('/api/models/nope/load').expect(404);
    expect(unknown.body).to.deep.equal({ error: { message: 'Model "nope" is not configured', type: 'invalid_request_error', code: 'model_not_found' } });
    await agent.get('/api/models/nope').expect(404);
    const action = await agent.post('/api/models/qwen-small/explode').expect(404);
    expect(action.body.error.message).to.match(/Unknown action "explode"/);
    await agent.get('/api/nothing-here').expect(404);
  });
});

describe('admin: keys', function () {
  afterEach(cleanup);

  it('guards /api, /logs and the status page with adminKeys, and the model routes and /metrics with apiKeys', async function () {
    const { app } = await serve(await configYaml(threeModels(), { apiKeys: ['api-key'], adminKeys: ['admin-key'] }));
    const agent = supertest(app);
    for (const path of ['/api/models', '/logs', '/', '/ui/', '/app.js']) {
      const refused = await agent.get(path).expect(401);
      expect(refused.headers['www-authenticate'], path).to.match(/^Basic realm="siesta admin"/);
      await agent.get(path).set('authorization', 'Bearer api-key').expect(401);
      await agent.get(path).set('authorization', 'Bearer admin-key').expect(200);
    }
    // A browser answers the Basic challenge with any user name and the key as password.
    await agent.get('/api/models').auth('me', 'admin-key').expect(200);
    await agent.get('/api/models').set('x-api-key', 'admin-key').expect(200);

    await agent.get('/metrics').expect(401);
    await agent.get('/metrics').set('authorization', 'Bearer api-key').expect(200);
    await agent.get('/v1/models').set('authorization', 'Bearer admin-key').expect(401);
    await agent.get('/health').expect(200);
  });

  it('uses apiKeys for the admin routes when no adminKeys are set', async function () {
    const { app } = await serve(await configYaml(threeModels(), { apiKeys: ['api-key'] }));
    await supertest(app).get('/api/models').expect(401);
    await supertest(app).get('/api/models').set('authorization', 'Bearer api-key').expect(200);
  });

  it('is open to loopback clients when no key is configured', async function () {
    const { app } = await serve(await configYaml(threeModels()));
    await supertest(app).get('/api/models').expect(200);
    await supertest(app).get('/logs').expect(200);
    await supertest(app).get('/').expect(200);
  });
});

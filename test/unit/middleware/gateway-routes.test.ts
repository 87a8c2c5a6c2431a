/**
 * The gateway's own small routes, each through the small interface it reads: /health, /unload,
 * /running, /v1/models, the 404 after every route, and the recipe paths refused on /upstream.
 */
import { expect } from 'chai';
import express, { type RequestHandler } from 'express';
import Joi from 'joi';
import request from 'supertest';
import { loadConfigText } from '../../../lib/config/index.js';
import type { RunningModel } from '../../../lib/gateway/types.js';
import type { ModelState } from '../../../lib/process/states.js';
import { BUILTIN_PLUGINS, PluginRegistry } from '../../../lib/plugins/registry.js';
import { pluginChecksOf } from '../../../lib/plugins/checks.js';
import { createErrorHandler, createNotFoundHandler } from '../../../middleware/error-handler.js';
import { createHealthHandler } from '../../../middleware/health.js';
import { createModelListHandler } from '../../../middleware/model-list.js';
import { createRunningHandler, hasProcess, runningOfProcesses, runningRecord } from '../../../middleware/running.js';
import { createUnloadAllHandler } from '../../../middleware/unload.js';
import { recipePathsOf } from '../../../middleware/upstream-route.js';

const silent = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

function appWith(path: string, handler: RequestHandler): express.Express {
  const app = express();
  app.all(path, handler);
  app.use(createNotFoundHandler());
  app.use(createErrorHandler({ log: silent }));
  return app;
}

function running(id: string, state: ModelState, model: Partial<RunningModel['model']> = {}): RunningModel {
  return { id, state, pid: state === 'starting' ? null : 4242, inFlight: 2, model: { backend: 'vllm', proxy: 'http://127.0.0.1:5800', name: id, description: '', ...model } };
}

describe('gateway routes (middleware/)', function () {
  it('/health: OK, then 503 stopping once the gateway closes', async function () {
    let stopping = false;
    const app = appWith('/health', createHealthHandler({ stopping: () => stopping }));
    const ok = await request(app).get('/health').expect(200);
    expect([ok.text, ok.type]).to.deep.equal(['OK', 'text/plain']);
    stopping = true;
    expect((await request(app).get('/health').expect(503)).text).to.equal('stopping');
  });

  it('/unload: answers OK once every model stopped', async function () {
    const order: string[] = [];
    const app = express();
    app.use(function recordAnswer(_req, res, next) {
      res.once('finish', () => order.push('answered'));
      next();
    });
    app.post('/unload', createUnloadAllHandler({
      models: {
        unloadAll: async () => {
          await new Promise((resolve) => setImmediate(resolve));
          order.push('stopped');
        },
      },
    }));
    const response = await request(app).post('/unload').expect(200);
    expect([response.text, order]).to.deep.equal(['OK', ['stopped', 'answered']]);
  });

  describe('/running', function () {
    it('runningRecord as a table: name and description only when they say something', function () {
      const table: [string, RunningModel, Record<string, unknown>][] = [
        ['plain', running('m', 'ready'), { model: 'm', state: 'ready', backend: 'vllm', proxy: 'http://127.0.0.1:5800', pid: 4242, inFlight: 2 }],
        ['no pid yet', running('m', 'starting'), { model: 'm', state: 'starting', backend: 'vllm', proxy: 'http://127.0.0.1:5800', pid: null, inFlight: 2 }],
        ['own name', running('m', 'asleep', { name: 'Model M' }), { model: 'm', state: 'asleep', backend: 'vllm', proxy: 'http://127.0.0.1:5800', pid: 4242, inFlight: 2, name: 'Model M' }],
        ['description', running('m', 'ready', { description: 'big' }), { model: 'm', state: 'ready', backend: 'vllm', proxy: 'http://127.0.0.1:5800', pid: 4242, inFlight: 2, description: 'big' }],
      ];
      for (const [name, input, expected] of table) expect(runningRecord(input), name).to.deep.equal(expected);
    });

    it('hasProcess: every state but stopped and shutdown', function () {
      const states: ModelState[] = ['stopped', 'starting', 'ready', 'sleeping', 'asleep', 'waking', 'stopping', 'shutdown'];
      expect(states.filter(hasProcess)).to.deep.equal(['starting', 'ready', 'sleeping', 'asleep', 'waking', 'stopping']);
    });

    it('lists the running view (interim: built from the processes)', async function () {
      const processes = [running('a', 'stopped'), running('b', 'ready'), running('c', 'shutdown'), running('d', 'asleep')];
      const app = appWith('/running', createRunningHandler({ models: runningOfProcesses({ processes: () => processes }) }));
      const body = (await request(app).get('/running').expect(200)).body as { running: { model: string }[] };
      expect(body.running.map((entry) => entry.model)).to.deep.equal(['b', 'd']);
    });
  });

  it('/v1/models: the listing, with the client\'s Origin echoed', async function () {
    const { config } = loadConfigText('models:\n  b:\n    cmd: x ${PORT}\n  a:\n    cmd: x ${PORT}\n', { env: {}, baseDir: '/srv' });
    const app = appWith('/v1/models', createModelListHandler({ config, models: { state: (id) => (id === 'a' ? 'ready' : 'stopped') }, nowSec: () => 1000 }));
    const response = await request(app).get('/v1/models').set('Origin', 'http://page.example').expect(200);
    expect(response.headers['access-control-allow-origin']).to.equal('http://page.example');
    const body = response.body as { object: string; data: { id: string; created: number; status: { value: string } }[] };
    expect(body.data.map((record) => [record.id, record.created, record.status.value])).to.deep.equal([['a', 1000, 'loaded'], ['b', 1000, 'unloaded']]);
    expect((await request(app).get('/v1/models').expect(200)).headers['access-control-allow-origin']).to.equal(undefined);
  });

  it('no route: 404 in the OpenAI shape', async function () {
    const app = appWith('/health', createHealthHandler({ stopping: () => false }));
    const body = (await request(app).delete('/nothing').expect(404)).body as { error: { message: string } };
    expect(body.error.message).to.equal('No route for DELETE /nothing');
  });

  it('recipePathsOf: every step of every level of the model\'s plugin, none otherwise', function () {
    const plugins = new PluginRegistry(BUILTIN_PLUGINS);
    const paths = recipePathsOf({ v: { backend: 'vllm' }, s: { backend: 'sglang' }, g: { backend: 'generic' }, u: { backend: 'unknown' } }, plugins);
    const table: [string, readonly string[]][] = [
      ['v', ['/sleep?level=1', '/wake_up', '/sleep?level=2', '/wake_up?tags=weights', '/collective_rpc', '/wake_up?tags=kv_cache', '/reset_prefix_cache']],
      ['s', ['/release_memory_occupation', '/resume_memory_occupation']],
      ['g', []],
      ['u', []],
      ['not-configured', []],
    ];
    for (const [model, expected] of table) expect(paths(model), model).to.deep.equal(expected);
  });

  it('pluginChecksOf: the known backends and each options schema', function () {
    const withSchema = { name: 'opts', apiVersion: 1 as const, optionsSchema: Joi.object({ x: Joi.number() }) };
    const checks = pluginChecksOf(new PluginRegistry([...BUILTIN_PLUGINS, withSchema]));
    expect(checks.knownBackends).to.deep.equal(['generic', 'vllm', 'llama-server', 'sglang', 'opts']);
    expect(Object.keys(checks.pluginOptionSchemas)).to.deep.equal(['llama-server', 'opts']); // llama-server: saveSlots
  });
});

import { expect } from 'chai';
import express from 'express';
import request from 'supertest';
import { isLifecyclePath, normalizeUpstreamPath } from '../../../middleware/upstream-route.js';
import { createUpstreamMiddleware } from '../../../middleware/upstream.js';
import { createErrorHandler } from '../../../middleware/error-handler.js';
import { makeModel } from '../../helpers/model-config.js';
import type { ModelConfig } from '../../../lib/config/types.js';

// Issue 11 defect 4: uvicorn (vLLM, SGLang) decodes a path before routing, so the lifecycle block
// must see what the backend will see.
describe('/upstream lifecycle block', function () {
  describe('normalizeUpstreamPath', function () {
    const cases: [string, string | null][] = [
      ['/sleep', '/sleep'],
      ['/%73leep', '/sleep'],
      ['/wake%5Fup', '/wake_up'],
      ['/models%2Fload', '/models/load'],
      ['/%2573leep', '/sleep'],
      ['//sleep/', '/sleep'],
      ['/v1/../sleep', '/sleep'],
      ['/./sleep', '/sleep'],
      ['/SLEEP', '/sleep'],
      ['/sleep?level=1', '/sleep'],
      ['/v1/chat/completions', '/v1/chat/completions'],
      ['/%E0%A4%A', null],
      ['/%zz', null],
    ];
    for (const [path, expected] of cases) {
      it(`${path} → ${String(expected)}`, function () {
        expect(normalizeUpstreamPath(path)).to.equal(expected);
      });
    }
  });

  describe('isLifecyclePath', function () {
    const model = makeModel({
      id: 'm',
      cmd: ['x'],
      sleepEndpoints: [{ endpoint: '/custom/park?now=1', method: 'POST', timeoutMs: 1000 }],
      wakeEndpoints: [{ endpoint: '/custom/unpark', method: 'POST', timeoutMs: 1000 }],
    });
    const cases: [string, readonly string[], boolean | null][] = [
      ['/%73leep', [], true],
      ['/collective%5Frpc', [], true],
      ['/resume%5Fmemory%5Foccupation', [], true],
      ['/reset_prefix_cache', [], true],
      ['/custom/park', [], true],
      ['/custom/%75npark', [], true],
      ['/plugin/freeze', ['/plugin/freeze'], true],
      ['/plugin/freeze', [], false],
      ['/v1/models', [], false],
      ['/sleeper', [], false],
      ['/%zz', [], null],
    ];
    for (const [path, extra, expected] of cases) {
      it(`${path}${extra.length ? ` (plugin steps ${extra.join(', ')})` : ''} → ${String(expected)}`, function () {
        expect(isLifecyclePath(path, model, extra)).to.equal(expected);
      });
    }
  });

  describe('the middleware', function () {
    const model: ModelConfig = makeModel({ id: 'm', cmd: ['x'] });
    const app = express();
    app.use(
      createUpstreamMiddleware({
        models: { resolve: (name) => (name === 'm' ? model : undefined), state: () => 'ready' },
        recipePaths: () => ['/plugin/freeze'],
      }),
      (_req, res) => {
        res.json({ passed: true });
      },
    );
    app.use(createErrorHandler({ log: { debug() {}, info() {}, warn() {}, error() {} } }));
    for (const path of ['/upstream/m/%73leep', '/upstream/m/wake%5Fup', '/upstream/m/models%2Fload', '/upstream/m/v1/../sleep', '/upstream/m/plugin/freeze']) {
      it(`POST ${path} → 403`, async function () {
        const response = await request(app).post(path).expect(403);
        expect(response.body.error.code).to.equal('forbidden_path');
      });
    }
    it('malformed percent-encoding is a 400, not a 500', async function () {
      const response = await request(app).post('/upstream/m/%zz').expect(400);
      expect(response.body.error.message).to.match(/malformed percent-encoding/);
    });
    it('an ordinary path passes', async function () {
      await request(app).post('/upstream/m/v1/chat/completions').expect(200, { passed: true });
    });
  });
});

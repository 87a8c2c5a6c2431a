/**
 * `upstream.ignorePaths` in the /upstream passthrough, as llama-swap's handleUpstream does it
 * (internal/server/api.go and TestServer_HandleUpstream_IgnorePaths): a matching path is passed
 * through when the model is ready and refused with 409 otherwise, so it never loads the model.
 */
import { expect } from 'chai';
import express from 'express';
import request from 'supertest';
import { silentLogger } from '../../../lib/logger.js';
import { requestContext } from '../../../lib/gateway/types.js';
import type { ModelState } from '../../../lib/process/states.js';
import { createErrorHandler } from '../../../middleware/error-handler.js';
import { createUpstreamMiddleware } from '../../../middleware/upstream.js';
import { ignoredPathDecision } from '../../../middleware/upstream-route.js';
import { makeModel } from '../../helpers/model-config.js';

/** llama-swap's default pattern. */
const DEFAULT = String.raw`.*\.(js|json|css|png|gif|jpg|jpeg|ico|txt)$`;

describe('upstream: ignorePaths', function () {
  it('ignoredPathDecision: refuse only a matching path of a model that is not ready', function () {
    const patterns = [new RegExp(DEFAULT), /^\/static\//];
    const table: readonly (readonly [string, ModelState, 'pass' | 'refuse'])[] = [
      ['/foo.js', 'stopped', 'refuse'],
      ['/bar/baz.json', 'asleep', 'refuse'],
      ['/favicon.ico', 'starting', 'refuse'],
      ['/static/app', 'waking', 'refuse'],
      ['/foo.js', 'ready', 'pass'],
      ['/v1/chat/completions', 'stopped', 'pass'],
      ['/foo.json/more', 'stopped', 'pass'],
      // Go's MatchString finds the pattern anywhere in the path.
      ['/a/static/b', 'stopped', 'pass'],
      ['/x/y.css', 'stopped', 'refuse'],
    ];
    for (const [path, state, expected] of table) expect(ignoredPathDecision(path, patterns, state), `${path} ${state}`).to.equal(expected);
    expect(ignoredPathDecision('/foo.js', [], 'stopped')).to.equal('pass');
  });

  function app(states: Record<string, ModelState>, ignorePaths: readonly string[] | undefined) {
    const models = { a: makeModel({ id: 'a', cmd: ['x'], aliases: ['alias-a'] }), 'org/b': makeModel({ id: 'org/b', cmd: ['x'] }) };
    const directory = {
      resolve: (name: string) => Object.values(models).find((model) => model.id === name || model.aliases.includes(name)),
      state: (id: string) => states[id] ?? 'stopped',
    };
    const server = express();
    server.all(['/upstream/*path'], createUpstreamMiddleware({ models: directory, ...(ignorePaths ? { ignorePaths } : {}) }), function passedOn(req, res) {
      res.json({ passed: true, model: requestContext(res).model.id, url: req.url });
    });
    server.use(createErrorHandler({ log: silentLogger }));
    return server;
  }

  it('a matching path of a model that is not loaded: 409 with llama-swap’s message, nothing passed on', async function () {
    const response = await request(app({}, [DEFAULT])).get('/upstream/a/foo.js').expect(409);
    expect(response.body.error).to.deep.equal({ message: 'model a is not loaded; path matches upstream.ignorePaths', type: 'invalid_request_error', code: 'invalid_state' });
  });

  it('by alias, a model id with a slash, an escaped path and a query: the decoded path is matched, the query is not', async function () {
    await request(app({}, [DEFAULT])).get('/upstream/alias-a/assets/app.css?v=3').expect(409);
    await request(app({}, [DEFAULT])).get('/upstream/org/b/logo%2Epng').expect(409);
    const response = await request(app({}, [DEFAULT])).get('/upstream/a/page?file=x.js').expect(200);
    expect(response.body).to.deep.equal({ passed: true, model: 'a', url: '/page?file=x.js' });
  });

  it('a matching path of a ready model is passed on unchanged', async function () {
    const response = await request(app({ a: 'ready' }, [DEFAULT])).get('/upstream/a/static/app.js?x=1').expect(200);
    expect(response.body).to.deep.equal({ passed: true, model: 'a', url: '/static/app.js?x=1' });
  });

  it('an asleep model is not loaded for an ignored path either (waking it would be a load)', async function () {
    await request(app({ a: 'asleep' }, [DEFAULT])).get('/upstream/a/foo.js').expect(409);
  });

  it('a path that matches no pattern is passed on (and would load the model)', async function () {
    const response = await request(app({}, [DEFAULT])).post('/upstream/a/v1/chat/completions').send({}).expect(200);
    expect(response.body).to.include({ passed: true, url: '/v1/chat/completions' });
  });

  it('configured patterns replace the default; no patterns given = nothing ignored', async function () {
    const custom = app({}, ['^/ui/']);
    await request(custom).get('/upstream/a/ui/index.html').expect(409);
    await request(custom).get('/upstream/a/foo.js').expect(200);
    await request(app({}, undefined)).get('/upstream/a/foo.js').expect(200);
  });

  it('lifecycle paths are still refused with 403 first', async function () {
    const response = await request(app({}, ['.*'])).post('/upstream/a/sleep').expect(403);
    expect(response.body.error.code).to.equal('forbidden_path');
  });
});

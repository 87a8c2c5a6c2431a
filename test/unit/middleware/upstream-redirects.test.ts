/**
 * The /upstream redirects and peers, as llama-swap's handleUpstream / handleUpstreamRedirect
 * (internal/server/api.go; api_test.go `TestServer_HandleUpstream`, `TestServer_Redirects`):
 * `/upstream/<model>` without a trailing slash → 301 (GET, HEAD) or 308 (others) with the query
 * kept, an unknown model 404 first; `GET /upstream` → 302 to the status page; a peer's model is
 * handed to the peer proxy with the rest of the path.
 */
import { expect } from 'chai';
import express from 'express';
import request from 'supertest';
import type { PeerConfig } from '../../../lib/config/types.js';
import { MODEL_TIMEOUTS } from '../../../lib/config/routing.js';
import { silentLogger } from '../../../lib/logger.js';
import { peerRequestContext, requestContext } from '../../../lib/gateway/types.js';
import { createErrorHandler } from '../../../middleware/error-handler.js';
import { createUpstreamMiddleware, peerUpstreamBody, trailingSlashRedirect, upstreamIndexRedirect } from '../../../middleware/upstream.js';
import { makeModel } from '../../helpers/model-config.js';

function peer(id: string, models: readonly string[]): PeerConfig {
  return { id, proxy: `http://${id}.invalid`, apiKey: '', models, filters: { stripParams: [], setParams: {}, setParamsByID: {} }, timeouts: MODEL_TIMEOUTS };
}

function app(prefix = '') {
  const models = { m1: makeModel({ id: 'm1', cmd: ['x'], aliases: ['alias-1'] }), 'org/m2': makeModel({ id: 'org/m2', cmd: ['x'] }) };
  const directory = {
    resolve: (name: string) => Object.values(models).find((model) => model.id === name || model.aliases.includes(name)),
    state: () => 'ready' as const,
  };
  const peers = { p1: peer('p1', ['remote', 'm1']), p2: peer('p2', ['other']) };
  const router = express.Router();
  router.use(express.raw({ type: () => true }));
  router.get('/upstream', upstreamIndexRedirect);
  router.all(['/upstream/*path'], createUpstreamMiddleware({ models: directory, peers, pins: () => ({ fast: 'm1' }) }), function passedOn(req, res) {
    const peerContext = peerRequestContext(res);
    if (peerContext) res.json({ peer: peerContext.peer.id, model: peerContext.model, url: req.url, body: Buffer.isBuffer(peerContext.body) ? peerContext.body.toString('utf8') : null });
    else res.json({ model: requestContext(res).model.id, url: req.url });
  });
  router.use(createErrorHandler({ log: silentLogger }));
  const server = express();
  server.use(prefix || '/', router);
  return server;
}

describe('upstream: redirects and peers', function () {
  it('trailingSlashRedirect as a table: 301 for GET and HEAD, 308 otherwise, query kept', function () {
    const table: readonly (readonly [string, string, number, string])[] = [
      ['GET', '/upstream/m1', 301, '/upstream/m1/'],
      ['HEAD', '/upstream/m1', 301, '/upstream/m1/'],
      ['POST', '/upstream/m1', 308, '/upstream/m1/'],
      ['PUT', '/upstream/m1?a=1&b=2', 308, '/upstream/m1/?a=1&b=2'],
      ['DELETE', '/upstream/org/m2', 308, '/upstream/org/m2/'],
      ['GET', '/upstream/org%2Fm2?x=%20', 301, '/upstream/org%2Fm2/?x=%20'],
      ['GET', '/llm/upstream/m1?', 301, '/llm/upstream/m1/'],
    ];
    for (const [method, url, status, location] of table) expect(trailingSlashRedirect(method, url), `${method} ${url}`).to.deep.equal({ status, location });
  });

  it('GET /upstream/<model> (id, alias, slashed id, pinned name): 301 to the slash, query kept; nothing passed on', async function () {
    for (const [path, location] of [
      ['/upstream/m1', '/upstream/m1/'],
      ['/upstream/alias-1?x=1', '/upstream/alias-1/?x=1'],
      ['/upstream/org/m2', '/upstream/org/m2/'],
      ['/upstream/fast', '/upstream/fast/'],
      ['/upstream/p1/remote?q=a%20b', '/upstream/p1/remote/?q=a%20b'],
    ] as const) {
      const response = await request(app()).get(path).expect(301);
      expect(response.headers['location'], path).to.equal(location);
    }
    await request(app()).head('/upstream/m1').expect(301).expect('Location', '/upstream/m1/');
  });

  it('other methods: 308 so the method and body are kept', async function () {
    for (const method of ['post', 'put', 'patch', 'delete'] as const) {
      await request(app())[method]('/upstream/m1?keep=1').send({ a: 1 }).expect(308).expect('Location', '/upstream/m1/?keep=1');
    }
  });

  it('under a mount prefix the redirect keeps the prefix', async function () {
    await request(app('/llm')).get('/llm/upstream/m1?x=1').expect(301).expect('Location', '/llm/upstream/m1/?x=1');
    await request(app('/llm')).get('/llm/upstream').expect(302).expect('Location', '/llm/');
  });

  it('the slash form and deeper paths are passed on; an unknown model is 404, not redirected', async function () {
    expect((await request(app()).get('/upstream/m1/').expect(200)).body).to.deep.equal({ model: 'm1', url: '/' });
    expect((await request(app()).get('/upstream/m1/props?x=1').expect(200)).body).to.deep.equal({ model: 'm1', url: '/props?x=1' });
    const missing = await request(app()).get('/upstream/nope').expect(404);
    expect(missing.body.error.code).to.equal('model_not_found');
  });

  it('GET /upstream: 302 to the status page (llama-swap: /ui/models)', async function () {
    await request(app()).get('/upstream').expect(302).expect('Location', '/');
  });

  it('a peer model by <peer>/<model> or a bare name one peer serves goes to the peer proxy with the rest of the path', async function () {
    expect((await request(app()).get('/upstream/p1/remote/v1/models?x=1').expect(200)).body).to.deep.equal({ peer: 'p1', model: 'remote', url: '/v1/models?x=1', body: null });
    expect((await request(app()).get('/upstream/other/health').expect(200)).body).to.deep.equal({ peer: 'p2', model: 'other', url: '/health', body: null });
    // A local model wins over a peer's model of the same bare name.
    expect((await request(app()).get('/upstream/m1/health').expect(200)).body).to.deep.equal({ model: 'm1', url: '/health' });
    expect((await request(app()).get('/upstream/p1/m1/health').expect(200)).body).to.include({ peer: 'p1', model: 'm1' });
  });

  it("a peer's JSON body naming the requested model names the peer's model instead", async function () {
    const response = await request(app()).post('/upstream/p1/remote/v1/chat/completions').send({ model: 'p1/remote', messages: [] }).expect(200);
    expect(JSON.parse(response.body.body as string)).to.deep.equal({ model: 'remote', messages: [] });
  });

  it('peerUpstreamBody as a table: only a JSON object whose model is the requested name changes', function () {
    const json = (value: unknown) => Buffer.from(JSON.stringify(value));
    const table: readonly (readonly [Buffer | undefined, string, string, string, string | undefined])[] = [
      [json({ model: 'p/m', x: 1 }), 'application/json', 'p/m', 'm', '{"model":"m","x":1}'],
      [json({ model: 'other' }), 'application/json', 'p/m', 'm', '{"model":"other"}'],
      [json({ model: 'm' }), 'application/json', 'm', 'm', '{"model":"m"}'],
      [json({ model: 'p/m' }), 'text/plain', 'p/m', 'm', '{"model":"p/m"}'],
      [Buffer.from('not json'), 'application/json', 'p/m', 'm', 'not json'],
      [json(['p/m']), 'application/json', 'p/m', 'm', '["p/m"]'],
      [undefined, 'application/json', 'p/m', 'm', undefined],
    ];
    for (const [body, type, requested, target, expected] of table) {
      expect(peerUpstreamBody(body, type, requested, target)?.toString('utf8'), `${body?.toString()} ${type}`).to.equal(expected);
    }
  });
});

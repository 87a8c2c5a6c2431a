/**
 * CORS, WWW-Authenticate and the /upstream redirects through the whole gateway with a real model
 * server (the fake upstream), as llama-swap answers them: a preflight is answered before the API
 * key is checked, a 401 carries a Basic challenge, `cors.origins` keeps foreign origins out;
 * `GET /upstream` and `/upstream/<model>` redirect; a peer's model is reachable through /upstream.
 */
import { expect } from 'chai';
import request from 'supertest';
import { startRecordingPeer } from './peers-support.js';
import { chat, cleanup, configYaml, genericCmd, openGateway, upstreamCalls } from './support.js';
import { assertNoChildren } from '../helpers/wait.js';

const PAGE = 'http://127.0.0.1:5173';

describe('e2e: CORS, WWW-Authenticate and /upstream redirects', function () {
  afterEach(async function () {
    await cleanup();
    await assertNoChildren();
  });

  it('with apiKeys: the preflight needs no key; a keyless request is a readable 401 with a Basic challenge; with the key the chat and the model list are readable', async function () {
    const h = await openGateway(await configYaml({ m1: { cmd: genericCmd('m1') } }, { apiKeys: ['k1'] }));
    const preflight = await request(h.app)
      .options('/v1/chat/completions')
      .set('Origin', PAGE)
      .set('Access-Control-Request-Method', 'POST')
      .set('Access-Control-Request-Headers', 'authorization,content-type')
      .expect(204);
    expect(preflight.headers).to.include({
      'access-control-allow-origin': '*',
      'access-control-allow-methods': 'GET, POST, PUT, PATCH, DELETE, OPTIONS',
      'access-control-allow-headers': 'authorization, content-type',
      'access-control-max-age': '86400',
    });

    const denied = await request(h.app).post('/v1/chat/completions').set('Origin', PAGE).send(chat('m1')).expect(401);
    expect(denied.headers['www-authenticate']).to.match(/^Basic realm="siesta"/);
    expect(denied.headers['access-control-allow-origin']).to.equal(PAGE);
    expect(denied.body.error).to.include({ code: 'unauthorized', type: 'authentication_error' });
    await request(h.app).get('/v1/models').expect(401).expect('WWW-Authenticate', /^Basic /);

    const answered = await request(h.app).post('/v1/chat/completions').set('Origin', PAGE).set('Authorization', 'Bearer k1').send(chat('m1')).expect(200);
    expect(answered.headers['access-control-allow-origin']).to.equal(PAGE);
    expect(answered.headers['vary']).to.match(/Origin/);
    const models = await request(h.app).get('/v1/models').set('Origin', PAGE).set('x-api-key', 'k1').expect(200);
    expect(models.headers['access-control-allow-origin']).to.equal(PAGE);
  });

  it('cors.origins: a listed origin is echoed; a foreign one gets no allow header on the preflight, the chat or the model list (which echoes every origin itself)', async function () {
    const h = await openGateway(await configYaml({ m1: { cmd: genericCmd('m1') } }, { cors: { origins: [PAGE] } }));
    const allowed = await request(h.app).options('/v1/chat/completions').set('Origin', PAGE).set('Access-Control-Request-Headers', 'content-type').expect(204);
    expect(allowed.headers['access-control-allow-origin']).to.equal(PAGE);
    expect(allowed.headers['vary']).to.equal('Origin');

    const foreign = 'https://elsewhere.example';
    const responses = [
      await request(h.app).options('/v1/chat/completions').set('Origin', foreign).set('Access-Control-Request-Headers', 'content-type').expect(204),
      await request(h.app).post('/v1/chat/completions').set('Origin', foreign).send(chat('m1')).expect(200),
      await request(h.app).get('/v1/models').set('Origin', foreign).expect(200),
    ];
    for (const response of responses) {
      expect(Object.keys(response.headers).filter((name) => name.startsWith('access-control-'))).to.deep.equal([]);
    }
    // Not a browser (no Origin): answered as before.
    await request(h.app).post('/v1/chat/completions').send(chat('m1')).expect(200);
  });

  it('/upstream: GET /upstream is a 302 to the status page without a key; /upstream/<model> 301 (GET) or 308 (POST) to the slash with the query; the slash form reaches the model', async function () {
    const h = await openGateway(await configYaml({ m1: { cmd: genericCmd('m1') } }, { apiKeys: ['k1'] }));
    await request(h.app).get('/upstream').expect(302).expect('Location', '/');
    await request(h.app).get('/upstream/m1?a=1').expect(401);
    await request(h.app).get('/upstream/m1?a=1').set('x-api-key', 'k1').expect(301).expect('Location', '/upstream/m1/?a=1');
    await request(h.app).post('/upstream/m1?a=1').set('x-api-key', 'k1').send({}).expect(308).expect('Location', '/upstream/m1/?a=1');
    await request(h.app).get('/upstream/nope').set('x-api-key', 'k1').expect(404);
    expect(h.gateway.manager.processes().every((process) => process.state === 'stopped'), 'a redirect loads nothing').to.equal(true);

    await request(h.app).post('/upstream/m1/v1/chat/completions?a=1').set('x-api-key', 'k1').send(chat('m1')).expect(200);
    const last = (await upstreamCalls(h.gateway, 'm1')).at(-1)!;
    expect(last).to.include({ method: 'POST', path: '/v1/chat/completions', query: 'a=1' });
  });

  it('/upstream/<peer>/<model>/...: forwarded to the peer with its key, the rest of the path, and the model renamed in a JSON body', async function () {
    const peer = await startRecordingPeer();
    const h = await openGateway(await configYaml({}, { apiKeys: ['k1'], peers: { remote: { proxy: `${peer.url}/prefix`, apiKey: 'peer-key', models: ['org/model'] } } }));
    await request(h.app).get('/upstream/remote/org/model').set('x-api-key', 'k1').expect(301).expect('Location', '/upstream/remote/org/model/');
    const response = await request(h.app).post('/upstream/remote/org/model/v1/chat/completions?x=1').set('x-api-key', 'k1').send(chat('remote/org/model')).expect(200);
    expect(response.body).to.include({ model: 'org/model' });
    expect(peer.requests).to.have.length(1);
    const [received] = peer.requests;
    expect(received!.url).to.equal('/prefix/v1/chat/completions?x=1');
    expect(received!.headers.authorization).to.equal('Bearer peer-key');
    expect(JSON.parse(received!.body)).to.deep.include({ model: 'org/model' });
  });
});

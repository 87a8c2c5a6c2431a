/**
 * llama-swap's name routing through real HTTP requests: peers (real fake-upstream processes, and
 * a recording server where headers are asserted), the active profile's pins and
 * `/api/profiles`, selectors (pin, warm with siesta's asleep-over-stopped rule, spillover with
 * reservations released when requests end), `setParamsByID` on a local model by the name asked
 * for, and per-model / per-peer `timeouts.responseHeader`.
 *
 * What a model or peer received is read from the fake upstream's recorded calls.
 */
import { expect } from 'chai';
import request from 'supertest';
import type { Gateway } from '../../lib/gateway/create-gateway.js';
import { startFake, stopAllFakes, type Call, type FakeHandle } from '../helpers/fake-upstream.js';
import { assertNoChildren, freePort, pollUntil } from '../helpers/wait.js';
import { holdStream, listen, startRecordingPeer } from './peers-support.js';
import { chat, cleanup, configYaml, genericCmd, openGateway, sseEvents, textParser, upstreamCalls, vllmCmd } from './support.js';

const generic = (model: string, extra: readonly string[] = []): Record<string, unknown> => ({ cmd: genericCmd(model, extra) });
/** Streams 500 tokens 20 ms apart: busy for as long as a test holds it. */
const streamer = (model: string): Record<string, unknown> => generic(model, ['--tokens', '500', '--token-interval', '20ms']);
const sleeper = (model: string): Record<string, unknown> => ({ cmd: vllmCmd(model), backend: 'vllm' });

/** A peer: a fake upstream serving `model`, refusing any other name (so a missed rename is a 404). */
function fakePeer(model: string, args: readonly string[] = []): Promise<FakeHandle> {
  return startFake({ model, args: ['--strict-model', ...args] });
}

function chatCalls(calls: readonly Call[]): Record<string, unknown>[] {
  return calls.filter((call) => call.path === '/v1/chat/completions').map((call) => JSON.parse(call.body) as Record<string, unknown>);
}

/** The bodies of the chat calls a local model's upstream received. */
async function localBodies(gateway: Gateway, model: string): Promise<Record<string, unknown>[]> {
  return chatCalls(await upstreamCalls(gateway, model));
}

/** Which local models are not stopped. */
function running(gateway: Gateway): Record<string, string> {
  return Object.fromEntries(
    gateway.manager
      .processes()
      .filter((process) => process.state !== 'stopped')
      .map((process) => [process.id, process.state]),
  );
}

describe('e2e: peers, profiles and selectors (llama-swap name routing)', function () {
  afterEach(async function () {
    await cleanup();
    await stopAllFakes();
    await assertNoChildren();
  });

  describe('peers', function () {
    it('<peer>/<model>: the API key replaces the client’s (Bearer + x-api-key), the path prefix is joined, the model renamed and the peer’s filters applied', async function () {
      const peer = await startRecordingPeer();
      const h = await openGateway(
        await configYaml(
          {},
          {
            apiKeys: ['client-key'],
            peers: {
              remote: {
                proxy: `${peer.url}/prefix/`,
                apiKey: 'peer-key',
                models: ['org/model'],
                filters: { stripParams: 'temperature, seed', setParams: { top_k: 5 }, setParamsByID: { 'remote/org/model': { qualified: true }, 'org/model': { bare: true } } },
              },
              open: { proxy: peer.url, models: ['other'] },
            },
          },
        ),
      );
      const response = await request(h.app)
        .post('/v1/chat/completions')
        .set('authorization', 'Bearer client-key')
        .set('x-api-key', 'client-key')
        .send(chat('remote/org/model', { temperature: 0.7, seed: 1 }))
        .expect(200);
      expect(response.body).to.deep.include({ model: 'org/model' });

      expect(peer.requests).to.have.length(1);
      const [received] = peer.requests;
      expect(received!.method).to.equal('POST');
      expect(received!.url, 'the peer URL’s path, then the request path').to.equal('/prefix/v1/chat/completions');
      expect(received!.headers.authorization).to.equal('Bearer peer-key');
      expect(received!.headers['x-api-key']).to.equal('peer-key');
      expect(received!.headers.host).to.equal(new URL(peer.url).host);
      expect(JSON.parse(received!.body)).to.deep.equal({ model: 'org/model', messages: [{ role: 'user', content: 'hello' }], top_k: 5, qualified: true });

      // A bare name the one peer serves: setParamsByID by that name.
      await request(h.app).post('/v1/chat/completions').set('authorization', 'Bearer client-key').send(chat('org/model')).expect(200);
      expect(JSON.parse(peer.requests[1]!.body)).to.deep.include({ model: 'org/model', bare: true }).and.not.have.property('qualified');

      // A peer without an API key: the client's headers go on as sent (llama-swap sets nothing).
      await request(h.app).post('/v1/chat/completions').set('authorization', 'Bearer client-key').send(chat('open/other')).expect(200);
      expect(peer.requests[2]!.url).to.equal('/v1/chat/completions');
      expect(peer.requests[2]!.headers.authorization).to.equal('Bearer client-key');
      expect(peer.requests[2]!.headers).to.not.have.property('x-api-key');
    });

    it('a bare name served by exactly one peer routes to it; by two peers it is a 404, their qualified names work', async function () {
      const [one, two] = await Promise.all([fakePeer('shared'), fakePeer('shared')]);
      const only = await fakePeer('only');
      const h = await openGateway(
        await configYaml(
          {},
          {
            peers: {
              one: { proxy: one.url, models: ['shared'] },
              two: { proxy: two.url, models: ['shared'] },
              solo: { proxy: only.url, models: ['only'] },
            },
          },
        ),
      );
      const answered = await request(h.app).post('/v1/chat/completions').send(chat('only')).expect(200);
      expect(answered.body.model).to.equal('only');
      expect(chatCalls(await only.calls()).map((body) => body.model)).to.deep.equal(['only']);

      const ambiguous = await request(h.app).post('/v1/chat/completions').send(chat('shared')).expect(404);
      expect(ambiguous.body.error).to.include({ type: 'invalid_request_error' });
      expect(ambiguous.body.error.message).to.include('shared');

      await request(h.app).post('/v1/chat/completions').send(chat('two/shared')).expect(200);
      expect(chatCalls(await one.calls())).to.have.length(0);
      expect(chatCalls(await two.calls()).map((body) => body.model)).to.deep.equal(['shared']);
    });

    it('a local id or alias wins over a peer’s model of the same bare name; the qualified name reaches the peer', async function () {
      const peer = await fakePeer('m');
      const peer2 = await fakePeer('m-alias');
      const h = await openGateway(
        await configYaml(
          { m: { ...generic('m'), aliases: ['m-alias'] } },
          { peers: { remote: { proxy: peer.url, models: ['m'] }, other: { proxy: peer2.url, models: ['m-alias'] } } },
        ),
      );
      await request(h.app).post('/v1/chat/completions').send(chat('m')).expect(200);
      await request(h.app).post('/v1/chat/completions').send(chat('m-alias')).expect(200);
      expect((await localBodies(h.gateway, 'm')).map((body) => body.model)).to.deep.equal(['m', 'm-alias']);
      expect(chatCalls(await peer.calls())).to.have.length(0);
      expect(chatCalls(await peer2.calls())).to.have.length(0);

      await request(h.app).post('/v1/chat/completions').send(chat('remote/m')).expect(200);
      expect(chatCalls(await peer.calls()).map((body) => body.model)).to.deep.equal(['m']);
      expect(h.gateway.manager.processes().map((process) => process.id), 'no local process for a peer request').to.deep.equal(['m']);
    });

    it('a stream from a peer passes through chunk by chunk, ending with [DONE]', async function () {
      const peer = await fakePeer('streamy', ['--tokens', '5']);
      const h = await openGateway(await configYaml({}, { peers: { remote: { proxy: peer.url, models: ['streamy'] } } }));
      const response = await request(h.app)
        .post('/v1/chat/completions')
        .send(chat('remote/streamy', { stream: true }))
        .buffer(true)
        .parse(textParser)
        .expect(200)
        .expect('content-type', /text\/event-stream/);
      const events = sseEvents(response.body as string);
      expect(events.at(-1)).to.equal('[DONE]');
      const chunks = events.filter((event): event is Record<string, unknown> => event !== '[DONE]');
      expect(chunks.length).to.be.greaterThan(5);
      expect(new Set(chunks.map((chunk) => chunk.model))).to.deep.equal(new Set(['streamy']));
    });

    it('a stream from a peer carries X-Accel-Buffering: no (peer_test.go TestPeer_ServeHTTP_SSEHeaderModification)', async function () {
      const peer = await fakePeer('streamy', ['--tokens', '2']);
      const h = await openGateway(await configYaml({}, { peers: { remote: { proxy: peer.url, models: ['streamy'] } } }));
      const response = await request(h.app).post('/v1/chat/completions').send(chat('remote/streamy', { stream: true })).buffer(true).parse(textParser).expect(200);
      expect(response.headers['x-accel-buffering']).to.equal('no');
    });

    it('a dead peer: 502, OpenAI-shaped, naming the peer', async function () {
      const port = await freePort();
      const h = await openGateway(await configYaml({}, { peers: { gone: { proxy: `http://127.0.0.1:${port}`, models: ['ghost'] } } }));
      const response = await request(h.app).post('/v1/chat/completions').send(chat('gone/ghost')).expect(502).expect('content-type', /application\/json/);
      expect(response.body.error.type).to.be.a('string');
      expect(response.body.error.message).to.match(/^peer proxy error: peer gone failed: .*ECONNREFUSED/);
    });

    it('peers.<id>.timeouts.responseHeader: a slower peer is a 504 naming the timeout', async function () {
      const peer = await fakePeer('slow', ['--latency', '10s']);
      const h = await openGateway(await configYaml({}, { peers: { slow: { proxy: peer.url, models: ['slow'], timeouts: { responseHeader: '300ms' } } } }));
      const startedAt = Date.now();
      const response = await request(h.app).post('/v1/chat/completions').send(chat('slow')).expect(504);
      expect(response.body.error.message).to.equal('peer proxy error: peer slow failed: timeout awaiting response headers after 300 ms');
      expect(Date.now() - startedAt, 'answered at the timeout, not after the latency').to.be.lessThan(5000);
      // The peer saw the request and then the gateway leave.
      const [call] = await pollUntil(async () => {
        const calls = await peer.calls();
        return calls.length === 1 && calls[0]!.endedAt !== null ? calls : undefined;
      });
      expect(call!.status).to.equal(null);
    });
  });

  describe('profiles', function () {
    const profilesYaml = (pins: Record<string, string | null>): Promise<string> =>
      configYaml({ a: generic('a'), b: generic('b') }, { profiles: { coding: { description: 'Coding profile', pins }, writing: { pins: { prose: 'b' } } } });

    it('GET lists (ids sorted, active null); PUT activates: a pin reaches its target with the model rewritten; an empty pin is a 404; null deactivates', async function () {
      const h = await openGateway(await profilesYaml({ public: 'a', off: null, b: 'a' }));
      const listed = await request(h.app).get('/api/profiles').expect(200);
      expect(listed.body).to.deep.equal({
        active: null,
        profiles: [
          { id: 'coding', description: 'Coding profile', pins: { public: 'a', off: '', b: 'a' } },
          { id: 'writing', description: '', pins: { prose: 'b' } },
        ],
      });
      await request(h.app).post('/v1/chat/completions').send(chat('public')).expect(404);
      await request(h.app).post('/v1/chat/completions').send(chat('off')).expect(404);

      await request(h.app).put('/api/profiles/active').send({ name: 'coding' }).expect(200, { active: 'coding' });
      expect((await request(h.app).get('/api/profiles').expect(200)).body.active).to.equal('coding');
      const pinned = await request(h.app).post('/v1/chat/completions').send(chat('public')).expect(200);
      expect(pinned.body.model).to.equal('a');
      // A pin on a local id: b is served by a while the profile is active.
      await request(h.app).post('/v1/chat/completions').send(chat('b')).expect(200);
      expect((await localBodies(h.gateway, 'a')).map((body) => body.model)).to.deep.equal(['a', 'a']);
      expect(running(h.gateway)).to.deep.equal({ a: 'ready' });
      const off = await request(h.app).post('/v1/chat/completions').send(chat('off')).expect(404);
      expect(off.body.error.message).to.include('coding');

      await request(h.app).put('/api/profiles/active').send({ name: null }).expect(200, { active: null });
      await request(h.app).post('/v1/chat/completions').send(chat('public')).expect(404);
      await request(h.app).post('/v1/chat/completions').send(chat('b')).expect(200);
      expect((await localBodies(h.gateway, 'b')).map((body) => body.model)).to.deep.equal(['b']);
    });

    it('an unknown profile is a 404 and a bad body a 400, both keep the active profile', async function () {
      const h = await openGateway(await profilesYaml({ public: 'a' }));
      await request(h.app).put('/api/profiles/active').send({ name: 'writing' }).expect(200);
      const unknown = await request(h.app).put('/api/profiles/active').send({ name: 'missing' }).expect(404);
      expect(unknown.body.error.message).to.equal('profile "missing" not found');
      const bad = await request(h.app).put('/api/profiles/active').send({ name: 5 }).expect(400);
      expect(bad.body.error.message).to.equal('profile name must be a string or null');
      const missing = await request(h.app).put('/api/profiles/active').send({}).expect(400);
      expect(missing.body.error.message).to.equal('profile name is required');
      expect((await request(h.app).get('/api/profiles').expect(200)).body.active).to.equal('writing');
    });

    it('a reload keeps the active profile while it exists (with its new pins) and drops it when it is gone', async function () {
      const h = await openGateway(await profilesYaml({ public: 'a' }));
      await request(h.app).put('/api/profiles/active').send({ name: 'coding' }).expect(200);
      expect((await request(h.app).post('/v1/chat/completions').send(chat('public')).expect(200)).body.model).to.equal('a');

      await h.gateway.reload({ configText: await profilesYaml({ public: 'b' }) });
      expect((await request(h.app).get('/api/profiles').expect(200)).body.active).to.equal('coding');
      expect((await request(h.app).post('/v1/chat/completions').send(chat('public')).expect(200)).body.model, 'the reloaded pin').to.equal('b');

      await h.gateway.reload({ configText: await configYaml({ a: generic('a'), b: generic('b') }, { profiles: { writing: { pins: { prose: 'b' } } } }) });
      expect((await request(h.app).get('/api/profiles').expect(200)).body.active).to.equal(null);
      await request(h.app).post('/v1/chat/completions').send(chat('public')).expect(404);
    });
  });

  describe('selectors', function () {
    it('pin: the first target, even when another target is the one running; the body carries the target name', async function () {
      const h = await openGateway(await configYaml({ a: generic('a'), b: generic('b') }, { groups: { both: { swap: false, members: ['a', 'b'] } }, selectors: { fixed: { strategy: 'pin', targets: ['b', 'a'] } } }));
      await request(h.app).post('/v1/chat/completions').send(chat('a')).expect(200);
      const response = await request(h.app).post('/v1/chat/completions').send(chat('fixed')).expect(200);
      expect(response.body.model).to.equal('b');
      expect((await localBodies(h.gateway, 'b')).map((body) => body.model)).to.deep.equal(['b']);
    });

    it('warm: the ready target over a stopped one that is listed first', async function () {
      const h = await openGateway(await configYaml({ a: generic('a'), b: generic('b') }, { groups: { both: { swap: false, members: ['a', 'b'] } }, selectors: { hot: { strategy: 'warm', targets: ['a', 'b'] } } }));
      await request(h.app).post('/v1/chat/completions').send(chat('b')).expect(200);
      const response = await request(h.app).post('/v1/chat/completions').send(chat('hot')).expect(200);
      expect(response.body.model).to.equal('b');
      expect(running(h.gateway)).to.deep.equal({ b: 'ready' });
    });

    it('warm, siesta’s rule: an asleep target over a stopped one (a wake beats a cold start)', async function () {
      const h = await openGateway(await configYaml({ s1: sleeper('s1'), s2: sleeper('s2') }, { groups: { both: { swap: false, members: ['s1', 's2'] } }, selectors: { hot: { strategy: 'warm', targets: ['s1', 's2'] } } }));
      await request(h.app).post('/api/models/s2/load').expect(200);
      await pollUntil(() => h.gateway.manager.state('s2') === 'ready', { what: 's2 ready' });
      await request(h.app).post('/api/models/s2/sleep').expect(200);
      await pollUntil(() => h.gateway.manager.state('s2') === 'asleep', { what: 's2 asleep' });
      const pid = h.gateway.manager.process('s2').pid;

      const response = await request(h.app).post('/v1/chat/completions').send(chat('hot')).expect(200);
      expect(response.body.model).to.equal('s2');
      expect(running(h.gateway)).to.deep.equal({ s2: 'ready' });
      expect(h.gateway.manager.process('s2').pid, 'woken, not restarted').to.equal(pid);
    });

    it('spillover 1: a second concurrent request goes to the second target; once both end, their reservations are released', async function () {
      const h = await openGateway(
        await configYaml(
          { a: streamer('a'), b: streamer('b'), c: generic('c') },
          { groups: { all: { swap: false, members: ['a', 'b', 'c'] } }, selectors: { pool: { strategy: 'spillover', targets: ['a', 'b', 'c'], settings: { spillover: 1 } } } },
        ),
      );
      const url = await listen(h.app);
      const first = await holdStream(url, chat('pool'));
      const second = await holdStream(url, chat('pool'));
      expect([first.model, second.model]).to.deep.equal(['a', 'b']);
      expect(running(h.gateway)).to.deep.equal({ a: 'ready', b: 'ready' });

      await Promise.all([first.end(), second.end()]);
      await pollUntil(() => h.gateway.manager.processes().every((process) => process.inFlight === 0), { what: 'both streams to end' });

      // Released: a and b are active with nothing in flight, so the next request takes one of
      // them. Leaked reservations (1 each, spillover 1) would start the cold c instead.
      const third = await holdStream(url, chat('pool'));
      expect(['a', 'b']).to.include(third.model);
      await third.end();
      expect(running(h.gateway)).to.not.have.property('c');
    });
  });

  describe('filters and timeouts of a local model', function () {
    it('setParamsByID: asked by the alias key its params apply, asked by the id they do not; a ${MODEL_ID} key', async function () {
      const h = await openGateway(
        await configYaml({
          m: { ...generic('m'), filters: { setParams: { top_p: 0.5 }, setParamsByID: { fast: { temperature: 0.1, top_p: 0.9 }, '${MODEL_ID}:wide': { top_k: 40 } } } },
        }),
      );
      await request(h.app).post('/v1/chat/completions').send(chat('fast')).expect(200);
      await request(h.app).post('/v1/chat/completions').send(chat('m', { temperature: 1 })).expect(200);
      await request(h.app).post('/v1/chat/completions').send(chat('m:wide')).expect(200);
      const messages = [{ role: 'user', content: 'hello' }];
      expect(await localBodies(h.gateway, 'm')).to.deep.equal([
        { model: 'fast', messages, top_p: 0.9, temperature: 0.1 },
        { model: 'm', messages, temperature: 1, top_p: 0.5 },
        { model: 'm:wide', messages, top_p: 0.5, top_k: 40 },
      ]);
      expect(h.gateway.manager.processes().map((process) => process.id), 'one process for every name').to.deep.equal(['m']);
    });

    it('timeouts.responseHeader: a model slower than it is a 504 naming the timeout', async function () {
      const h = await openGateway(await configYaml({ slow: { ...generic('slow', ['--latency', '10s']), timeouts: { responseHeader: '300ms' } } }));
      await request(h.app).post('/api/models/slow/load').expect(200);
      await pollUntil(() => h.gateway.manager.state('slow') === 'ready', { what: 'slow ready' });
      const startedAt = Date.now();
      const response = await request(h.app).post('/v1/chat/completions').send(chat('slow')).expect(504);
      expect(response.body.error.code).to.equal('upstream_timeout');
      expect(response.body.error.message).to.match(/^The model server at http:\/\/\S+ failed: timeout awaiting response headers after 300 ms$/);
      expect(Date.now() - startedAt).to.be.lessThan(5000);
    });

    it('timeouts.idle (siesta): a stream that goes silent is cut with an upstream_timeout error', async function () {
      const h = await openGateway(await configYaml({ slow: { ...generic('slow', ['--token-interval', '10s']), timeouts: { idle: '300ms' } } }));
      await request(h.app).post('/api/models/slow/load').expect(200);
      const response = await request(h.app).post('/v1/chat/completions').send(chat('slow', { stream: true })).buffer(true).parse(textParser);
      // Headers were sent before the silence: the client gets 200, then the error in the stream.
      expect(response.status).to.equal(200);
      expect(String(response.body)).to.match(/upstream_timeout|sent nothing for 300 ms/);
    });

    it('X-Forwarded-For/-Proto/-Host reach the model server; a client cannot forge them', async function () {
      const peer = await startRecordingPeer();
      const h = await openGateway(await configYaml({}, { peers: { rec: { proxy: peer.url, models: ['r'] } } }));
      await request(h.app).post('/v1/chat/completions').set('x-forwarded-for', '6.6.6.6').set('x-forwarded-host', 'bank.example').set('connection', 'keep-alive, x-hop').set('x-hop', 'secret').send(chat('rec/r')).expect(200);
      const [seen] = peer.requests;
      expect(seen?.headers['x-forwarded-for']).to.match(/^(127\.0\.0\.1|::1)$/);
      expect(seen?.headers['x-forwarded-proto']).to.equal('http');
      expect(seen?.headers['x-forwarded-host']).to.match(/^127\.0\.0\.1:\d+$/);
      expect(seen?.headers, 'a header named in Connection is not forwarded').to.not.have.property('x-hop');
    });
  });
});

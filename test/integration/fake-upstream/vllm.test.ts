import { expect } from 'chai';
import { startFake, stopAllFakes, type FakeHandle } from '../../helpers/fake-upstream.js';
import { pollUntil } from '../../helpers/wait.js';
import { assertNoFakeChildren, chat, readUntilEnd, request, sseChunks, track } from './support.js';

const DEV = { VLLM_SERVER_DEV_MODE: '1' };

describe('fake upstream --backend vllm', function () {
  afterEach(async function () {
    await stopAllFakes();
    await assertNoFakeChildren();
  });

  it('has no dev endpoints without VLLM_SERVER_DEV_MODE=1 or without --enable-sleep-mode', async function () {
    const [noEnv, noFlag] = await Promise.all([
      startFake({ backend: 'vllm', args: ['--enable-sleep-mode'] }),
      startFake({ backend: 'vllm', env: DEV }),
    ]);
    for (const fake of [noEnv, noFlag]) {
      expect((await request(`${fake.url}/sleep?level=1`, 'POST')).status).to.equal(404);
      expect((await request(`${fake.url}/wake_up`, 'POST')).status).to.equal(404);
      expect((await request(`${fake.url}/is_sleeping`)).status).to.equal(404);
      expect((await request(`${fake.url}/collective_rpc`, 'POST', { method: 'reload_weights' })).status).to.equal(404);
    }
  });

  it('a /sleep in the default abort mode ends an in-flight stream with finish_reason "abort"', async function () {
    const fake = await startFake({ backend: 'vllm', args: ['--enable-sleep-mode', '--tokens', '50', '--token-interval', '50ms'], env: DEV });
    const response = await fetch(`${fake.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'm', messages: [], stream: true }),
    });
    const body = track(readUntilEnd(response));
    await pollUntil(async () => (await fake.state()).active === 1, { what: 'the stream to start' });
    expect((await request(`${fake.url}/sleep?level=1`, 'POST')).status).to.equal(200);
    const { text, broken } = await body.promise;
    expect(broken).to.equal(false);
    const { chunks, done } = sseChunks(text);
    expect(done).to.equal(true);
    expect(chunks.at(-1)?.choices[0]?.finish_reason).to.equal('abort');
    expect(chunks.length).to.be.below(51);
  });

  it('exits promptly on SIGTERM even with a request hanging while asleep', async function () {
    const fake = await startFake({ backend: 'vllm', args: ['--enable-sleep-mode'], env: DEV });
    await request(`${fake.url}/sleep?level=1`, 'POST');
    const pending = track(chat(fake.url));
    await pollUntil(async () => (await fake.state()).inFlight === 1, { what: 'the request to arrive' });
    const exit = await fake.stop(2000);
    expect(exit).to.deep.equal({ code: 0, signal: null });
    expect(await pending.promise.then(() => 'answered', () => 'failed')).to.equal('failed');
    expect(fake.stdout()).to.match(/received SIGTERM/);
  });

});

describe('fake upstream --backend vllm --enable-sleep-mode (one process: loading, then fully woken before each test)', function () {
  let fake: FakeHandle;
  before(async function () {
    fake = await startFake({
      backend: 'vllm',
      model: 'qwen',
      args: ['--enable-sleep-mode', '--sleep-delay', '50ms', '--wake-delay', '50ms', '--start-delay', '60s'],
      env: DEV,
      waitReady: false,
    });
    await fake.waitForStdout(/loading model/);
  });
  after(async function () {
    await stopAllFakes();
    await assertNoFakeChildren();
  });

  it('(loading) refuses connections until the start delay has passed, then answers /health 200', async function () {
    const early = await fetch(`${fake.url}/health`).then(
      () => 'answered',
      (error: Error & { cause?: { code?: string } }) => error.cause?.code,
    );
    expect(early).to.equal('ECONNREFUSED');
    fake.finishLoading();
    await fake.ready();
    const health = await request(`${fake.url}/health`);
    expect(health.status).to.equal(200);
    const models = await request(`${fake.url}/v1/models`);
    expect(models.json.data.map((entry: { id: string }) => entry.id)).to.deep.equal(['qwen']);
  });

  describe('once loaded', function () {
    before(async function () {
      fake.finishLoading();
      await fake.ready();
    });
    beforeEach(async function () {
      await request(`${fake.url}/wake_up?tags=weights`, 'POST');
      await request(`${fake.url}/collective_rpc`, 'POST', { method: 'reload_weights' });
      await request(`${fake.url}/wake_up`, 'POST');
      expect(await fake.state()).to.include({ asleep: false, weightsStale: false, inFlight: 0 });
      await fake.clearCalls();
    });
    it('reads the level from the query string only: a JSON body {"level":2} sleeps at level 1', async function () {
      const reply = await request(`${fake.url}/sleep`, 'POST', { level: 2 });
      expect(reply.status).to.equal(200);
      expect(reply.text).to.equal('');
      const state = await fake.state();
      expect(state).to.include({ asleep: true, level: 1, weightsStale: false });
      expect((await request(`${fake.url}/wake_up`, 'POST')).status).to.equal(200);
      expect((await request(`${fake.url}/sleep?level=2`, 'POST')).status).to.equal(200);
      expect(await fake.state()).to.include({ asleep: true, level: 2, weightsStale: true });
    });

    it('sleeps at level 1 and wakes with one /wake_up; /health stays 200 while asleep', async function () {
      expect((await request(`${fake.url}/is_sleeping`)).json).to.deep.equal({ is_sleeping: false });
      expect((await request(`${fake.url}/sleep?level=1`, 'POST')).status).to.equal(200);
      expect((await request(`${fake.url}/is_sleeping`)).json).to.deep.equal({ is_sleeping: true });
      expect((await request(`${fake.url}/health`)).status).to.equal(200);
      expect((await request(`${fake.url}/wake_up`, 'POST')).status).to.equal(200);
      expect((await request(`${fake.url}/is_sleeping`)).json).to.deep.equal({ is_sleeping: false });
      const reply = await chat(fake.url);
      expect(reply.status).to.equal(200);
      expect(reply.json.choices[0].message.content).to.equal('tok0 tok1 tok2 tok3 tok4 tok5 tok6 tok7');
    });

    it('wakes from level 2 in three steps; is_sleeping stays true until the KV cache is awake', async function () {
      await request(`${fake.url}/sleep?level=2`, 'POST');
      const isSleeping = async (): Promise<boolean> => (await request(`${fake.url}/is_sleeping`)).json.is_sleeping as boolean;
      expect(await isSleeping()).to.equal(true);
      expect((await request(`${fake.url}/wake_up?tags=weights`, 'POST')).status).to.equal(200);
      expect(await isSleeping()).to.equal(true);
      const rpc = await request(`${fake.url}/collective_rpc`, 'POST', { method: 'reload_weights' });
      expect(rpc.status).to.equal(200);
      expect(await isSleeping()).to.equal(true);
      expect((await request(`${fake.url}/wake_up?tags=kv_cache`, 'POST')).status).to.equal(200);
      expect(await isSleeping()).to.equal(false);
      expect((await request(`${fake.url}/reset_prefix_cache`, 'POST')).status).to.equal(200);
      expect((await chat(fake.url)).status).to.equal(200);
      const calls = await fake.calls();
      expect(calls.map((call) => `${call.method} ${call.path}${call.query ? `?${call.query}` : ''} ${call.status}`)).to.deep.equal([
        'POST /sleep?level=2 200',
        'GET /is_sleeping 200',
        'POST /wake_up?tags=weights 200',
        'GET /is_sleeping 200',
        'POST /collective_rpc 200',
        'GET /is_sleeping 200',
        'POST /wake_up?tags=kv_cache 200',
        'GET /is_sleeping 200',
        'POST /reset_prefix_cache 200',
        'POST /v1/chat/completions 200',
      ]);
      expect(calls.map((call) => call.kind)).to.deep.equal([...Array<string>(9).fill('lifecycle'), 'generate']);
      expect(calls[4]?.body).to.equal('{"method":"reload_weights"}');
      await fake.clearCalls();
      expect(await fake.calls()).to.deep.equal([]);
    });

    it('answers with an error after a level-2 wake that skipped reload_weights', async function () {
      await request(`${fake.url}/sleep?level=2`, 'POST');
      await request(`${fake.url}/wake_up`, 'POST');
      expect((await request(`${fake.url}/is_sleeping`)).json.is_sleeping).to.equal(false);
      const reply = await chat(fake.url);
      expect(reply.status).to.equal(500);
      expect(reply.json.error.message).to.match(/reload_weights/);
    });

    it('rejects collective_rpc with bad JSON or without a method', async function () {
      expect((await request(`${fake.url}/collective_rpc`, 'POST', '{not json')).status).to.equal(400);
      expect((await request(`${fake.url}/collective_rpc`, 'POST', { args: [] })).status).to.equal(400);
    });

    it('holds a generation request while asleep and answers it after /wake_up', async function () {
      await request(`${fake.url}/sleep?level=1`, 'POST');
      expect((await request(`${fake.url}/is_sleeping`)).json.is_sleeping).to.equal(true);
      const pending = track(chat(fake.url, { stream: false }));
      await pollUntil(async () => (await fake.state()).inFlight === 1, { what: 'the request to arrive' });
      // One more round trip to the server: the request is still not answered.
      expect((await request(`${fake.url}/is_sleeping`)).json.is_sleeping).to.equal(true);
      expect((await request(`${fake.url}/health`)).status).to.equal(200);
      expect(pending.settled()).to.equal(false);
      const pendingCall = (await fake.calls()).find((call) => call.kind === 'generate');
      expect(pendingCall?.status).to.equal(null);
      expect((await request(`${fake.url}/wake_up`, 'POST')).status).to.equal(200);
      const reply = await pending.promise;
      expect(reply.status).to.equal(200);
      expect(reply.json.system_fingerprint).to.equal('fake-qwen');
    });
  });
});

import { expect } from 'chai';
import { startFake, stopAllFakes, type FakeHandle } from '../../helpers/fake-upstream.js';
import { pollUntil } from '../../helpers/wait.js';
import { assertNoFakeChildren, chat, request, sseChunks } from './support.js';

const LOADING = { error: { code: 503, message: 'Loading model', type: 'unavailable_error' } };

describe('fake upstream --backend llama-server (one process, --metrics)', function () {
  let fake: FakeHandle;
  before(async function () {
    fake = await startFake({ backend: 'llama-server', args: ['--alias', 'tiny', '--start-delay', '60s', '--metrics', '--tokens', '3'], waitReady: false });
    await fake.waitForStdout(/listening on/);
  });
  after(async function () {
    await stopAllFakes();
    await assertNoFakeChildren();
  });

  it('(loading) binds at once and answers 503 "Loading model" until loaded, then /health 200 {"status":"ok"}', async function () {
    const loading = await request(`${fake.url}/health`);
    expect(loading.status).to.equal(503);
    expect(loading.json).to.deep.equal(LOADING);
    const generation = await chat(fake.url);
    expect(generation.status).to.equal(503);
    expect(generation.json).to.deep.equal(LOADING);
    fake.finishLoading();
    await fake.ready();
    const health = await request(`${fake.url}/health`);
    expect(health.status).to.equal(200);
    expect(health.json).to.deep.equal({ status: 'ok' });
    const models = await request(`${fake.url}/v1/models`);
    expect(models.json.data[0].id).to.equal('tiny');
  });

  describe('once loaded', function () {
    before(async function () {
      fake.finishLoading();
      await fake.ready();
    });

    it('ends a streamed chat with a chunk carrying timings, then [DONE]', async function () {
      const reply = await chat(fake.url, { stream: true });
      const { chunks, done } = sseChunks(reply.text);
      expect(done).to.equal(true);
      const last = chunks.at(-1);
      expect(last?.choices[0]?.finish_reason).to.equal('stop');
      expect(chunks.slice(0, -1).every((chunk) => chunk.timings === undefined)).to.equal(true);
      expect(last?.timings).to.have.all.keys(
        'cache_n',
        'prompt_n',
        'prompt_ms',
        'prompt_per_second',
        'predicted_n',
        'predicted_ms',
        'predicted_per_token_ms',
        'predicted_per_second',
      );
      expect(last?.timings?.['predicted_n']).to.equal(3);
      expect(last?.timings?.['prompt_n']).to.equal(2);
    });

    it('shows /props with is_sleeping and /metrics in Prometheus text; has no /sleep', async function () {
      const props = await request(`${fake.url}/props`);
      expect(props.status).to.equal(200);
      expect(props.json).to.include({ is_sleeping: false, total_slots: 1 });
      expect(props.json.model_path).to.be.a('string');
      const metrics = await request(`${fake.url}/metrics`);
      expect(metrics.status).to.equal(200);
      expect(metrics.text).to.match(/^# TYPE llamacpp:tokens_predicted_total counter$/m);
      expect(metrics.text).to.match(/^llamacpp:tokens_predicted_total \d+$/m);
      expect((await request(`${fake.url}/sleep?level=1`, 'POST')).status).to.equal(404);
      expect((await request(`${fake.url}/wake_up`, 'POST')).status).to.equal(404);
    });
  });
});

describe('fake upstream --backend llama-server --sleep-idle-seconds', function () {
  afterEach(async function () {
    await stopAllFakes();
    await assertNoFakeChildren();
  });

  it('unloads itself when idle (/props is_sleeping, /health 200) and reloads on the next request', async function () {
    const fake = await startFake({ backend: 'llama-server', args: ['--sleep-idle-seconds', '0.5', '--wake-delay', '100ms'] });
    const isSleeping = async (): Promise<boolean> => (await request(`${fake.url}/props`)).json.is_sleeping === true;
    await pollUntil(isSleeping, { timeoutMs: 5000, what: 'the idle self-sleep' });
    expect((await request(`${fake.url}/health`)).status).to.equal(200);
    await fake.waitForStdout(/model unloaded after 0\.5 idle seconds/);
    const reply = await chat(fake.url);
    expect(reply.status).to.equal(200);
    expect(reply.json.timings.predicted_n).to.equal(8);
    expect(await isSleeping()).to.equal(false);
    expect(fake.stdout()).to.match(/reloading model after idle sleep[\s\S]*model reloaded/);
    const calls = await fake.calls();
    expect(calls.filter((call) => call.kind === 'generate')).to.have.length(1);
    expect((await request(`${fake.url}/metrics`)).status).to.equal(501);
  });
});

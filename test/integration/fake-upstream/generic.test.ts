import { expect } from 'chai';
import { startFake, stopAllFakes, type FakeHandle } from '../../helpers/fake-upstream.js';
import { assertNoFakeChildren, chat, request, sseChunks } from './support.js';

describe('fake upstream --backend generic: one process, loading then OpenAI routes', function () {
  let fake: FakeHandle;
  before(async function () {
    fake = await startFake({ model: 'upstream-a', args: ['--tokens', '4', '--start-delay', '60s'], waitReady: false });
    await fake.waitForStdout(/listening on/);
  });
  after(async function () {
    await stopAllFakes();
    await assertNoFakeChildren();
  });

  it('(loading) binds the port at once, answers 503 while loading, then 200', async function () {
    const loading = await request(`${fake.url}/health`);
    expect(loading.status).to.equal(503);
    expect((await chat(fake.url)).status).to.equal(503);
    fake.finishLoading();
    await fake.ready();
    const ready = await request(`${fake.url}/health`);
    expect(ready.status).to.equal(200);
    expect(ready.json).to.deep.equal({ status: 'ok' });
  });

  describe('once loaded', function () {
    before(async function () {
      fake.finishLoading();
      await fake.ready();
    });
    beforeEach(async function () {
      await fake.clearCalls();
    });

    it('lists the served model', async function () {
      const models = await request(`${fake.url}/v1/models`);
      expect(models.status).to.equal(200);
      expect(models.json.object).to.equal('list');
      expect(models.json.data).to.have.length(1);
      expect(models.json.data[0]).to.include({ id: 'upstream-a', object: 'model' });
    });

    it('answers a chat completion with usage, the request model echoed and its own model in the fingerprint', async function () {
      const reply = await chat(fake.url);
      expect(reply.status).to.equal(200);
      expect(reply.headers.get('x-fake-pid')).to.equal(String(fake.pid));
      expect(reply.json).to.include({ object: 'chat.completion', model: 'client-model', system_fingerprint: 'fake-upstream-a' });
      expect(reply.json.choices).to.deep.equal([
        { index: 0, message: { role: 'assistant', content: 'tok0 tok1 tok2 tok3' }, logprobs: null, finish_reason: 'stop' },
      ]);
      expect(reply.json.usage).to.deep.equal({ prompt_tokens: 2, completion_tokens: 4, total_tokens: 6 });
    });

    it('streams one chunk per token, a finish chunk, the usage chunk when asked, then [DONE]', async function () {
      const reply = await chat(fake.url, { stream: true, stream_options: { include_usage: true } });
      expect(reply.status).to.equal(200);
      expect(reply.headers.get('content-type')).to.match(/^text\/event-stream/);
      expect(reply.headers.get('x-fake-pid')).to.equal(String(fake.pid));
      const { chunks, done } = sseChunks(reply.text);
      expect(done).to.equal(true);
      expect(chunks.map((chunk) => chunk.choices[0]?.delta?.content ?? null)).to.deep.equal(['tok0', ' tok1', ' tok2', ' tok3', null, null]);
      expect(chunks[0]?.choices[0]?.delta?.role).to.equal('assistant');
      expect(chunks[4]?.choices[0]?.finish_reason).to.equal('stop');
      expect(chunks[5]?.usage).to.deep.equal({ prompt_tokens: 2, completion_tokens: 4, total_tokens: 6 });
      for (const chunk of chunks) expect(chunk).to.include({ object: 'chat.completion.chunk', model: 'client-model', system_fingerprint: 'fake-upstream-a' });
    });

    it('caps the tokens at max_tokens with finish_reason "length"', async function () {
      const reply = await request(`${fake.url}/v1/completions`, 'POST', { model: 'm', prompt: 'once upon', max_tokens: 2 });
      expect(reply.status).to.equal(200);
      expect(reply.json).to.include({ object: 'text_completion', model: 'm' });
      expect(reply.json.choices[0]).to.include({ text: 'tok0 tok1', finish_reason: 'length' });
      expect(reply.json.usage.completion_tokens).to.equal(2);
    });

    it('streams text completions', async function () {
      const reply = await request(`${fake.url}/v1/completions`, 'POST', { model: 'm', prompt: 'x', stream: true });
      const { chunks, done } = sseChunks(reply.text);
      expect(done).to.equal(true);
      expect(chunks.map((chunk) => chunk.choices[0]?.text).join('')).to.equal('tok0 tok1 tok2 tok3');
      expect(chunks.at(-1)?.choices[0]?.finish_reason).to.equal('stop');
    });

    it('answers embeddings for a string or an array, deterministically', async function () {
      const one = await request(`${fake.url}/v1/embeddings`, 'POST', { model: 'e', input: 'hello' });
      expect(one.status).to.equal(200);
      expect(one.json).to.include({ object: 'list', model: 'e', system_fingerprint: 'fake-upstream-a' });
      expect(one.json.data).to.have.length(1);
      expect(one.json.data[0].embedding).to.have.length(8);
      const many = await request(`${fake.url}/v1/embeddings`, 'POST', { model: 'e', input: ['hello', 'world'] });
      expect(many.json.data.map((item: { index: number }) => item.index)).to.deep.equal([0, 1]);
      expect(many.json.data[0].embedding).to.deep.equal(one.json.data[0].embedding);
      expect(many.json.data[1].embedding).to.not.deep.equal(one.json.data[0].embedding);
      expect((await request(`${fake.url}/v1/embeddings`, 'POST', { model: 'e' })).status).to.equal(400);
    });

    it('answers bad JSON with an OpenAI-shaped 400', async function () {
      const reply = await request(`${fake.url}/v1/chat/completions`, 'POST', '{"model": ');
      expect(reply.status).to.equal(400);
      expect(reply.json.error).to.include({ type: 'invalid_request_error' });
      expect(reply.json.error.message).to.be.a('string');
    });

    it('offers plain /sleep and /wake_up for sleepEndpoints configs, and holds requests while asleep', async function () {
      expect((await request(`${fake.url}/sleep`, 'POST')).status).to.equal(200);
      expect((await request(`${fake.url}/is_sleeping`)).json).to.deep.equal({ is_sleeping: true });
      const pending = chat(fake.url);
      expect((await request(`${fake.url}/wake_up`, 'POST')).status).to.equal(200);
      expect((await pending).status).to.equal(200);
    });

    it('records lifecycle and generation calls in arrival order, with raw query and body; DELETE clears', async function () {
      await request(`${fake.url}/sleep?level=1`, 'POST', { level: 2 });
      await request(`${fake.url}/health`);
      await request(`${fake.url}/wake_up`, 'POST');
      await chat(fake.url);
      await request(`${fake.url}/nope`, 'POST', 'x');
      const calls = await fake.calls();
      expect(calls.map(({ kind, method, path, query, body, status }) => ({ kind, method, path, query, body, status }))).to.deep.equal([
        { kind: 'lifecycle', method: 'POST', path: '/sleep', query: 'level=1', body: '{"level":2}', status: 200 },
        { kind: 'lifecycle', method: 'POST', path: '/wake_up', query: '', body: '', status: 200 },
        {
          kind: 'generate',
          method: 'POST',
          path: '/v1/chat/completions',
          query: '',
          body: JSON.stringify({ model: 'client-model', messages: [{ role: 'user', content: 'hello there' }] }),
          status: 200,
        },
        { kind: 'lifecycle', method: 'POST', path: '/nope', query: '', body: 'x', status: 404 },
      ]);
      for (const call of calls) expect(call.at).to.be.a('number').and.at.most(call.endedAt ?? 0);
      await fake.clearCalls();
      expect(await fake.calls()).to.deep.equal([]);
      const state = await fake.state();
      expect(state).to.include({ backend: 'generic', model: 'upstream-a', loaded: true, asleep: false, level: null, inFlight: 0, pid: fake.pid });
    });
  });
});

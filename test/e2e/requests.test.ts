/** Chat, completions and embeddings through the gateway to a real upstream process, streamed and not. */
import { expect } from 'chai';
import request from 'supertest';
import { assertNoChildren } from '../helpers/wait.js';
import { chat, cleanup, configYaml, genericCmd, openGateway, sseEvents, textParser, upstreamCalls, vllmCmd, type Harness } from './support.js';

type Chunk = { id: string; object: string; model: string; choices: { delta?: { content?: string }; finish_reason?: string | null }[] };

describe('e2e: OpenAI requests through the gateway', function () {
  let h: Harness;

  before(async function () {
    h = await openGateway(
      await configYaml({
        echo: { cmd: genericCmd('echo', ['--tokens', '4']), aliases: ['gpt-4o-mini'] },
        qwen: { cmd: vllmCmd('qwen', ['--tokens', '4']), backend: 'vllm' },
      }),
    );
  });
  after(async function () {
    await cleanup();
    await assertNoChildren();
  });

  for (const model of ['echo', 'qwen']) {
    describe(model, function () {
      it('answers a chat completion', async function () {
        const response = await request(h.app).post('/v1/chat/completions').send(chat(model)).expect(200);
        expect(response.headers['content-type']).to.match(/application\/json/);
        expect(response.body).to.include({ object: 'chat.completion', model });
        expect(response.body.id).to.be.a('string');
        expect(response.body.choices).to.have.length(1);
        expect(response.body.choices[0].message).to.include({ role: 'assistant' });
        expect(response.body.choices[0].message.content).to.be.a('string').and.not.empty;
        expect(response.body.usage).to.include.keys('prompt_tokens', 'completion_tokens', 'total_tokens');
      });

      it('streams a chat completion chunk by chunk, ending with [DONE]', async function () {
        const response = await request(h.app).post('/v1/chat/completions').send(chat(model, { stream: true })).buffer(true).parse(textParser).expect(200);
        expect(response.headers['content-type']).to.match(/text\/event-stream/);
        const events = sseEvents(response.body as string);
        expect(events.at(-1)).to.equal('[DONE]');
        const chunks = events.slice(0, -1) as Chunk[];
        expect(chunks.length).to.be.at.least(5);
        for (const chunk of chunks) expect(chunk).to.include({ object: 'chat.completion.chunk', model });
        // Every chunk comes from the upstream (no loading-stream chunks: the model was ready or sendLoadingState is off).
        expect(chunks.every((chunk) => String(chunk.id).startsWith('chatcmpl-fake-'))).to.equal(true);
        const text = chunks.map((chunk) => chunk.choices[0]?.delta?.content ?? '').join('');
        expect(text).to.not.be.empty;
        expect(chunks.at(-1)!.choices[0]?.finish_reason).to.be.oneOf(['stop', 'length']);
      });

      it('answers a text completion', async function () {
        const response = await request(h.app).post('/v1/completions').send({ model, prompt: 'once upon' }).expect(200);
        expect(response.body).to.include({ object: 'text_completion', model });
        expect(response.body.choices[0].text).to.be.a('string').and.not.empty;
      });

      it('streams a text completion', async function () {
        const response = await request(h.app).post('/v1/completions').send({ model, prompt: 'once upon', stream: true }).buffer(true).parse(textParser).expect(200);
        const events = sseEvents(response.body as string);
        expect(events.at(-1)).to.equal('[DONE]');
        const chunks = events.slice(0, -1) as Chunk[];
        expect(chunks.length).to.be.at.least(2);
        for (const chunk of chunks) expect(chunk).to.include({ object: 'text_completion', model });
      });

      it('answers embeddings for a string and for a list', async function () {
        const one = await request(h.app).post('/v1/embeddings').send({ model, input: 'hello' }).expect(200);
        expect(one.body).to.include({ object: 'list', model });
        expect(one.body.data).to.have.length(1);
        expect(one.body.data[0]).to.include({ object: 'embedding', index: 0 });
        expect(one.body.data[0].embedding).to.be.an('array').that.is.not.empty;
        const two = await request(h.app).post('/v1/embeddings').send({ model, input: ['a', 'b'] }).expect(200);
        expect(two.body.data.map((entry: { index: number }) => entry.index)).to.deep.equal([0, 1]);
      });
    });
  }

  it('resolves an alias and forwards the body unchanged', async function () {
    const response = await request(h.app).post('/v1/chat/completions').send(chat('gpt-4o-mini', { temperature: 0.5 })).expect(200);
    expect(response.body.model).to.equal('gpt-4o-mini');
    const last = (await upstreamCalls(h.gateway, 'echo')).filter((call) => call.kind === 'generate').at(-1)!;
    expect(JSON.parse(last.body)).to.deep.equal(chat('gpt-4o-mini', { temperature: 0.5 }));
  });

  it('takes the model from ?model= when the body has none', async function () {
    const response = await request(h.app).post('/v1/embeddings?model=echo').send({ input: 'x' }).expect(200);
    expect(response.body.object).to.equal('list');
  });
});

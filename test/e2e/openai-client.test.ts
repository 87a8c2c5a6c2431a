/** The official `openai` npm client against a listening gateway: chat, streaming chat, embeddings. */
import { once } from 'node:events';
import { createServer } from 'node:http';
import { expect } from 'chai';
import express from 'express';
import OpenAI from 'openai';
import { assertNoChildren } from '../helpers/wait.js';
import { cleanup, configYaml, openGateway, track, vllmCmd } from './support.js';

describe('e2e: the official openai client', function () {
  let client: OpenAI;

  before(async function () {
    const { gateway } = await openGateway(await configYaml({ qwen: { cmd: vllmCmd('qwen', ['--tokens', '5']), backend: 'vllm', aliases: ['gpt-4o-mini'] } }, { apiKeys: ['sk-siesta'], sendLoadingState: true }));
    const app = express();
    app.use(gateway.router);
    const server = createServer(app).listen(0, '127.0.0.1');
    await once(server, 'listening');
    track({ close: () => new Promise<void>((resolve) => server.close(() => resolve())) });
    const address = server.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    client = new OpenAI({ baseURL: `http://127.0.0.1:${port}/v1`, apiKey: 'sk-siesta', maxRetries: 0 });
  });
  after(async function () {
    await cleanup();
    await assertNoChildren();
  });

  it('streams a chat completion (cold start: the loading chunks carry reasoning_content, no content)', async function () {
    const stream = await client.chat.completions.create({ model: 'qwen', messages: [{ role: 'user', content: 'hi' }], stream: true });
    let content = '';
    let reasoning = '';
    let finish: string | null = null;
    for await (const chunk of stream) {
      const choice = chunk.choices[0];
      content += choice?.delta.content ?? '';
      reasoning += (choice?.delta as { reasoning_content?: string } | undefined)?.reasoning_content ?? '';
      finish = choice?.finish_reason ?? finish;
    }
    expect(reasoning).to.match(/siesta: qwen started in/);
    expect(content).to.match(/^tok0/);
    expect(finish).to.equal('stop');
  });

  it('answers a chat completion', async function () {
    const completion = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] });
    expect(completion.object).to.equal('chat.completion');
    expect(completion.model).to.equal('gpt-4o-mini');
    expect(completion.choices[0]!.message.content).to.be.a('string').and.not.empty;
    expect(completion.usage!.completion_tokens).to.equal(5);
  });

  it('answers embeddings', async function () {
    const embeddings = await client.embeddings.create({ model: 'qwen', input: ['one', 'two'] });
    expect(embeddings.data).to.have.length(2);
    expect(embeddings.data[0]!.embedding).to.be.an('array').that.is.not.empty;
    expect(embeddings.data[0]!.embedding.every((value) => typeof value === 'number')).to.equal(true);
  });

  it('surfaces gateway errors as typed API errors', async function () {
    try {
      await client.chat.completions.create({ model: 'missing', messages: [{ role: 'user', content: 'hi' }] });
      expect.fail('expected an error');
    } catch (error) {
      expect(error).to.be.instanceOf(OpenAI.NotFoundError);
      expect((error as InstanceType<typeof OpenAI.NotFoundError>).code).to.equal('model_not_found');
    }
    const wrongKey = new OpenAI({ baseURL: client.baseURL, apiKey: 'sk-wrong', maxRetries: 0 });
    try {
      await wrongKey.models.list();
      expect.fail('expected an error');
    } catch (error) {
      expect(error).to.be.instanceOf(OpenAI.AuthenticationError);
    }
  });

  it('lists the models', async function () {
    const ids: string[] = [];
    for await (const model of client.models.list()) ids.push(model.id);
    expect(ids).to.deep.equal(['qwen']);
  });
});

/**
 * siesta mounted in an app that parses bodies itself (issue 11 defect 12): with `express.json()` or
 * `express.urlencoded()` before the gateway the request stream is consumed and `req.body` is an
 * object. resolve-model reads the model from that object and forwards it re-serialised, instead of
 * answering 400 missing_model.
 */
import { expect } from 'chai';
import express, { type Express } from 'express';
import request from 'supertest';
import { assertNoChildren } from '../helpers/wait.js';
import { chat, cleanup, configYaml, genericCmd, openGateway, sseEvents, textParser, upstreamCalls, type Harness } from './support.js';

describe('e2e: mounted after express.json() (examples/embed-in-express.ts)', function () {
  let h: Harness;
  let app: Express;
  before(async function () {
    h = await openGateway(await configYaml({ echo: { cmd: genericCmd('echo'), aliases: ['e'], useModelName: 'served-echo' } }));
    app = express();
    app.use(express.json());
    app.use(express.urlencoded({ extended: false }));
    app.use('/llm', h.gateway.router);
  });
  after(async function () {
    await cleanup();
    await assertNoChildren();
  });

  it('a chat reaches the model with the parsed body, renamed by useModelName', async function () {
    const response = await request(app).post('/llm/v1/chat/completions').send(chat('e', { temperature: 0.5 }));
    expect(response.status, JSON.stringify(response.body)).to.equal(200);
    expect(response.body.object).to.equal('chat.completion');
    const call = (await upstreamCalls(h.gateway, 'echo')).at(-1)!;
    expect(call.path).to.equal('/v1/chat/completions');
    expect(JSON.parse(call.body)).to.deep.equal({ ...chat('served-echo'), temperature: 0.5 });
  });

  it('a streaming chat streams (the parsed body says stream: true)', async function () {
    const response = await request(app).post('/llm/v1/chat/completions').send(chat('echo', { stream: true })).buffer(true).parse(textParser).expect(200);
    expect(response.headers['content-type']).to.match(/text\/event-stream/);
    expect(sseEvents(response.body as string).at(-1)).to.equal('[DONE]');
  });

  it('a urlencoded form parsed by express.urlencoded() names its model too', async function () {
    const response = await request(app).post('/llm/v1/audio/speech').type('form').send({ model: 'echo', input: 'hi' });
    expect(response.status, JSON.stringify(response.body)).to.equal(200);
    const call = (await upstreamCalls(h.gateway, 'echo')).at(-1)!;
    // useModelName does not apply to a urlencoded form (llama-swap's rule: middleware/resolve-model.ts).
    expect(Object.fromEntries(new URLSearchParams(call.body))).to.deep.equal({ model: 'echo', input: 'hi' });
  });

  it('a parsed body without a model is still 400 missing_model', async function () {
    const response = await request(app).post('/llm/v1/chat/completions').send({ messages: [] }).expect(400);
    expect(response.body.error.code).to.equal('missing_model');
  });
});

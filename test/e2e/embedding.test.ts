/** examples/embed-in-express.ts: siesta mounted under /llm in a host app that keeps its own routes. */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { expect } from 'chai';
import request from 'supertest';
import express from 'express';
import { createApp } from '../../examples/embed-in-express.js';
import { createGateway } from '../../lib/index.js';
import { assertNoChildren } from '../helpers/wait.js';
import { chat, cleanup, configYaml, genericCmd, sseEvents, tempDir, textParser, track } from './support.js';

describe('e2e: embedding example (app.use("/llm", gateway.router))', function () {
  afterEach(async function () {
    await cleanup();
    await assertNoChildren();
  });

  it('serves chat under /llm, keeps the host routes, and close() stops the model', async function () {
    const dir = await tempDir();
    const configPath = join(dir, 'siesta.yaml');
    await writeFile(configPath, await configYaml({ echo: { cmd: genericCmd('echo'), aliases: ['gpt-4o-mini'] } }, { sendLoadingState: true }));
    const { app, gateway } = await createApp(configPath);
    track(gateway);
    await gateway.start();

    expect((await request(app).get('/hello').expect(200)).body).to.deep.equal({ hello: 'from the host app' });

    const streamed = await request(app).post('/llm/v1/chat/completions').send(chat('gpt-4o-mini', { stream: true })).buffer(true).parse(textParser).expect(200);
    const events = sseEvents(streamed.body as string);
    expect(events.at(-1)).to.equal('[DONE]');
    expect(events.some((event) => event !== '[DONE]' && String(event.id).startsWith('chatcmpl-fake-'))).to.equal(true);

    const answered = await request(app).post('/llm/v1/chat/completions').send(chat('echo')).expect(200);
    expect(answered.body.object).to.equal('chat.completion');
    expect((await request(app).get('/llm/v1/models').expect(200)).body.data.map((entry: { id: string }) => entry.id)).to.deep.equal(['echo']);
    expect((await request(app).get('/llm/running').expect(200)).body.running[0]).to.include({ model: 'echo', state: 'ready' });

    // Outside /llm the host app answers (its own 404), not siesta.
    const outside = await request(app).post('/v1/chat/completions').send(chat('echo')).expect(404);
    expect(outside.body).to.not.have.property('error');
    // Errors under /llm are siesta's OpenAI-shaped JSON.
    expect((await request(app).post('/llm/v1/chat/completions').send(chat('nope')).expect(404)).body.error.code).to.equal('model_not_found');

    await gateway.close();
    expect(gateway.manager.state('echo')).to.equal('shutdown');
    expect((await request(app).get('/hello').expect(200)).body.hello).to.equal('from the host app');
  });

  it('gateway.handler (the plain function the CLI mounts) serves the same under a prefix', async function () {
    const dir = await tempDir();
    const configPath = join(dir, 'siesta.yaml');
    await writeFile(configPath, await configYaml({ echo: { cmd: genericCmd('echo') } }));
    const gateway = await createGateway({ configPath });
    track(gateway);
    await gateway.start();
    const app = express();
    app.use('/llm', gateway.handler);
    expect((await request(app).post('/llm/v1/chat/completions').send(chat('echo')).expect(200)).body.object).to.equal('chat.completion');
    expect((await request(app).get('/llm/v1/models').expect(200)).body.data.map((entry: { id: string }) => entry.id)).to.deep.equal(['echo']);
    expect((await request(app).post('/llm/v1/chat/completions').send(chat('nope')).expect(404)).body.error.code).to.equal('model_not_found');
    expect((await request(app).post('/v1/chat/completions').send(chat('echo')).expect(404)).body).to.not.have.property('error');
    await gateway.close();
  });
});

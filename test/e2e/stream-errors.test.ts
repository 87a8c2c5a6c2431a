/**
 * Errors after an SSE stream began (issue 11 defect 8): the client gets a final OpenAI-style error
 * event with the real reason, then `[DONE]`, not a cut connection. The app is built as the CLI
 * builds it (no X-Powered-By): with no header set before `writeHead(status, object)`, the old
 * error path could not see that the response was an event stream and cut it.
 */
import { expect } from 'chai';
import express, { type Express } from 'express';
import request from 'supertest';
import { assertNoChildren, pollUntil } from '../helpers/wait.js';
import { chat, cleanup, configYaml, genericCmd, openGateway, sseEvents, textParser } from './support.js';
import type { Gateway } from '../../lib/gateway/create-gateway.js';

/** The gateway mounted the way lib/cli/serve.ts mounts it. */
function cliApp(gateway: Gateway): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.use(gateway.router);
  return app;
}

type Event = Record<string, unknown> | '[DONE]';

function errorOf(event: Event | undefined): { message: string; type: string; code: string } {
  expect(event).to.be.an('object').with.all.keys('error');
  return (event as { error: { message: string; type: string; code: string } }).error;
}

async function streamedChat(app: Express, model: string): Promise<Event[]> {
  const response = await request(app).post('/v1/chat/completions').send(chat(model, { stream: true })).buffer(true).parse(textParser);
  expect(response.status).to.equal(200);
  expect(response.headers['content-type']).to.match(/text\/event-stream/);
  return sseEvents(response.body as string);
}

const isLoading = (event: Event): boolean => event !== '[DONE]' && event.id === 'siesta-loading';
const isUpstream = (event: Event): boolean => event !== '[DONE]' && String(event.id).startsWith('chatcmpl-fake-');

describe('e2e: errors after an SSE stream began', function () {
  afterEach(async function () {
    await cleanup();
    await assertNoChildren();
  });

  it('sendLoadingState and a start failure: progress, then the start_failed event with its reason, then [DONE]', async function () {
    const { gateway } = await openGateway(await configYaml({ broken: { cmd: genericCmd('broken', ['--fail-start']), sendLoadingState: true } }));
    const events = await streamedChat(cliApp(gateway), 'broken');
    expect(events.filter(isLoading).length, 'progress chunks came first').to.be.at.least(1);
    expect(events.at(-1)).to.equal('[DONE]');
    const error = errorOf(events.at(-2));
    expect(error).to.include({ code: 'start_failed', type: 'server_error' });
    expect(error.message).to.include('broken').and.to.include('exited');
    expect(gateway.manager.state('broken')).to.equal('stopped');
  });

  it('the upstream dies mid-stream (ready model, plain proxying): its chunks, the upstream_failed event, then [DONE]', async function () {
    const { gateway } = await openGateway(await configYaml({ crashy: { cmd: genericCmd('crashy', ['--crash-mid-stream']) } }));
    const app = cliApp(gateway);
    await request(app).post('/v1/embeddings').send({ model: 'crashy', input: 'x' }).expect(200);
    const events = await streamedChat(app, 'crashy');
    expect(events.some(isLoading)).to.equal(false);
    expect(events.filter(isUpstream).length, 'the chunks before the crash arrived').to.be.at.least(1);
    expect(events.at(-1)).to.equal('[DONE]');
    const error = errorOf(events.at(-2));
    expect(error).to.include({ code: 'upstream_failed', type: 'upstream_error' });
    expect(error.message).to.include('closed before the response was complete');
    await pollUntil(() => gateway.manager.state('crashy') === 'stopped', { what: 'the crash to be noticed' });
  });

  it('the upstream dies mid-stream after the loading stream opened the response: the same ending', async function () {
    const { gateway } = await openGateway(await configYaml({ crashy: { cmd: genericCmd('crashy', ['--crash-mid-stream']), sendLoadingState: true } }));
    const events = await streamedChat(cliApp(gateway), 'crashy');
    expect(events.some(isLoading)).to.equal(true);
    expect(events.filter(isUpstream).length).to.be.at.least(1);
    expect(events.at(-1)).to.equal('[DONE]');
    expect(errorOf(events.at(-2))).to.include({ code: 'upstream_failed' });
    await pollUntil(() => gateway.manager.state('crashy') === 'stopped', { what: 'the crash to be noticed' });
  });
});

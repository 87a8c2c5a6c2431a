/**
 * The loading stream: a streaming chat request to a model that is not ready gets SSE progress in
 * `choices[0].delta.reasoning_content` at once, then the upstream's own stream in the same response.
 */
import { expect } from 'chai';
import request from 'supertest';
import { assertNoChildren } from '../helpers/wait.js';
import { chat, cleanup, configYaml, openGateway, sseEvents, textParser, vllmCmd, type Harness } from './support.js';

type Chunk = { id: string; object: string; model: string; choices: { delta: { reasoning_content?: string; content?: string }; finish_reason: string | null }[] };

function split(body: string): { loading: string[]; upstream: Chunk[]; done: boolean } {
  const events = sseEvents(body);
  const chunks = events.filter((event): event is Record<string, unknown> => event !== '[DONE]') as unknown as Chunk[];
  const loading = chunks.filter((chunk) => chunk.id === 'siesta-loading');
  const firstUpstream = chunks.findIndex((chunk) => chunk.id !== 'siesta-loading');
  expect(firstUpstream, 'the upstream stream follows the loading chunks').to.be.greaterThan(0);
  expect(chunks.slice(firstUpstream).every((chunk) => chunk.id !== 'siesta-loading'), 'no loading chunk after the upstream began').to.equal(true);
  return { loading: loading.map((chunk) => chunk.choices[0]!.delta.reasoning_content!), upstream: chunks.slice(firstUpstream), done: events.at(-1) === '[DONE]' };
}

/**
 * While the model starts (or wakes) the progress lines say so. The request is also queued (position
 * 1) for the instants before the load begins and after it ends, so the first two lines and the last
 * one may show the queue position instead.
 */
function expectProgress(lines: string[], doing: string): void {
  const pattern = new RegExp(`^siesta: a: ${doing}, \\d+\\.\\d+s elapsed\\n$`);
  const queued = /^siesta: a: waiting for its turn \(queue position 1\), \d+\.\d+s elapsed\n$/;
  expect(lines.some((line) => pattern.test(line)), `a "${doing}" line in ${JSON.stringify(lines)}`).to.equal(true);
  const middle = lines.slice(2, -1);
  expect(middle.filter((line) => !pattern.test(line)), `only "${doing}" lines while it happens`).to.deep.equal([]);
  for (const line of lines) expect(pattern.test(line) || queued.test(line), line).to.equal(true);
}

describe('e2e: loading stream (sendLoadingState)', function () {
  let h: Harness;
  before(async function () {
    h = await openGateway(
      await configYaml(
        {
          a: { cmd: vllmCmd('a', ['--tokens', '3']), backend: 'vllm' },
          b: { cmd: vllmCmd('b'), backend: 'vllm', sendLoadingState: false },
        },
        { sendLoadingState: true, groups: { gpu: { members: ['a', 'b'] } } },
      ),
    );
  });
  after(async function () {
    await cleanup();
    await assertNoChildren();
  });

  it('cold start: progress chunks, "started in", then the upstream chunks and [DONE] in one response', async function () {
    const response = await request(h.app).post('/v1/chat/completions').send(chat('a', { stream: true })).buffer(true).parse(textParser).expect(200);
    expect(response.headers['content-type']).to.match(/text\/event-stream/);
    const { loading, upstream, done } = split(response.body as string);
    expect(loading[0]).to.match(/^siesta: a: starting, \d+\.\d+s elapsed\n$/);
    expect(loading.at(-1)).to.match(/^siesta: a started in \d+\.\d+s\n$/);
    expectProgress(loading.slice(0, -1), 'starting');
    expect(upstream.every((chunk) => chunk.id.startsWith('chatcmpl-fake-') && chunk.object === 'chat.completion.chunk')).to.equal(true);
    expect(upstream.map((chunk) => chunk.choices[0]?.delta.content ?? '').join('')).to.not.be.empty;
    expect(done).to.equal(true);
  });

  it('a ready model streams without loading chunks', async function () {
    const response = await request(h.app).post('/v1/chat/completions').send(chat('a', { stream: true })).buffer(true).parse(textParser).expect(200);
    const events = sseEvents(response.body as string);
    expect(events.some((event) => event !== '[DONE]' && event.id === 'siesta-loading')).to.equal(false);
    expect(events.at(-1)).to.equal('[DONE]');
  });

  it('wake: "woke from sleep in" after the model slept for another one; a model with sendLoadingState off gets none', async function () {
    const other = await request(h.app).post('/v1/chat/completions').send(chat('b', { stream: true })).buffer(true).parse(textParser).expect(200);
    expect(sseEvents(other.body as string).some((event) => event !== '[DONE]' && event.id === 'siesta-loading'), 'b has sendLoadingState: false').to.equal(false);
    expect(h.gateway.manager.state('a')).to.equal('asleep');
    const response = await request(h.app).post('/v1/chat/completions').send(chat('a', { stream: true })).buffer(true).parse(textParser).expect(200);
    const { loading, upstream, done } = split(response.body as string);
    expectProgress(loading.slice(0, -1), 'waking from sleep');
    expect(loading.at(-1)).to.match(/^siesta: a woke from sleep in \d+\.\d+s\n$/);
    expect(upstream.length).to.be.at.least(2);
    expect(done).to.equal(true);
  });

  it('non-streaming requests to a sleeping model wait and get plain JSON', async function () {
    await request(h.app).post('/v1/embeddings').send({ model: 'b', input: 'x' }).expect(200);
    const response = await request(h.app).post('/v1/chat/completions').send(chat('a')).expect(200);
    expect(response.headers['content-type']).to.match(/application\/json/);
    expect(response.body.object).to.equal('chat.completion');
  });
});

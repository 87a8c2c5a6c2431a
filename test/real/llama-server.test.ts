/**
 * siesta against a real llama.cpp `llama-server` (the tier of scripts/provision-llama.sh: a Debian
 * unstable chroot with two tiny random-weight GGUF models). Pending, with the reason printed, when
 * the tier is not provisioned or the tests do not run as root.
 *
 * Every test opens its own gateway with both models in one swap group; afterwards no child, no
 * recorded pid and no llama-server of the chroot on the test's ports may be left.
 */
import { readlinkSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { expect } from 'chai';
import request from 'supertest';
import { sseEvents, textParser } from '../e2e/support.js';
import { assertNoChildren, isAlive, pollUntil } from '../helpers/wait.js';
import { cleanup, configYaml, describeHarnesses, findLlamaTier, llamaModel, llamaServers, openGateway, usedPorts, type Harness, type LlamaTier } from './support.js';

interface Completion {
  id: string;
  object: string;
  model: string;
  choices: { index: number; message: { role: string; content: string }; finish_reason: string }[];
  usage: { prompt_tokens: number; completion_tokens: number; total_tokens: number };
}

interface Chunk {
  id: string;
  object: string;
  model?: string;
  choices: { index: number; delta: { role?: string; content?: string | null; reasoning_content?: string }; finish_reason: string | null }[];
  timings?: Record<string, number>;
}

/**
 * A small chat request. The tiny models answer random bytes and may sample their end-of-turn token
 * first, which would leave a stream with no content: decode greedily (the same reply every run) and
 * ignore end-of-turn so that every reply has exactly `max_tokens` tokens.
 */
function chat(model: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { model, messages: [{ role: 'user', content: 'hello' }], max_tokens: 4, temperature: 0, ignore_eos: true, ...extra };
}

function expectCompletion(body: Completion, model: string): void {
  expect(body.id, 'id').to.be.a('string').and.match(/^chatcmpl-/);
  expect(body.object).to.equal('chat.completion');
  expect(body.model, 'llama-server answers with its --alias').to.equal(model);
  expect(body.choices).to.have.length(1);
  const [choice] = body.choices;
  expect(choice!.message.role).to.equal('assistant');
  expect(choice!.message.content).to.be.a('string');
  expect(['length', 'stop']).to.include(choice!.finish_reason);
  expect(body.usage.prompt_tokens).to.be.a('number').and.greaterThan(0);
  expect(body.usage.completion_tokens).to.equal(4);
  expect(body.usage.total_tokens).to.equal(body.usage.prompt_tokens + body.usage.completion_tokens);
}

/** llama-server's own stream: chunks of one id, content deltas, a final chunk with `timings`, `[DONE]`. */
function expectLlamaStream(events: (Chunk | '[DONE]')[], model: string): void {
  expect(events.at(-1), 'the stream ends with [DONE]').to.equal('[DONE]');
  expect(events.filter((event) => event === '[DONE]'), 'one [DONE]').to.have.length(1);
  const chunks = events.slice(0, -1) as Chunk[];
  expect(chunks.length, 'some chunks').to.be.at.least(2);
  for (const chunk of chunks) {
    expect(chunk.object).to.equal('chat.completion.chunk');
    expect(chunk.id).to.match(/^chatcmpl-/);
    expect(chunk.model).to.equal(model);
  }
  expect(new Set(chunks.map((chunk) => chunk.id)).size, 'one id for the whole stream').to.equal(1);
  expect(chunks.some((chunk) => typeof chunk.choices[0]?.delta.content === 'string' && chunk.choices[0].delta.content !== ''), 'some content').to.equal(true);
  const last = chunks.at(-1)!;
  expect(['length', 'stop']).to.include(last.choices[0]?.finish_reason);
  expect(last.timings, 'the last chunk carries timings').to.be.an('object');
  for (const key of ['prompt_n', 'prompt_ms', 'prompt_per_second', 'predicted_n', 'predicted_ms', 'predicted_per_second']) {
    expect(last.timings![key], `timings.${key}`).to.be.a('number');
  }
  expect(last.timings!['predicted_n']).to.equal(4);
  expect(last.timings!['predicted_per_second']).to.be.greaterThan(0);
  expect(chunks.slice(0, -1).every((chunk) => chunk.timings === undefined), 'only the last chunk has timings').to.equal(true);
}

async function postChat(h: Harness, model: string, extra: Record<string, unknown> = {}): Promise<Completion> {
  const response = await request(h.app).post('/v1/chat/completions').send(chat(model, extra)).expect(200);
  expect(response.headers['content-type']).to.match(/application\/json/);
  return response.body as Completion;
}

async function postStream(h: Harness, model: string): Promise<(Chunk | '[DONE]')[]> {
  const response = await request(h.app).post('/v1/chat/completions').send(chat(model, { stream: true })).buffer(true).parse(textParser).expect(200);
  expect(response.headers['content-type']).to.match(/text\/event-stream/);
  return sseEvents(response.body as string) as unknown as (Chunk | '[DONE]')[];
}

async function expectDead(pid: number, what: string): Promise<void> {
  await pollUntil(() => !isAlive(pid), { timeoutMs: 5000, what: `${what} (pid ${pid}) to be gone` });
}

describe('real llama-server (llama.cpp in the provisioned chroot)', function () {
  this.timeout(30_000);
  let tier: LlamaTier | undefined;
  const started = performance.now();

  before(function () {
    const found = findLlamaTier();
    if (typeof found === 'string') {
      console.log(`    real llama-server tier: PENDING, ${found}`);
      this.skip();
    }
    tier = found;
    console.log(`    real llama-server tier: llama-server ${tier.version} in ${tier.chroot}`);
  });

  after(function () {
    if (tier) console.log(`    real llama-server tier: ${((performance.now() - started) / 1000).toFixed(1)} s in all`);
  });

  afterEach(async function () {
    const active = tier;
    if (!active) return;
    if (this.currentTest?.state === 'failed') console.log(`    what the gateway saw:\n${describeHarnesses()}`);
    const pids = await cleanup();
    await assertNoChildren();
    for (const pid of pids) await expectDead(pid, 'a llama-server the gateway started');
    const ports = new Set(usedPorts);
    usedPorts.clear();
    try {
      await pollUntil(() => llamaServers(active, ports).length === 0, { timeoutMs: 3000 });
    } catch {
      expect(llamaServers(active, ports), 'llama-server processes left behind').to.deep.equal([]);
    }
  });

  /** Both tiny models in one swap group; `extraA` adds llama-server flags to tiny-a. */
  async function pair(extraA: readonly string[] = [], global: Record<string, unknown> = {}): Promise<Harness> {
    return openGateway(
      await configYaml(
        { 'tiny-a': llamaModel(tier!, 'tiny-a', extraA), 'tiny-b': llamaModel(tier!, 'tiny-b') },
        { groups: { g: { swap: true, members: ['tiny-a', 'tiny-b'] } }, ...global },
      ),
    );
  }

  it('starts llama-server on the first request and answers chat and streaming chat', async function () {
    const h = await pair();
    const { manager } = h.gateway;
    expect(manager.state('tiny-a')).to.equal('stopped');
    expect(manager.process('tiny-a').pid).to.equal(null);

    const cold = performance.now();
    const body = await postChat(h, 'tiny-a');
    const coldMs = performance.now() - cold;
    expectCompletion(body, 'tiny-a');
    expect(manager.state('tiny-a')).to.equal('ready');
    expect(manager.state('tiny-b')).to.equal('stopped');
    const pid = h.pidOf('tiny-a');
    expect(isAlive(pid)).to.equal(true);
    // chroot(8) execs: the pid siesta holds is llama-server itself, running the chroot's binary.
    expect(readlinkSync(`/proc/${pid}/exe`)).to.equal(`${tier!.chroot.replace(/\/+$/, '')}${tier!.llamaServer}`);

    const warm = performance.now();
    expectCompletion(await postChat(h, 'tiny-a'), 'tiny-a');
    const warmMs = performance.now() - warm;

    expectLlamaStream(await postStream(h, 'tiny-a'), 'tiny-a');
    expect(manager.process('tiny-a').pid, 'the same server answered everything').to.equal(pid);

    const models = await request(h.app).get('/v1/models').expect(200);
    const states = Object.fromEntries((models.body as { data: { id: string; state: string }[] }).data.map((entry) => [entry.id, entry.state]));
    expect(states).to.deep.equal({ 'tiny-a': 'ready', 'tiny-b': 'stopped' });
    console.log(`      cold start + first chat ${coldMs.toFixed(0)} ms, warm chat ${warmMs.toFixed(1)} ms`);
  });

  it('swaps between the two models: the evicted llama-server is stopped (it cannot sleep over HTTP)', async function () {
    const h = await pair();
    const { manager } = h.gateway;
    expectCompletion(await postChat(h, 'tiny-a'), 'tiny-a');
    const pidA = h.pidOf('tiny-a');

    const swap = performance.now();
    expectCompletion(await postChat(h, 'tiny-b'), 'tiny-b');
    const swapMs = performance.now() - swap;
    expect(manager.state('tiny-a')).to.equal('stopped');
    expect(manager.process('tiny-a').pid).to.equal(null);
    await expectDead(pidA, 'tiny-a after the swap');
    expect(manager.state('tiny-b')).to.equal('ready');
    const pidB = h.pidOf('tiny-b');
    expect(isAlive(pidB)).to.equal(true);
    expect(llamaServers(tier!, usedPorts).map((server) => server.pid), 'one llama-server runs').to.deep.equal([pidB]);
    expectLlamaStream(await postStream(h, 'tiny-b'), 'tiny-b');

    expectCompletion(await postChat(h, 'tiny-a'), 'tiny-a');
    const pidA2 = h.pidOf('tiny-a');
    expect(pidA2, 'tiny-a was started again').to.not.equal(pidA);
    expect(isAlive(pidA2)).to.equal(true);
    expect(manager.state('tiny-b')).to.equal('stopped');
    await expectDead(pidB, 'tiny-b after the swap back');
    expect(llamaServers(tier!, usedPorts).map((server) => server.pid)).to.deep.equal([pidA2]);
    console.log(`      swap tiny-a → tiny-b (stop + cold start + chat) ${swapMs.toFixed(0)} ms`);
  });

  it('reports llama-server\'s own --sleep-idle-seconds sleep (/props is_sleeping) and wakes it with a request', async function () {
    const h = await pair(['--sleep-idle-seconds', '1']);
    const process = h.gateway.manager.process('tiny-a');
    const events: boolean[] = [];
    h.gateway.manager.on('self-sleep', (status) => {
      if (status.model === 'tiny-a') events.push(status.asleep);
    });
    expectCompletion(await postChat(h, 'tiny-a'), 'tiny-a');
    const pid = h.pidOf('tiny-a');
    expect(await process.refreshSelfSleep(), 'awake right after a request').to.equal(false);

    const idle = performance.now();
    await pollUntil(async () => (await process.refreshSelfSleep()) === true, { timeoutMs: 10_000, intervalMs: 100, what: '/props is_sleeping to become true' });
    const asleepMs = performance.now() - idle;
    expect(process.selfAsleep).to.equal(true);
    expect(process.state, 'siesta still sees a ready process').to.equal('ready');
    expect(process.pid).to.equal(pid);
    const view = await request(h.app).get('/api/models/tiny-a').expect(200);
    expect(view.body).to.include({ state: 'ready', selfAsleep: true, pid });

    expectCompletion(await postChat(h, 'tiny-a'), 'tiny-a'); // llama-server reloads the model for it
    expect(await process.refreshSelfSleep(), 'awake again after the request').to.equal(false);
    expect(process.pid, 'woken inside the same process, not restarted').to.equal(pid);
    expect(events.slice(0, 3)).to.deep.equal([false, true, false]);
    console.log(`      is_sleeping seen ${asleepMs.toFixed(0)} ms after the request (--sleep-idle-seconds 1)`);
  });

  it('unload (admin API and manager.unload) stops llama-server', async function () {
    const h = await pair();
    const { manager } = h.gateway;
    expectCompletion(await postChat(h, 'tiny-a'), 'tiny-a');
    const pidA = h.pidOf('tiny-a');
    const unload = await request(h.app).post('/api/models/tiny-a/unload').expect(200);
    expect(unload.body).to.deep.include({ action: 'unload', result: 'stopped' });
    expect(unload.body.model).to.include({ state: 'stopped', pid: null });
    expect(manager.state('tiny-a')).to.equal('stopped');
    await expectDead(pidA, 'tiny-a after /api/models/tiny-a/unload');

    expectCompletion(await postChat(h, 'tiny-b'), 'tiny-b');
    const pidB = h.pidOf('tiny-b');
    await manager.unload('tiny-b');
    expect(manager.state('tiny-b')).to.equal('stopped');
    await expectDead(pidB, 'tiny-b after manager.unload');
    expect(llamaServers(tier!, usedPorts)).to.deep.equal([]);
    await assertNoChildren();

    // Unloaded is not closed: the next request starts it again.
    expectCompletion(await postChat(h, 'tiny-a'), 'tiny-a');
    expect(h.pidOf('tiny-a')).to.not.equal(pidA);
  });

  it('gateway.close() stops llama-server and refuses later requests', async function () {
    const h = await pair(['--sleep-idle-seconds', '1']);
    const { manager } = h.gateway;
    expectCompletion(await postChat(h, 'tiny-a'), 'tiny-a');
    const pid = h.pidOf('tiny-a');
    await h.gateway.close();
    expect(manager.state('tiny-a')).to.equal('shutdown');
    expect(manager.state('tiny-b')).to.equal('shutdown');
    await expectDead(pid, 'tiny-a after close()');
    await assertNoChildren();
    expect(llamaServers(tier!, usedPorts)).to.deep.equal([]);
    await request(h.app).post('/v1/chat/completions').send(chat('tiny-b')).expect(503);
    expect(llamaServers(tier!, usedPorts), 'a request after close() starts nothing').to.deep.equal([]);
  });

  it('loading stream: progress chunks while llama-server starts, then its own chunks in the same response', async function () {
    const h = await pair([], { sendLoadingState: true });
    const cold = performance.now();
    const events = await postStream(h, 'tiny-a');
    const coldMs = performance.now() - cold;
    const chunks = events.filter((event): event is Chunk => event !== '[DONE]');
    const firstUpstream = chunks.findIndex((chunk) => chunk.id !== 'siesta-loading');
    expect(firstUpstream, 'loading chunks come first').to.be.greaterThan(0);
    const loading = chunks.slice(0, firstUpstream).map((chunk) => chunk.choices[0]?.delta.reasoning_content ?? '');
    expect(loading[0]).to.match(/^siesta: tiny-a: (starting|waiting for its turn \(queue position 1\)), \d+\.\d+s elapsed\n$/);
    expect(loading.some((line) => /^siesta: tiny-a: starting, \d+\.\d+s elapsed\n$/.test(line)), JSON.stringify(loading)).to.equal(true);
    expect(loading.at(-1)).to.match(/^siesta: tiny-a started in \d+\.\d+s\n$/);
    for (const chunk of chunks.slice(0, firstUpstream)) {
      expect(chunk.object).to.equal('chat.completion.chunk');
      expect(chunk.choices[0]?.delta.content ?? '', 'progress is reasoning, not content').to.equal('');
    }
    expectLlamaStream(events.slice(firstUpstream), 'tiny-a');
    expect(h.gateway.manager.state('tiny-a')).to.equal('ready');
    h.pidOf('tiny-a');

    // Warm: no loading chunks at all.
    const warm = await postStream(h, 'tiny-a');
    expect(warm.some((event) => event !== '[DONE]' && event.id === 'siesta-loading')).to.equal(false);
    expectLlamaStream(warm, 'tiny-a');
    console.log(`      cold streaming request ${coldMs.toFixed(0)} ms, ${loading.length} loading chunk(s)`);
  });

  /**
   * saveSlots: tiny-a serves a long prompt, is evicted by tiny-b, and serves the same prompt again.
   * The save directory lives inside the chroot (llama-server sees `/tmp/…`, the host `<chroot>/tmp/…`).
   */
  async function slotCacheAfterSwap(saveSlots: boolean): Promise<{ cache_n: number; prompt_n: number }> {
    const hostDir = await mkdtemp(join(tier!.chroot, 'tmp', 'siesta-slots-'));
    slotDirs.push(hostDir);
    const insideDir = hostDir.slice(tier!.chroot.replace(/\/+$/, '').length);
    const h = await openGateway(
      await configYaml(
        {
          'tiny-a': llamaModel(tier!, 'tiny-a', ['--slot-save-path', insideDir], saveSlots ? { options: { saveSlots: true } } : {}),
          'tiny-b': llamaModel(tier!, 'tiny-b'),
        },
        { groups: { g: { swap: true, members: ['tiny-a', 'tiny-b'] } } },
      ),
    );
    // The tiny model's context is 512 tokens at about one token per character.
    const prompt = { messages: [{ role: 'user', content: 'the quick brown fox jumps over the lazy dog '.repeat(7) }] };
    await postChat(h, 'tiny-a', prompt);
    await postChat(h, 'tiny-b');
    expect(h.gateway.manager.state('tiny-a')).to.equal('stopped');
    const response = await request(h.app).post('/v1/chat/completions').send(chat('tiny-a', prompt)).expect(200);
    return (response.body as { timings: { cache_n: number; prompt_n: number } }).timings;
  }

  const slotDirs: string[] = [];
  afterEach(async function () {
    await Promise.all(slotDirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
  });

  it('saveSlots: after a swap the same long prompt is served from the restored slot (cache_n >= 90% of it)', async function () {
    const restored = await slotCacheAfterSwap(true);
    expect(restored.cache_n / (restored.cache_n + restored.prompt_n), JSON.stringify(restored)).to.be.at.least(0.9);
    console.log(`      prompt of ${restored.cache_n + restored.prompt_n} tokens: cache_n ${restored.cache_n} after the swap`);
  });

  it('without saveSlots the same prompt after a swap has cache_n 0', async function () {
    const cold = await slotCacheAfterSwap(false);
    expect(cold.cache_n, JSON.stringify(cold)).to.equal(0);
  });
});

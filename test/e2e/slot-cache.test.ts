/**
 * llama-server `options: { saveSlots: true }` against the fake: a model evicted by a swap saves its
 * slot before the stop and restores it after the next start, so the same long prompt is served
 * from the cache (`timings.cache_n`); without the option, or after its cmd changed, nothing is
 * restored; a failing save does not block the stop.
 */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import request from 'supertest';
import { fakeCommand } from '../helpers/fake-upstream.js';
import { assertNoChildren } from '../helpers/wait.js';
import { cleanup, configYaml, genericCmd, openGateway, textParser, type Harness } from './support.js';
import { loadGatewayConfig } from '../../lib/gateway/load-config.js';
import type { ConfigError } from '../../lib/config/errors.js';

const LONG_PROMPT = Array.from({ length: 300 }, (_, index) => `word${index}`).join(' ');

function llamaCmd(model: string, slotDir: string | null, extra: readonly string[] = []): string {
  return fakeCommand(['--port', '${PORT}', '--backend', 'llama-server', '--model', model, '--start-delay', '50ms', ...(slotDir ? ['--slot-save-path', slotDir] : []), ...extra]);
}

async function swapPair(slotDir: string | null, options: { saveSlots?: boolean; extra?: readonly string[] } = {}): Promise<Harness> {
  return openGateway(
    await configYaml(
      {
        a: { cmd: llamaCmd('a', slotDir, options.extra), backend: 'llama-server', ...(options.saveSlots ? { options: { saveSlots: true } } : {}) },
        b: { cmd: genericCmd('b') },
      },
      { groups: { gpu: { swap: true, members: ['a', 'b'] } } },
    ),
  );
}

interface Timings {
  cache_n: number;
  prompt_n: number;
}

async function askLong(harness: Harness): Promise<Timings> {
  const response = await request(harness.app)
    .post('/v1/chat/completions')
    .send({ model: 'a', messages: [{ role: 'user', content: LONG_PROMPT }] })
    .expect(200);
  return response.body.timings as Timings;
}

async function evictA(harness: Harness): Promise<void> {
  await request(harness.app).post('/v1/chat/completions').send({ model: 'b', messages: [{ role: 'user', content: 'hi' }] }).expect(200);
  expect(harness.gateway.manager.state('a')).to.equal('stopped');
}

function cacheShare(timings: Timings): number {
  return timings.cache_n / (timings.cache_n + timings.prompt_n);
}

/** Slot directories outlive `cleanup()` (a test restarts the gateway over the same one): removed after each test. */
const slotDirs: string[] = [];
async function slotDirectory(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'siesta-slots-'));
  slotDirs.push(dir);
  return dir;
}

describe('e2e: llama-server slot cache across a stop (saveSlots)', function () {
  afterEach(async function () {
    await cleanup();
    await assertNoChildren();
    await Promise.all(slotDirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
  });

  it('a model evicted by a swap serves the same long prompt from its restored cache', async function () {
    const slotDir = await slotDirectory();
    const harness = await swapPair(slotDir, { saveSlots: true });
    const first = await askLong(harness);
    expect(first.cache_n).to.equal(0);
    await evictA(harness);
    expect((await readdir(slotDir)).filter((file) => file.startsWith('siesta-a-'))).to.have.length(1);
    const again = await askLong(harness);
    expect(cacheShare(again), JSON.stringify(again)).to.be.at.least(0.9);
  });

  it('the loading stream says "restoring prompt cache" while the restore runs', async function () {
    const slotDir = await slotDirectory();
    const harness = await openGateway(
      await configYaml(
        {
          a: { cmd: llamaCmd('a', slotDir), backend: 'llama-server', options: { saveSlots: true }, sendLoadingState: true },
          b: { cmd: genericCmd('b') },
        },
        { groups: { gpu: { swap: true, members: ['a', 'b'] } } },
      ),
    );
    await askLong(harness);
    await evictA(harness);
    const streamed = await request(harness.app)
      .post('/v1/chat/completions')
      .send({ model: 'a', stream: true, messages: [{ role: 'user', content: LONG_PROMPT }] })
      .buffer(true)
      .parse(textParser)
      .expect(200);
    expect(String(streamed.body)).to.include('restoring prompt cache').and.to.include('data: [DONE]');
  });

  it('siesta check warns when saveSlots has no --slot-save-path (and --strict refuses it)', async function () {
    const text = await configYaml({ a: { cmd: llamaCmd('a', null), backend: 'llama-server', options: { saveSlots: true } } });
    const loaded = await loadGatewayConfig({ configText: text, env: {} });
    expect(loaded.warnings.map((warning) => `${warning.path}: ${warning.message}`)).to.include("models.a.options.saveSlots: needs --slot-save-path DIR in the model's cmd (siesta does not add it); prompt caches are not saved");
    const refused = await loadGatewayConfig({ configText: text, env: {}, strict: true }).then(() => null, (error: unknown) => error as ConfigError);
    expect(refused?.issues.map((found) => found.path)).to.include('models.a.options.saveSlots');
  });

  it('without the option nothing is saved and the cache is empty after the swap', async function () {
    const slotDir = await slotDirectory();
    const harness = await swapPair(slotDir);
    await askLong(harness);
    await evictA(harness);
    expect(await readdir(slotDir)).to.deep.equal([]);
    expect((await askLong(harness)).cache_n).to.equal(0);
  });

  it('a failing save does not block the stop; the model starts and serves without a cache', async function () {
    const slotDir = await slotDirectory();
    const harness = await swapPair(slotDir, { saveSlots: true, extra: ['--fail-slot-save'] });
    await askLong(harness);
    await evictA(harness);
    expect(harness.gateway.manager.state('b')).to.equal('ready');
    expect(await readdir(slotDir)).to.deep.equal([]);
    expect((await askLong(harness)).cache_n).to.equal(0);
  });

  it('a changed cmd does not restore the old file, and the old file is removed', async function () {
    const slotDir = await slotDirectory();
    const before = await swapPair(slotDir, { saveSlots: true });
    await askLong(before);
    await cleanup(); // shutdown stops a ready model: it saves too
    const saved = await readdir(slotDir);
    expect(saved).to.have.length(1);

    const changed = await swapPair(slotDir, { saveSlots: true, extra: ['--tokens', '4'] });
    expect((await askLong(changed)).cache_n).to.equal(0);
    expect(await readdir(slotDir)).to.not.include(saved[0]);
  });

  it('the same cmd restores across a gateway restart', async function () {
    const slotDir = await slotDirectory();
    await askLong(await swapPair(slotDir, { saveSlots: true }));
    await cleanup();
    const again = await askLong(await swapPair(slotDir, { saveSlots: true }));
    expect(cacheShare(again)).to.be.at.least(0.9);
  });
});

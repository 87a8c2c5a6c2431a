import { expect } from 'chai';
import { FakeClock } from '../../../lib/clock.js';
import type { ModelConfig } from '../../../lib/config/types.js';
import { vllmPlugin } from '../../../plugins/vllm.js';
import { pollUntil } from '../../helpers/wait.js';
import { callLines, calls, cleanUp, clearCalls, complete, createProcess, expectLegalWalk, fakeModel, serveOne, waitForState, type Tracked } from './harness.js';

const SLEEP_MODE = ['--enable-sleep-mode'];

/** The warm-up siesta sends after every wake: one token. */
const WARMUP = 'POST /v1/completions (generate)';

describe('vllm plugin with a real fake upstream', function () {
  afterEach(cleanUp);

  async function started(flags: readonly string[] = [], overrides: Partial<ModelConfig> = {}): Promise<{ model: ModelConfig; tracked: Tracked }> {
    const model = await fakeModel('vllm', [...SLEEP_MODE, ...flags], overrides);
    const tracked = createProcess(model, vllmPlugin);
    await serveOne(tracked, model);
    await clearCalls(model);
    return { model, tracked };
  }

  it('cold-starts (port refused while loading) with starting → ready events', async function () {
    const model = await fakeModel('vllm', [...SLEEP_MODE, '--start-delay', '150ms']);
    const tracked = createProcess(model, vllmPlugin);
    const { lease, outcome } = await tracked.process.acquire();
    expect(outcome.action).to.equal('started');
    expect(outcome.ms).to.be.at.least(150);
    expect(tracked.path()).to.deep.equal(['stopped→starting', 'starting→ready']);
    expect(tracked.process.pid).to.be.a('number');
    expect(await complete(model)).to.equal(200);
    lease.release();
    // The plugin's env default turned the dev endpoints on: /is_sleeping exists.
    expect((await fetch(`${model.proxy}/is_sleeping`)).status).to.equal(200);
  });

  it('sleeps at level 1 and wakes: /sleep?level=1, confirm, /wake_up, confirm, 1-token warm-up', async function () {
    const { model, tracked } = await started();
    expect(await tracked.process.sleep('evicted')).to.equal('asleep');
    expect(tracked.process.asleepLevel).to.equal(1);
    expect(await callLines(model)).to.deep.equal(['POST /sleep?level=1', 'GET /is_sleeping']);
    await serveOne(tracked, model);
    expect(await callLines(model)).to.deep.equal([
      'POST /sleep?level=1',
      'GET /is_sleeping',
      'POST /wake_up',
      'GET /is_sleeping',
      WARMUP,
      'POST /v1/completions (generate)',
    ]);
    const recorded = await calls(model);
    // The level travels in the query string only (vLLM ignores a JSON body).
    expect(recorded[0]).to.deep.include({ path: '/sleep', query: 'level=1', body: '' });
    const warmup = JSON.parse(recorded[4]!.body) as Record<string, unknown>;
    expect(warmup).to.deep.equal({ model: model.id, prompt: 'hi', max_tokens: 1 });
    expect(tracked.path()).to.deep.equal(['stopped→starting', 'starting→ready', 'ready→sleeping', 'sleeping→asleep', 'asleep→waking', 'waking→ready']);
    expectLegalWalk(tracked.changes);
  });

  it('sleeps at level 2 and wakes with the 3-step wake plus reset_prefix_cache', async function () {
    const { model, tracked } = await started([], { sleep: { enabled: true, level: 2 } });
    expect(await tracked.process.sleep('evicted')).to.equal('asleep');
    expect(tracked.process.asleepLevel).to.equal(2);
    await serveOne(tracked, model);
    expect(await callLines(model)).to.deep.equal([
      'POST /sleep?level=2',
      'GET /is_sleeping',
      'POST /wake_up?tags=weights',
      'POST /collective_rpc {"method":"reload_weights"}',
      'POST /wake_up?tags=kv_cache',
      'POST /reset_prefix_cache',
      'GET /is_sleeping',
      WARMUP,
      'POST /v1/completions (generate)',
    ]);
    const state = (await (await fetch(`${model.proxy}/__state`)).json()) as { weightsStale: boolean; asleep: boolean };
    expect(state).to.deep.include({ weightsStale: false, asleep: false });
  });

  it('holds a request that arrives while asleep until the wake is done', async function () {
    const { model, tracked } = await started(['--wake-delay', '200ms']);
    await tracked.process.sleep('evicted');
    await clearCalls(model);
    const acquiring = tracked.process.acquire();
    let resolvedIn: string | null = null;
    void acquiring.then(() => (resolvedIn = tracked.process.state));
    await waitForState(tracked, 'waking');
    expect(resolvedIn).to.equal(null);
    const { lease, outcome } = await acquiring;
    expect(resolvedIn).to.equal('ready');
    expect(outcome.action).to.equal('woke');
    expect(outcome.ms).to.be.at.least(200);
    expect(await complete(model)).to.equal(200);
    lease.release();
    const recorded = await calls(model);
    const firstGenerate = recorded.findIndex((call) => call.kind === 'generate');
    const wake = recorded.findIndex((call) => call.path === '/wake_up');
    expect(wake).to.be.at.least(0);
    expect(firstGenerate, 'nothing generated before the wake').to.be.greaterThan(wake);
  });

  it('shares one wake among concurrent requests', async function () {
    const { model, tracked } = await started(['--wake-delay', '100ms']);
    await tracked.process.sleep('evicted');
    await clearCalls(model);
    const results = await Promise.all(Array.from({ length: 5 }, () => tracked.process.acquire()));
    expect(results.filter((result) => result.outcome.action === 'woke')).to.have.length(5);
    expect(await Promise.all(results.map(() => complete(model)))).to.deep.equal([200, 200, 200, 200, 200]);
    for (const { lease } of results) lease.release();
    const lines = await callLines(model);
    expect(lines.filter((line) => line === 'POST /wake_up')).to.have.length(1);
    expect(lines.filter((line) => line === WARMUP)).to.have.length(1 + 5);
    expect(tracked.path().filter((step) => step === 'asleep→waking')).to.have.length(1);
  });

  it('waits for an outstanding lease before calling /sleep, holding new requests meanwhile', async function () {
    const { model, tracked } = await started();
    const first = await tracked.process.acquire();
    const sleeping = tracked.process.sleep('evicted');
    await waitForState(tracked, 'sleeping');
    const second = tracked.process.acquire();
    // The first request is still served normally while the sleep waits.
    expect(await complete(model, 'in flight')).to.equal(200);
    expect(await callLines(model)).to.deep.equal(['POST /v1/completions (generate)']);
    first.lease.release();
    expect(await sleeping).to.equal('asleep');
    const { lease } = await second;
    expect(await complete(model, 'held')).to.equal(200);
    lease.release();
    expect(await callLines(model)).to.deep.equal([
      'POST /v1/completions (generate)',
      'POST /sleep?level=1',
      'GET /is_sleeping',
      'POST /wake_up',
      'GET /is_sleeping',
      WARMUP,
      'POST /v1/completions (generate)',
    ]);
  });

  it('stops when the sleep fails (--fail-sleep), saying so in the event', async function () {
    const { tracked } = await started(['--fail-sleep']);
    const pid = tracked.process.pid!;
    expect(await tracked.process.sleep('evicted')).to.equal('stopped');
    expect(tracked.path().slice(-3)).to.deep.equal(['ready→sleeping', 'sleeping→stopping', 'stopping→stopped']);
    const last = tracked.changes.at(-1)!;
    expect(last.reason).to.match(/^sleep failed: sleep step POST \/sleep\?level=1 answered HTTP 500$/);
    await pollUntil(() => !isRunning(pid), { what: 'the server to be gone' });
  });

  it('cold-starts when the wake fails (--fail-wake): new pid, ready', async function () {
    const { model, tracked } = await started(['--fail-wake']);
    const oldPid = tracked.process.pid;
    await tracked.process.sleep('evicted');
    const { lease, outcome } = await tracked.process.acquire();
    expect(outcome.action).to.equal('started');
    expect(tracked.process.state).to.equal('ready');
    expect(tracked.process.pid).to.be.a('number').and.not.equal(oldPid);
    expect(await complete(model)).to.equal(200);
    lease.release();
    expect(tracked.path().slice(-6)).to.deep.equal(['sleeping→asleep', 'asleep→waking', 'waking→stopping', 'stopping→stopped', 'stopped→starting', 'starting→ready']);
    expect(tracked.changes.find((change) => change.to === 'stopping' && change.from === 'waking')!.reason).to.include('wake failed').and.include('HTTP 500');
    expectLegalWalk(tracked.changes);
  });

  it('lets explicit sleepEndpoints/wakeEndpoints override the recipe (confirm and warm-up stay)', async function () {
    const { model, tracked } = await started([], {
      sleepEndpoints: [{ endpoint: '/sleep?level=1&mode=wait', method: 'POST', timeoutMs: 2000 }],
      wakeEndpoints: [{ endpoint: '/wake_up', method: 'POST', timeoutMs: 2000 }],
    });
    await tracked.process.sleep('evicted');
    await serveOne(tracked, model);
    expect(await callLines(model)).to.deep.equal([
      'POST /sleep?level=1&mode=wait',
      'GET /is_sleeping',
      'POST /wake_up',
      'GET /is_sleeping',
      WARMUP,
      'POST /v1/completions (generate)',
    ]);
  });

  it('walks the idle ladder on a fake clock: level 1, then level 2 (brief wake), then stop', async function () {
    const clock = new FakeClock();
    const model = await fakeModel('vllm', SLEEP_MODE, {
      idle: [
        { afterMs: 60_000, action: 'sleep', level: 1 },
        { afterMs: 120_000, action: 'sleep', level: 2 },
        { afterMs: 180_000, action: 'stop' },
      ],
    });
    const tracked = createProcess(model, vllmPlugin, { clock });
    await serveOne(tracked, model);
    await clearCalls(model);
    clock.advance(60_000);
    await waitForState(tracked, 'asleep');
    expect(await callLines(model)).to.deep.equal(['POST /sleep?level=1', 'GET /is_sleeping']);
    await clearCalls(model);
    clock.advance(60_000);
    await pollUntil(() => tracked.process.asleepLevel === 2, { what: 'level 2' });
    // vLLM cannot deepen a sleep in place: siesta wakes it (with warm-up) and sleeps it at level 2.
    expect(await callLines(model)).to.deep.equal(['POST /wake_up', 'GET /is_sleeping', WARMUP, 'POST /sleep?level=2', 'GET /is_sleeping']);
    clock.advance(60_000 - 1);
    expect(tracked.process.state).to.equal('asleep');
    clock.advance(1);
    await waitForState(tracked, 'stopped');
    expect(tracked.changes.at(-1)!.reason).to.equal('idle 180s');
    expect(clock.pending).to.equal(0);
  });
});

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

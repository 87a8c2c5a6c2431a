import { expect } from 'chai';
import { llamaServerPlugin } from '../../../plugins/llama-server.js';
import { pollUntil } from '../../helpers/wait.js';
import { callLines, cleanUp, clearCalls, complete, createProcess, fakeModel, serveOne } from './harness.js';

describe('llama-server plugin with a real fake upstream', function () {
  afterEach(cleanUp);

  it('cold-starts through 503 "Loading model" with starting → ready events', async function () {
    const model = await fakeModel('llama-server', ['--start-delay', '150ms']);
    const tracked = createProcess(model, llamaServerPlugin);
    const { lease, outcome } = await tracked.process.acquire();
    expect(outcome.action).to.equal('started');
    expect(outcome.ms).to.be.at.least(150);
    expect(tracked.path()).to.deep.equal(['stopped→starting', 'starting→ready']);
    expect(await complete(model)).to.equal(200);
    lease.release();
  });

  it('is stopped on eviction (no HTTP sleep), without calling any lifecycle endpoint', async function () {
    const model = await fakeModel('llama-server');
    const tracked = createProcess(model, llamaServerPlugin);
    await serveOne(tracked, model);
    await clearCalls(model);
    expect(tracked.process.canSleep()).to.equal(false);
    expect(await tracked.process.sleep('evicted', 2)).to.equal('stopped');
    expect(tracked.path().slice(-2)).to.deep.equal(['ready→stopping', 'stopping→stopped']);
    expect(tracked.changes.at(-1)!.reason).to.equal('evicted (cannot sleep)');
    expect(tracked.process.pid).to.equal(null);
  });

  it('reports its own --sleep-idle-seconds sleep through refreshSelfSleep()', async function () {
    const model = await fakeModel('llama-server', ['--sleep-idle-seconds', '0.3']);
    const tracked = createProcess(model, llamaServerPlugin);
    const reports: boolean[] = [];
    tracked.process.on('self-sleep', ({ asleep }) => reports.push(asleep));
    await serveOne(tracked, model);
    expect(await tracked.process.refreshSelfSleep()).to.equal(false);
    await pollUntil(() => tracked.process.refreshSelfSleep(), { timeoutMs: 5000, intervalMs: 50, what: 'the server to sleep by itself' });
    // siesta's own state does not change: the server sleeps and wakes by itself.
    expect(tracked.process.state).to.equal('ready');
    // The next request reloads it inside the process; no wake is sent.
    await serveOne(tracked, model);
    expect(await tracked.process.refreshSelfSleep()).to.equal(false);
    expect(reports).to.deep.equal([false, true, false]);
    const lines = await callLines(model);
    expect(lines.filter((line) => line !== 'GET /props')).to.deep.equal(['POST /v1/completions (generate)', 'POST /v1/completions (generate)']);
  });
});

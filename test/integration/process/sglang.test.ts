import { expect } from 'chai';
import { sglangPlugin } from '../../../plugins/sglang.js';
import { callLines, cleanUp, clearCalls, complete, createProcess, fakeModel, serveOne } from './harness.js';

describe('sglang plugin with a real fake upstream', function () {
  afterEach(cleanUp);

  it('cold-starts through 503 with starting → ready events', async function () {
    const model = await fakeModel('sglang', ['--enable-memory-saver', '--start-delay', '100ms']);
    const tracked = createProcess(model, sglangPlugin);
    const { lease, outcome } = await tracked.process.acquire();
    expect(outcome.action).to.equal('started');
    expect(tracked.path()).to.deep.equal(['stopped→starting', 'starting→ready']);
    expect(await complete(model)).to.equal(200);
    lease.release();
  });

  it('sleeps with release_memory_occupation and wakes with resume_memory_occupation', async function () {
    const model = await fakeModel('sglang', ['--enable-memory-saver', '--wake-delay', '50ms']);
    const tracked = createProcess(model, sglangPlugin);
    await serveOne(tracked, model);
    await clearCalls(model);
    expect(await tracked.process.sleep('evicted')).to.equal('asleep');
    const state = (await (await fetch(`${model.proxy}/__state`)).json()) as { asleep: boolean };
    expect(state.asleep).to.equal(true);
    const { lease, outcome } = await tracked.process.acquire();
    expect(outcome.action).to.equal('woke');
    expect(await complete(model)).to.equal(200);
    lease.release();
    // No confirm probe and no warm-up: SGLang cannot tell, and needs none.
    expect(await callLines(model)).to.deep.equal([
      'POST /release_memory_occupation {}',
      'POST /resume_memory_occupation {}',
      'POST /v1/completions (generate)',
    ]);
    expect(tracked.path().slice(2)).to.deep.equal(['ready→sleeping', 'sleeping→asleep', 'asleep→waking', 'waking→ready']);
  });

  it('stops when the release fails (--fail-sleep)', async function () {
    const model = await fakeModel('sglang', ['--enable-memory-saver', '--fail-sleep']);
    const tracked = createProcess(model, sglangPlugin);
    await serveOne(tracked, model);
    expect(await tracked.process.sleep('evicted')).to.equal('stopped');
    expect(tracked.changes.at(-1)!.reason).to.equal('sleep failed: sleep step POST /release_memory_occupation answered HTTP 500');
  });
});

import { expect } from 'chai';
import { genericPlugin } from '../../../plugins/generic.js';
import { callLines, cleanUp, clearCalls, complete, createProcess, fakeModel, serveOne } from './harness.js';

describe('generic plugin with a real fake upstream', function () {
  afterEach(cleanUp);

  it('cold-starts with starting → ready events', async function () {
    const model = await fakeModel('generic', ['--start-delay', '100ms']);
    const tracked = createProcess(model, genericPlugin);
    const { lease, outcome } = await tracked.process.acquire();
    expect(outcome.action).to.equal('started');
    expect(tracked.path()).to.deep.equal(['stopped→starting', 'starting→ready']);
    expect(await complete(model)).to.equal(200);
    lease.release();
  });

  it('is stopped on eviction when the model has no sleep endpoints', async function () {
    const model = await fakeModel('generic');
    const tracked = createProcess(model, genericPlugin);
    await serveOne(tracked, model);
    await clearCalls(model);
    expect(await tracked.process.sleep('evicted')).to.equal('stopped');
    expect(tracked.path().slice(-2)).to.deep.equal(['ready→stopping', 'stopping→stopped']);
  });

  it("sleeps and wakes with the model's sleepEndpoints/wakeEndpoints, in order, with their methods and bodies", async function () {
    const model = await fakeModel('generic', [], {
      sleepEndpoints: [{ endpoint: '/sleep?level=1', method: 'POST', body: '{"why":"evicted"}', timeoutMs: 2000 }],
      wakeEndpoints: [
        { endpoint: '/wake_up?tags=weights', method: 'POST', timeoutMs: 2000 },
        { endpoint: '/wake_up?tags=kv_cache', method: 'POST', timeoutMs: 2000 },
      ],
    });
    const tracked = createProcess(model, genericPlugin);
    await serveOne(tracked, model);
    await clearCalls(model);
    expect(await tracked.process.sleep('evicted')).to.equal('asleep');
    await serveOne(tracked, model);
    expect(await callLines(model)).to.deep.equal([
      'POST /sleep?level=1 {"why":"evicted"}',
      'POST /wake_up?tags=weights',
      'POST /wake_up?tags=kv_cache',
      'POST /v1/completions (generate)',
    ]);
  });
});

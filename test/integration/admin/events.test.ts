/** `/api/events`: the snapshot, state changes of a real child process, log lines, heartbeats, the buffer bound. */
import { expect } from 'chai';
import type { ModelView } from '../../../lib/gateway/model-view.js';
import { pollUntil } from '../../helpers/wait.js';
import { cleanup, configYaml, openSse, serve, statePath, threeModels, type SseEvent } from './support.js';

const isSnapshot = (event: SseEvent): boolean => event.event === 'snapshot';

describe('admin: GET /api/events', function () {
  afterEach(cleanup);

  it('starts with a snapshot of every model, then shows starting → ready → sleeping → asleep → waking → ready', async function () {
    const { url } = await serve(await configYaml(threeModels()));
    const client = await openSse(`${url}/api/events`);
    expect(client.response.statusCode).to.equal(200);
    expect(client.response.headers['content-type']).to.match(/^text\/event-stream/);
    const snapshot = await client.waitFor(isSnapshot, 'snapshot');
    expect(client.events[0]).to.equal(snapshot);
    const models = (snapshot.data as { models: ModelView[] }).models;
    expect(models.map((model) => [model.id, model.state])).to.have.deep.members([
      ['qwen-small', 'stopped'],
      ['qwen-large', 'stopped'],
      ['tiny-echo', 'stopped'],
    ]);

    const post = async (path: string): Promise<Response> => fetch(`${url}/api/models/${path}`, { method: 'POST' });
    expect((await post('qwen-small/load')).status).to.equal(200);
    expect((await post('qwen-small/sleep')).status).to.equal(200);
    // Wake by a request, as a client would.
    const completion = await fetch(`${url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'qwen-small', messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(completion.status, await completion.clone().text()).to.equal(200);
    await completion.text();

    const expected = ['stopped→starting', 'starting→ready', 'ready→sleeping', 'sleeping→asleep', 'asleep→waking', 'waking→ready'];
    await pollUntil(() => statePath(client.events, 'qwen-small').length >= expected.length, { what: 'six state events' });
    expect(statePath(client.events, 'qwen-small')).to.deep.equal(expected);

    const states = client.events.filter((event) => event.event === 'state').map((event) => event.data as { change: { to: string; durationMs: number; reason: string }; model: ModelView });
    // Each event carries the model's view after the change.
    expect(states.map((event) => event.model.state)).to.deep.equal(states.map((event) => event.change.to));
    const asleep = states.find((event) => event.change.to === 'asleep')!;
    expect(asleep.model.asleepLevel).to.equal(1);
    expect(asleep.model.actions).to.deep.equal({ load: false, sleep: false, wake: true, unload: true });
    expect(asleep.change.reason).to.equal('api (level 1)');
    for (const event of states) expect(event.change.durationMs).to.be.at.least(0);

    // The model's own output and the gateway's lines arrive as log events.
    await client.waitFor((event) => event.event === 'log' && (event.data as { model: string | null }).model === 'qwen-small', 'a model log line');
    client.close();
  });

  it('sends log lines of the gateway and the models, heartbeats, and model updates when in-flight counts change', async function () {
    const { url, gateway } = await serve(await configYaml(threeModels()), { events: { heartbeatMs: 50, refreshMs: 20 } });
    const client = await openSse(`${url}/api/events`);
    await client.waitFor(isSnapshot, 'snapshot');
    gateway.log.warn('something to see', { model: 'tiny-echo' });
    const line = await client.waitFor((event) => event.event === 'log' && (event.data as { text: string }).text.includes('something to see'), 'gateway log line');
    expect(line.data).to.include({ model: null, source: 'gateway' });
    await pollUntil(() => client.comments.includes('heartbeat'), { what: 'a heartbeat comment' });

    await fetch(`${url}/api/models/echo/load`, { method: 'POST' });
    const lease = await gateway.manager.process('tiny-echo').acquire();
    await client.waitFor((event) => event.event === 'model' && (event.data as ModelView).id === 'tiny-echo' && (event.data as ModelView).inFlight === 1, 'inFlight 1');
    lease.lease.release();
    await client.waitFor((event) => event.event === 'model' && (event.data as ModelView).id === 'tiny-echo' && (event.data as ModelView).inFlight === 0, 'inFlight 0');
    client.close();
  });

  it('drops a client that stops reading once its buffer passes the bound, without holding more than the bound', async function () {
    const maxBufferedBytes = 64 * 1024;
    const { url, gateway } = await serve(await configYaml(threeModels()), { events: { maxBufferedBytes } });
    const slow = await openSse(`${url}/api/events`);
    const healthy = await openSse(`${url}/api/events`);
    await slow.waitFor(isSnapshot, 'snapshot (slow client)');
    await healthy.waitFor(isSnapshot, 'snapshot (healthy client)');
    expect(gateway.feed.stats().open).to.equal(2);
    // Stop reading: the kernel buffers fill, then Node's, then the bound trips.
    slow.response.pause();
    slow.request.socket?.pause();

    const ring = gateway.manager.process('qwen-small').logs;
    const text = 'x'.repeat(1000);
    let written = 0;
    // Up to 64 MiB, in small batches that let the event loop flush the healthy client's socket in
    // between (a burst larger than the bound within one tick would trip any client).
    await pollUntil(
      async () => {
        for (let i = 0; i < 16; i++) ring.push('stdout', text);
        written += 16 * text.length;
        await new Promise((resolve) => setImmediate(resolve));
        return gateway.feed.stats().dropped >= 1 || written > 64 * 1024 * 1024;
      },
      { what: 'the slow client to be dropped', timeoutMs: 20_000, intervalMs: 1 },
    );
    const stats = gateway.feed.stats();
    expect(stats.dropped, `dropped after ${written} bytes of log`).to.equal(1);
    expect(stats.open).to.equal(1);
    expect(stats.peakBufferedBytes).to.be.at.most(maxBufferedBytes);
    // Read again: the client drains what the kernel held and sees the stream cut.
    slow.request.socket?.resume();
    slow.response.resume();
    await slow.ended;
    expect(slow.response.complete, 'the stream was cut, not ended').to.equal(false);

    // The reading client got everything and is still connected.
    ring.push('stdout', 'after the drop');
    await healthy.waitFor((event) => event.event === 'log' && (event.data as { text: string }).text === 'after the drop', 'the healthy client to keep receiving');
    healthy.close();
    await pollUntil(() => gateway.feed.stats().open === 0, { what: 'the healthy client to be untracked' });
  });

  it('sends a fresh snapshot after a config reload, and ends every stream when the gateway closes', async function () {
    const models = threeModels();
    const served = await serve(await configYaml(models));
    const client = await openSse(`${served.url}/api/events`);
    await client.waitFor(isSnapshot, 'snapshot');
    const { 'qwen-large': _dropped, ...fewer } = models;
    await served.gateway.reload({ configText: await configYaml(fewer) });
    const second = await pollUntil(() => client.events.filter(isSnapshot)[1], { what: 'a second snapshot' });
    expect((second.data as { models: ModelView[] }).models.map((model) => model.id)).to.have.members(['qwen-small', 'tiny-echo']);
    await served.gateway.close();
    await client.ended;
    expect(served.gateway.feed.stats().open).to.equal(0);
  });
});

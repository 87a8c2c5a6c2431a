import { expect } from 'chai';
import { startFake, stopAllFakes, type FakeHandle } from '../../helpers/fake-upstream.js';
import { pollUntil } from '../../helpers/wait.js';
import { assertNoFakeChildren, chat, request, track } from './support.js';

describe('fake upstream --backend sglang --enable-memory-saver (one process)', function () {
  let fake: FakeHandle;
  before(async function () {
    fake = await startFake({
      backend: 'sglang',
      args: ['--enable-memory-saver', '--start-delay', '60s', '--sleep-delay', '50ms', '--wake-delay', '50ms', '--tokens', '3', '--token-interval', '100ms'],
      waitReady: false,
    });
    await fake.waitForStdout(/listening on/);
  });
  after(async function () {
    await stopAllFakes();
    await assertNoFakeChildren();
  });

  it('(loading) answers /health 503 until ready, then 200', async function () {
    expect((await request(`${fake.url}/health`)).status).to.equal(503);
    fake.finishLoading();
    await fake.ready();
    expect((await request(`${fake.url}/health`)).status).to.equal(200);
  });

  describe('once loaded', function () {
    before(async function () {
      fake.finishLoading();
      await fake.ready();
    });

    it('releases memory, holds generation requests while released, answers them after resume', async function () {
      expect((await request(`${fake.url}/release_memory_occupation`, 'POST', {})).status).to.equal(200);
      expect(await fake.state()).to.include({ asleep: true });
      const pending = track(chat(fake.url));
      await pollUntil(async () => (await fake.state()).inFlight === 1, { what: 'the request to arrive' });
      expect((await request(`${fake.url}/health`)).status).to.equal(200);
      expect(pending.settled()).to.equal(false);
      expect((await request(`${fake.url}/resume_memory_occupation`, 'POST', {})).status).to.equal(200);
      expect((await pending.promise).status).to.equal(200);
      expect(await fake.state()).to.include({ asleep: false, inFlight: 0 });
    });

    it('refuses to release while a generation is in flight (400)', async function () {
            const pending = track(chat(fake.url, { stream: true }));
      await pollUntil(async () => (await fake.state()).inFlight === 1, { what: 'the request to arrive' });
      const refused = await request(`${fake.url}/release_memory_occupation`, 'POST', {});
      expect(refused.status).to.equal(400);
      expect((await pending.promise).status).to.equal(200);
      expect(await fake.state()).to.include({ asleep: false });
    });
  });
});

describe('fake upstream --backend sglang without --enable-memory-saver', function () {
  after(async function () {
    await stopAllFakes();
    await assertNoFakeChildren();
  });

  it('has no release/resume endpoints (404)', async function () {
    const fake = await startFake({ backend: 'sglang' });
    expect((await request(`${fake.url}/release_memory_occupation`, 'POST', {})).status).to.equal(404);
    expect((await request(`${fake.url}/resume_memory_occupation`, 'POST', {})).status).to.equal(404);
    expect((await chat(fake.url)).status).to.equal(200);
  });
});

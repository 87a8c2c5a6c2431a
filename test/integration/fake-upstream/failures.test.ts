import { expect } from 'chai';
import { startFake, stopAllFakes, type FakeHandle } from '../../helpers/fake-upstream.js';
import { isAlive } from '../../helpers/wait.js';
import { assertNoFakeChildren, chat, readUntilEnd, request, sseChunks } from './support.js';

const DEV = { VLLM_SERVER_DEV_MODE: '1' };

describe('fake upstream failure switches (processes started together)', function () {
  let failSleep: FakeHandle;
  let failWake: FakeHandle;
  let exitAfter: FakeHandle;
  let crash: FakeHandle;
  let stubborn: FakeHandle;
  let failStartVllm: FakeHandle;
  let failStartLlama: FakeHandle;
  let badOption: FakeHandle;

  before(async function () {
    [failSleep, failWake, exitAfter, crash, stubborn, failStartVllm, failStartLlama, badOption] = await Promise.all([
      startFake({ backend: 'vllm', args: ['--enable-sleep-mode', '--fail-sleep'], env: DEV }),
      startFake({ backend: 'vllm', args: ['--enable-sleep-mode', '--fail-wake'], env: DEV }),
      startFake({ args: ['--exit-after', '2'] }),
      startFake({ args: ['--crash-mid-stream', '--tokens', '5'] }),
      startFake({ args: ['--ignore-sigterm'] }),
      startFake({ backend: 'vllm', model: 'big', args: ['--fail-start', '--start-delay', '60s'], waitReady: false }),
      startFake({ backend: 'llama-server', model: 'big', args: ['--fail-start', '--start-delay', '60s'], waitReady: false }),
      startFake({ args: ['--no-such-flag'], waitReady: false }),
    ]);
  });
  after(async function () {
    await stopAllFakes();
    await assertNoFakeChildren();
  });

  it('--fail-sleep: /sleep answers 500 and the model stays awake', async function () {
    const reply = await request(`${failSleep.url}/sleep?level=1`, 'POST');
    expect(reply.status).to.equal(500);
    expect(reply.json.error.message).to.match(/fail-sleep/);
    expect((await request(`${failSleep.url}/is_sleeping`)).json).to.deep.equal({ is_sleeping: false });
    expect((await chat(failSleep.url)).status).to.equal(200);
  });

  it('--fail-wake: /wake_up answers 500 and the model stays asleep', async function () {
    expect((await request(`${failWake.url}/sleep?level=1`, 'POST')).status).to.equal(200);
    expect((await request(`${failWake.url}/wake_up`, 'POST')).status).to.equal(500);
    expect((await request(`${failWake.url}/is_sleeping`)).json).to.deep.equal({ is_sleeping: true });
    const calls = await failWake.calls();
    expect(calls.map((call) => `${call.path} ${call.status}`)).to.deep.equal(['/sleep 200', '/wake_up 500', '/is_sleeping 200']);
  });

  it('--fail-start: exits 1 after the start delay with the reason on stderr', async function () {
    await failStartVllm.waitForStdout(/loading model big/);
    await failStartLlama.waitForStdout(/listening on/);
    const loading = await request(`${failStartLlama.url}/health`);
    expect(loading.status).to.equal(503);
    failStartVllm.finishLoading();
    failStartLlama.finishLoading();
    for (const fake of [failStartVllm, failStartLlama]) {
      expect(await fake.exited).to.deep.equal({ code: 1, signal: null });
      expect(fake.stderr()).to.match(/error: failed to load model 'big': out of memory/);
      expect(fake.stdout()).to.not.match(/ready on/);
    }
  });

  it('--exit-after 2: answers two generation requests, then exits', async function () {
    expect((await chat(exitAfter.url)).status).to.equal(200);
    expect((await request(`${exitAfter.url}/v1/completions`, 'POST', { model: 'm', prompt: 'x', stream: true })).status).to.equal(200);
    const exit = await exitAfter.exited;
    expect(exit.code).to.equal(1);
    expect(exitAfter.stderr()).to.match(/exiting after 2 generation requests/);
  });

  it('--crash-mid-stream: the stream breaks after the second chunk and the process exits', async function () {
    expect((await chat(crash.url)).json.choices[0].message.content).to.equal('tok0 tok1 tok2 tok3 tok4');
    const response = await fetch(`${crash.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'm', messages: [], stream: true }),
    });
    expect(response.status).to.equal(200);
    const { text, broken } = await readUntilEnd(response);
    const { chunks, done } = sseChunks(text);
    expect(chunks.map((chunk) => chunk.choices[0]?.delta?.content)).to.deep.equal(['tok0', ' tok1']);
    expect(done).to.equal(false);
    expect(broken).to.equal(true);
    expect((await crash.exited).code).to.equal(1);
  });

  it('--ignore-sigterm: keeps running on SIGTERM; SIGKILL ends it', async function () {
    stubborn.child.kill('SIGTERM');
    await stubborn.waitForStdout(/received SIGTERM, ignoring it/);
    expect((await request(`${stubborn.url}/health`)).status).to.equal(200);
    expect(isAlive(stubborn.pid)).to.equal(true);
    const exit = await stubborn.stop(200);
    expect(exit).to.deep.equal({ code: null, signal: 'SIGKILL' });
  });

  it('rejects an unknown option with exit code 2 and the usage', async function () {
    expect((await badOption.exited).code).to.equal(2);
    expect(badOption.stderr()).to.match(/unknown option '--no-such-flag'/);
    expect(badOption.stderr()).to.match(/usage: fake-upstream/);
  });
});

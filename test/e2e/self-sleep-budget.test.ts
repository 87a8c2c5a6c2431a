/**
 * Budgets and llama-server's own `--sleep-idle-seconds`: while the server reports `is_sleeping`,
 * its VRAM counts as free (scheduler rule 9), so a second model that would not fit beside it awake
 * loads without evicting it.
 */
import { expect } from 'chai';
import request from 'supertest';
import { assertNoChildren, pollUntil } from '../helpers/wait.js';
import { fakeCommand } from '../helpers/fake-upstream.js';
import { chat, cleanup, configYaml, genericCmd, openGateway } from './support.js';

function llamaCmd(model: string): string {
  return fakeCommand(['--port', '${PORT}', '--backend', 'llama-server', '--model', model, '--start-delay', '50ms', '--sleep-idle-seconds', '0.3']);
}

describe('e2e: a self-asleep llama-server frees its VRAM in the budgets', function () {
  afterEach(async function () {
    await cleanup();
    await assertNoChildren();
  });

  it('a second model that would not fit beside it awake loads without evicting it', async function () {
    const { gateway, app } = await openGateway(
      await configYaml(
        {
          a: { cmd: llamaCmd('a'), backend: 'llama-server', resources: { vram: '10GiB' } },
          b: { cmd: genericCmd('b'), resources: { vram: '10GiB' } },
        },
        { resources: { vram: '16GiB' } },
      ),
    );
    await request(app).post('/v1/chat/completions').send(chat('a')).expect(200);
    const pidA = gateway.manager.process('a').pid;
    await pollUntil(() => gateway.manager.process('a').refreshSelfSleep(), { timeoutMs: 5000, intervalMs: 50, what: 'a to sleep by itself' });
    expect(gateway.manager.snapshot().usage).to.deep.equal({ vram: 0, ram: 0 });

    await request(app).post('/v1/chat/completions').send(chat('b')).expect(200);
    expect(gateway.manager.state('a'), 'a was not evicted').to.equal('ready');
    expect(gateway.manager.process('a').pid).to.equal(pidA);
    expect(gateway.manager.state('b')).to.equal('ready');
  });
});

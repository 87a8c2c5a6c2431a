/**
 * gateway.reload(): a changed model restarts on the same port, so its new process must wait for the
 * old one to stop, even when a request for it arrives during the reload and the old one is slow to go.
 */
import { expect } from 'chai';
import request from 'supertest';
import { parse, stringify } from 'yaml';
import { assertNoChildren, isAlive, pollUntil } from '../helpers/wait.js';
import { chat, cleanup, configYaml, genericCmd, openGateway } from './support.js';

describe('e2e: config reload restarts a changed model on its port', function () {
  afterEach(async function () {
    await cleanup();
    await assertNoChildren();
  });

  it('a request during the reload waits for the old process to stop, then reaches the new one', async function () {
    // y ignores SIGTERM, so its old process holds the port for the whole unloadTimeout (1 s).
    const before = await configYaml({
      x: { cmd: genericCmd('x') },
      y: { cmd: genericCmd('y', ['--tokens', '4', '--ignore-sigterm']), unloadTimeout: 1 },
    }, { groups: { both: { swap: false, members: ['x', 'y'] } } });
    const changed = parse(before) as { models: { y: { cmd: string } } };
    changed.models.y.cmd = genericCmd('y', ['--tokens', '2', '--ignore-sigterm']);
    const { gateway, app } = await openGateway(before);

    const first = await request(app).post('/v1/chat/completions').send(chat('y')).expect(200);
    expect(first.body.usage.completion_tokens).to.equal(4);
    const oldPid = gateway.manager.process('y').pid!;

    const reloading = gateway.reload({ configText: stringify(changed) });
    // Once the new configuration serves, the old y is still stopping (it ignores SIGTERM for 1 s).
    await pollUntil(() => gateway.config.models.y!.cmd.includes('2'), { intervalMs: 1, what: 'the new configuration to serve' });
    expect(isAlive(oldPid), 'the old y is still stopping').to.equal(true);
    const during = await request(app).post('/v1/chat/completions').send(chat('y'));
    expect(during.status, JSON.stringify(during.body)).to.equal(200);
    expect(during.body.usage.completion_tokens).to.equal(2);
    expect((await reloading).changed).to.deep.equal(['y']);
    expect(isAlive(oldPid)).to.equal(false);
    expect(gateway.manager.process('y').pid).to.not.equal(oldPid);
  });
});

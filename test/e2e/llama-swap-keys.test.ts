/**
 * llama-swap's keys that change what the gateway shows and says, end to end: `/v1/models` with
 * capabilities, peers and selectors; `upstream.ignorePaths` on /upstream with a real model server;
 * `logToStdout` and `logTimeFormat` on the output of the `siesta` command.
 */
import { once } from 'node:events';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { expect } from 'chai';
import request from 'supertest';
import { assertNoChildren, freePort } from '../helpers/wait.js';
import { killStarted, startCli, stopCli } from '../integration/cli/support.js';
import { chat, cleanup, configYaml, genericCmd, openGateway, tempDir, upstreamCalls } from './support.js';

describe('e2e: llama-swap keys', function () {
  afterEach(async function () {
    await killStarted();
    await cleanup();
    await assertNoChildren();
  });

  it('GET /v1/models: capabilities, meta.llamaswap, status, peer models and listed selectors, sorted', async function () {
    const h = await openGateway(
      await configYaml(
        {
          m1: {
            cmd: genericCmd('m1'),
            name: 'Model one',
            aliases: ['m1-alias'],
            metadata: { family: 'fake', architecture: 'dropped: capabilities are configured' },
            capabilities: { in: ['text', 'image'], out: ['text'], tools: true, context: 8192 },
          },
        },
        {
          includeAliasesInList: true,
          peers: { lan: { proxy: 'http://127.0.0.1:9', models: ['big-remote'] } },
          selectors: {
            chat: { strategy: 'warm', targets: ['m1-alias'], name: 'Chat', metadata: { tier: 1 } },
            remote: { strategy: 'pin', targets: ['lan/big-remote', 'm1'], description: 'the LAN box first' },
            hidden: { strategy: 'pin', targets: ['m1'], unlisted: true },
          },
        },
      ),
    );
    const listed = await request(h.app).get('/v1/models').set('origin', 'http://ui.example').expect(200);
    expect(listed.headers['access-control-allow-origin']).to.equal('http://ui.example');
    expect(listed.body.object).to.equal('list');
    const ids = (listed.body.data as { id: string }[]).map((record) => record.id);
    expect(ids).to.deep.equal(['chat', 'lan/big-remote', 'm1', 'm1-alias', 'remote']);
    const byId = new Map<string, Record<string, unknown>>((listed.body.data as Record<string, unknown>[]).map((record) => [record.id as string, record]));
    expect(byId.get('m1')).to.deep.include({
      object: 'model',
      owned_by: 'siesta',
      name: 'Model one',
      architecture: { input_modalities: ['text', 'image'], output_modalities: ['text'], modality: 'text+image->text' },
      capabilities: { vision: true, function_calling: true },
      supported_parameters: ['tools', 'tool_choice'],
      context_length: 8192,
      meta: { llamaswap: { family: 'fake', type: 'model', aliases: ['m1-alias'] }, n_ctx: 8192 },
      status: { value: 'unloaded' },
      state: 'stopped',
      backend: 'generic',
    });
    expect(byId.get('m1-alias')!.meta).to.deep.equal({ llamaswap: { family: 'fake', type: 'alias', modelID: 'm1' }, n_ctx: 8192 });
    expect(byId.get('lan/big-remote')).to.deep.include({ name: 'lan: big-remote', meta: { llamaswap: { type: 'peer', peerID: 'lan' } }, status: { value: 'unloaded' } });
    expect(byId.get('chat')).to.deep.include({ name: 'Chat', meta: { llamaswap: { tier: 1, type: 'selector', strategy: 'warm', targets: ['m1-alias'] } }, status: { value: 'unloaded' } });
    expect(byId.get('remote')).to.deep.include({ description: 'the LAN box first', meta: { llamaswap: { type: 'selector', strategy: 'pin', targets: ['lan/big-remote', 'm1'] } } });

    // Once m1 runs, it and the selector that can use it are loaded.
    await request(h.app).post('/v1/chat/completions').send(chat('m1')).expect(200);
    const after = new Map<string, Record<string, unknown>>(((await request(h.app).get('/models').expect(200)).body.data as Record<string, unknown>[]).map((record) => [record.id as string, record]));
    expect(after.get('m1')).to.deep.include({ status: { value: 'loaded' }, state: 'ready' });
    expect(after.get('chat')!.status).to.deep.equal({ value: 'loaded' });
    // pin looks at its first target only (the peer), as llama-swap.
    expect(after.get('remote')!.status).to.deep.equal({ value: 'unloaded' });
    expect(after.get('lan/big-remote')!.status).to.deep.equal({ value: 'unloaded' });
  });

  it('/upstream and upstream.ignorePaths (the default): an asset path never loads the model; once it runs, it is passed through', async function () {
    const h = await openGateway(await configYaml({ m1: { cmd: genericCmd('m1') } }));
    const refused = await request(h.app).get('/upstream/m1/static/app.js').expect(409);
    expect(refused.body.error).to.include({ code: 'invalid_state', message: 'model m1 is not loaded; path matches upstream.ignorePaths' });
    await request(h.app).get('/upstream/m1/favicon.ico').expect(409);
    expect(h.gateway.manager.state('m1')).to.equal('stopped');
    expect(h.gateway.manager.process('m1').pid).to.equal(null);

    // A path that matches nothing loads it; then the asset path reaches the model's server.
    await request(h.app).get('/upstream/m1/v1/models').expect(200);
    expect(h.gateway.manager.state('m1')).to.equal('ready');
    await request(h.app).get('/upstream/m1/static/app.js?v=2');
    const last = (await upstreamCalls(h.gateway, 'm1')).at(-1)!;
    expect(last).to.include({ method: 'GET', path: '/static/app.js', query: 'v=2' });
  });

  describe('logToStdout and logTimeFormat on the output of `siesta`', function () {
    const RFC3339_INFO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:Z|[+-]\d{2}:\d{2}) info {2}model state /m;
    const table = [
      { logToStdout: 'proxy', logTimeFormat: 'rfc3339', gateway: true, models: false },
      { logToStdout: 'upstream', logTimeFormat: 'rfc3339', gateway: false, models: true },
      { logToStdout: 'both', logTimeFormat: '', gateway: true, models: true },
      { logToStdout: 'none', logTimeFormat: 'kitchen', gateway: false, models: false },
    ] as const;
    for (const { logToStdout, logTimeFormat, gateway, models } of table) {
      it(`${logToStdout} (logTimeFormat "${logTimeFormat}"): gateway lines ${gateway ? 'shown' : 'not shown'}, model output ${models ? 'shown' : 'not shown'}; /logs keeps both`, async function () {
        const dir = await tempDir();
        const file = join(dir, 'config.yaml');
        await writeFile(file, await configYaml({ m1: { cmd: genericCmd('m1') } }, { logLevel: 'info', logToStdout, logTimeFormat }));
        const port = await freePort();
        const cli = startCli(['--config', file, '--listen', `127.0.0.1:${port}`]);
        let stderr = '';
        cli.child.stderr!.on('data', (chunk: string) => (stderr += chunk));
        await cli.waitFor('siesta: serving');
        const url = `http://127.0.0.1:${port}`;
        const response = await fetch(`${url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(chat('m1')) });
        expect(response.status).to.equal(200);
        const logs = await (await fetch(`${url}/logs`)).text();
        expect(logs).to.include('info  model state');
        expect(logs).to.include('fake-upstream: model m1 ready');
        const ended = cli.child.stderr!.readableEnded ? Promise.resolve() : once(cli.child.stderr!, 'end');
        expect(await stopCli(cli)).to.equal(0);
        await ended;

        expect(stderr.includes('fake-upstream: model m1 ready'), stderr).to.equal(models);
        expect(stderr.includes('info  model state'), stderr).to.equal(gateway);
        if (gateway && logTimeFormat === 'rfc3339') expect(stderr).to.match(RFC3339_INFO);
        if (gateway && logTimeFormat === '') expect(stderr).to.match(/^info {2}model state /m);
        // Model output arrives as the server printed it, not wrapped in a gateway line.
        if (models) expect(stderr).to.match(/^fake-upstream: model m1 ready/m);
      });
    }
  });
});

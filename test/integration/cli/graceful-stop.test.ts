/**
 * SIGTERM stops gracefully: /health answers 503 at once (a load balancer or Kubernetes stops
 * sending), new model requests get 503, a stream in flight finishes (up to shutdownTimeout), then
 * the models stop and siesta exits 0 with nothing left behind.
 */
import { once } from 'node:events';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { expect } from 'chai';
import { parse, stringify } from 'yaml';
import { assertNoChildren, freePort, isAlive, pollUntil } from '../../helpers/wait.js';
import { chat, cleanup, configYaml, genericCmd, tempDir } from '../../e2e/support.js';
import { descendants, killStarted, startCli } from './support.js';

describe('the siesta command on SIGTERM', function () {
  this.timeout(60_000);
  afterEach(async function () {
    await killStarted();
    await cleanup();
    await assertNoChildren();
  });

  it('drains: /health 503, new requests 503, the stream in flight completes, exit 0, no process left', async function () {
    const dir = await tempDir('siesta-stop-');
    const { models: _models, ...global } = parse(await configYaml({ x: {} }, { shutdownTimeout: '20s' })) as Record<string, unknown>;
    const config = join(dir, 'config.yaml');
    // 12 tokens, 150 ms apart: the stream lasts about 1.8 s after SIGTERM is sent.
    await writeFile(config, stringify({ ...global, models: { x: { cmd: genericCmd('x', ['--tokens', '12', '--token-interval', '150ms']) } } }));
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const cli = startCli(['-config', config, '-listen', `127.0.0.1:${port}`]);
    await cli.waitFor('siesta: serving 1 model');

    const streamed = await fetch(`${url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(chat('x', { stream: true })) });
    expect(streamed.status).to.equal(200);
    const reader = streamed.body!.getReader();
    const first = await reader.read(); // the stream has begun
    expect(first.done).to.equal(false);
    const below = descendants(cli.child.pid!);
    expect(below.length, 'the model server runs').to.be.greaterThan(0);

    const exited = once(cli.child, 'exit') as Promise<[number | null]>;
    cli.child.kill('SIGTERM');
    await pollUntil(async () => (await fetch(`${url}/health`)).status === 503, { what: '/health to answer 503 while stopping' });
    const refused = await fetch(`${url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(chat('x')) });
    expect(refused.status, 'a new request while stopping').to.equal(503);

    let text = new TextDecoder().decode(first.value);
    for (;;) {
      const chunk = await reader.read();
      if (chunk.done) break;
      text += new TextDecoder().decode(chunk.value);
    }
    expect(text, 'the stream in flight finished normally').to.include('data: [DONE]');
    expect(text).to.not.include('"error"');
    const [code] = await exited;
    expect(code).to.equal(0);
    await pollUntil(() => below.every((pid) => !isAlive(pid)), { what: 'every process siesta started to end' });
  });
});

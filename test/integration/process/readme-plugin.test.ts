/**
 * Issue 11, defect 12: a plugin's `defaults.checkEndpoint` was ignored (the config fell back to
 * `/health`), so the example plugin in plugins/README.md could not start its server, which answers
 * only `/ready`. This test loads the README's plugin as written, runs a stand-in napd server as a
 * real child process, and drives a cold start, a sleep and a wake through the gateway.
 */
import { mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import request from 'supertest';
import { chat, cleanup, configYaml, openGateway, tempDir } from '../../e2e/support.js';
import { assertNoServerChildren } from './harness.js';
import { pollUntil } from '../../helpers/wait.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** The made-up napd server of the README: `/ready` (503 twice, then 200), no `/health`, `/pause`, `/resume`, `/status`. */
const NAPD_SERVER = `
import { createServer } from 'node:http';
const port = Number(process.argv[process.argv.indexOf('--port') + 1]);
let paused = false;
let readyPolls = 0;
createServer((req, res) => {
  console.log('request ' + req.method + ' ' + req.url);
  req.resume();
  req.on('end', () => {
    const send = (status, body) => { res.writeHead(status, { 'content-type': 'application/json' }); res.end(JSON.stringify(body)); };
    const route = req.method + ' ' + req.url;
    if (route === 'GET /ready') return ++readyPolls > 2 ? send(200, { ready: true }) : send(503, { loading: true });
    if (route === 'GET /status') return send(200, { paused });
    if (route === 'POST /pause') { paused = true; return send(200, {}); }
    if (route === 'POST /resume') { paused = false; return send(200, {}); }
    if (req.method === 'POST' && req.url.startsWith('/v1/')) {
      return paused ? send(503, { error: 'paused' }) : send(200, { object: 'chat.completion', choices: [{ index: 0, message: { role: 'assistant', content: 'hi' } }] });
    }
    send(404, { error: 'not found' });
  });
}).listen(port, '127.0.0.1', () => console.log('napd listening on ' + port));
`;

/** The TypeScript block that follows "`plugins/napd.ts`:" in plugins/README.md. */
async function readmePlugin(): Promise<string> {
  const readme = await readFile(join(ROOT, 'plugins/README.md'), 'utf8');
  const match = /`plugins\/napd\.ts`:\s*```ts\n([\s\S]*?)```/.exec(readme);
  if (!match?.[1]) throw new Error('plugins/README.md has no napd.ts example block');
  return match[1];
}

describe("plugins/README.md's example plugin starts (issue 11: defaults.checkEndpoint)", function () {
  afterEach(async function () {
    await cleanup();
    await assertNoServerChildren();
  });

  it('polls the plugin\'s /ready (never /health), serves, sleeps with /pause and wakes with /resume', async function () {
    const dir = await tempDir('siesta-napd-');
    await mkdir(join(dir, 'plugins'));
    await writeFile(join(dir, 'plugins', 'napd.ts'), await readmePlugin());
    // The README: a run-time import (joi) must resolve from the plugin's location.
    await symlink(join(ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir');
    const server = join(dir, 'napd-server.mjs');
    await writeFile(server, NAPD_SERVER);
    const yaml = await configYaml(
      { 'qwen-napd': { backend: 'napd', cmd: `${process.execPath} ${server} --port \${PORT} --gpu 0 /models/qwen.gguf`, sleep: { level: 1 }, options: { keepContext: false } } },
      { pluginDir: join(dir, 'plugins'), logToStdout: 'none' },
    );
    const { app, gateway } = await openGateway(yaml);
    expect(gateway.config.models['qwen-napd']!.checkEndpoint, 'the config leaves it to the plugin').to.equal(undefined);

    const first = await request(app).post('/v1/chat/completions').send(chat('qwen-napd'));
    expect(first.status, JSON.stringify(first.body)).to.equal(200);
    const slept = await request(app).post('/api/models/qwen-napd/sleep');
    expect(slept.status, JSON.stringify(slept.body)).to.equal(200);
    const second = await request(app).post('/v1/chat/completions').send(chat('qwen-napd'));
    expect(second.status, JSON.stringify(second.body)).to.equal(200);

    const owner = gateway.manager.process('qwen-napd');
    expect(owner.checkEndpoint).to.equal('/ready');
    // A ready server's output is read every OUTPUT_READ_INTERVAL_MS (pipe-pacer.ts): wait for the last request's line.
    const logged = (): string[] => owner.logs.lines().map((line) => line.text).filter((text) => text.startsWith('request ')).map((text) => text.slice('request '.length));
    const requests = await pollUntil(() => (logged().filter((line) => line === 'POST /v1/chat/completions').length >= 2 ? logged() : null), { timeoutMs: 2000, what: 'the second chat request in the log' });
    expect(requests.filter((line) => line === 'GET /ready')).to.have.length(3);
    expect(requests).to.not.include('GET /health');
    expect(requests.filter((line) => line !== 'GET /ready')).to.deep.equal([
      'POST /v1/chat/completions',
      'POST /pause',
      'GET /status',
      'POST /resume',
      'GET /status',
      'POST /v1/completions',
      'POST /v1/chat/completions',
    ]);
  });
});

/**
 * A model server behind `https://` (the config accepts both schemes): the `siesta` command probes it
 * and proxies to it over TLS, trusting its certificate through NODE_EXTRA_CA_CERTS, and stops it
 * on SIGTERM.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { expect } from 'chai';
import { freePort, isAlive, pollUntil } from '../helpers/wait.js';
import { cleanup, configYaml, tempDir } from './support.js';

const ROOT = join(import.meta.dirname, '../..');
const FIXTURE = join(ROOT, 'test/fixtures/tls/https-upstream.mjs');

describe('e2e: an https model server', function () {
  let cli: ChildProcess | undefined;
  afterEach(async function () {
    if (cli && cli.exitCode === null) {
      cli.kill('SIGKILL');
      await once(cli, 'exit');
    }
    await cleanup();
  });

  it('is probed and proxied over TLS, and stopped with the gateway', async function () {
    const dir = await tempDir();
    const config = join(dir, 'siesta.yaml');
    await writeFile(config, await configYaml({ tls: { cmd: `${process.execPath} ${FIXTURE} \${PORT}`, proxy: 'https://127.0.0.1:${PORT}' } }));
    const port = await freePort();
    cli = spawn(process.execPath, [join(ROOT, 'bin/siesta.js'), '--config', config, '--listen', `127.0.0.1:${port}`], {
      cwd: ROOT,
      env: { ...process.env, NODE_OPTIONS: '', NODE_EXTRA_CA_CERTS: join(ROOT, 'test/fixtures/tls/localhost-cert.pem') },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    cli.stdout!.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    cli.stderr!.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    await pollUntil(() => output.includes('siesta: serving'), { timeoutMs: 20_000, what: `the gateway to serve; output:\n${output}` });

    const response = await fetch(`http://127.0.0.1:${port}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'tls', messages: [{ role: 'user', content: 'hi' }] }),
    });
    const body = (await response.json()) as { model: string; tls: string; choices: { message: { content: string } }[] };
    expect(response.status, JSON.stringify(body)).to.equal(200);
    expect(body).to.include({ model: 'tls' });
    expect(body.tls).to.match(/^TLSv1\.[23]$/);
    expect(body.choices[0]!.message.content).to.equal('over TLS');

    const running = (await (await fetch(`http://127.0.0.1:${port}/running`)).json()) as { running: { model: string; pid: number }[] };
    const pid = running.running.find((entry) => entry.model === 'tls')?.pid;
    expect(pid, JSON.stringify(running)).to.be.a('number');
    cli.kill('SIGTERM');
    await once(cli, 'exit');
    await pollUntil(() => !isAlive(pid!), { timeoutMs: 5000, what: 'the https model server to be stopped' });
  });
});

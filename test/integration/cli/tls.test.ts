/**
 * `-tls-cert-file` + `-tls-key-file`: siesta answers over HTTPS with the fixture certificate
 * (localhost / 127.0.0.1), trusted here through `ca:`; plain HTTP on the same port gets no answer.
 */
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { expect } from 'chai';
import { serve } from '../../../lib/cli/serve.js';
import { assertNoChildren, freePort } from '../../helpers/wait.js';
import { cleanup, configYaml, genericCmd, memoryLogger, tempDir, track } from '../../e2e/support.js';
import { CERT_FILE, KEY_FILE, killStarted, startCli, stopCli } from './support.js';

const CA = readFileSync(CERT_FILE);

/** One HTTPS request trusting only the fixture certificate. */
function httpsRequest(url: string, body?: unknown): Promise<{ status: number; text: string; protocol: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: body === undefined ? 'GET' : 'POST', ca: CA, headers: body === undefined ? {} : { 'content-type': 'application/json' } }, (res) => {
      let text = '';
      const protocol = (res.socket as TLSSocket).getProtocol() ?? '';
      res.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text, protocol }));
    });
    req.on('error', reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

async function configFile(): Promise<string> {
  const file = join(await tempDir('siesta-tls-'), 'config.yaml');
  await writeFile(file, await configYaml({ small: { cmd: genericCmd('small', ['--tokens', '2']) } }));
  return file;
}

describe('the siesta command over HTTPS (-tls-cert-file, -tls-key-file)', function () {
  this.timeout(60_000);
  afterEach(async function () {
    await killStarted();
    await cleanup();
    await assertNoChildren();
  });

  it('serves the gateway and a model over TLS with the given certificate', async function () {
    const port = await freePort();
    const cli = startCli(['-config', await configFile(), '-listen', `localhost:${port}`, '-tls-cert-file', CERT_FILE, '-tls-key-file', KEY_FILE]);
    await cli.waitFor('siesta: serving');
    expect(cli.output()).to.include(`https://localhost:${port}`);

    const health = await httpsRequest(`https://localhost:${port}/health`);
    expect(health).to.include({ status: 200, text: 'OK' });
    expect(health.protocol).to.match(/^TLSv1\.[23]$/);
    const chat = await httpsRequest(`https://127.0.0.1:${port}/v1/chat/completions`, { model: 'small', messages: [{ role: 'user', content: 'hi' }] });
    expect(chat.status, chat.text).to.equal(200);
    expect((JSON.parse(chat.text) as { usage: { completion_tokens: number } }).usage.completion_tokens).to.equal(2);

    // Not plain HTTP: the TLS server does not answer an HTTP request with an HTTP response.
    const plain = await fetch(`http://127.0.0.1:${port}/health`).then(
      (response) => response.status,
      () => 'refused',
    );
    expect(plain).to.not.equal(200);
    expect(await stopCli(cli)).to.equal(0);
  });

  it('an untrusting client is refused (the certificate really is the fixture one)', async function () {
    const serving = track(await serve({ configPath: await configFile(), listen: '127.0.0.1:0', tls: { cert: CA, key: readFileSync(KEY_FILE) }, logger: memoryLogger() }));
    expect(serving.url).to.match(/^https:\/\/127\.0\.0\.1:\d+$/);
    const refused = await fetch(`${serving.url}/health`).then(
      () => 'answered',
      (error: Error & { cause?: { code?: string } }) => error.cause?.code ?? error.message,
    );
    expect(refused).to.match(/SELF_SIGNED|UNABLE_TO_VERIFY|CERT/);
    expect(await httpsRequest(`${serving.url}/health`)).to.include({ status: 200, text: 'OK' });
  });
});

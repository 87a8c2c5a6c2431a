/**
 * llama-swap's command lines as its Docker images run them (docker/llama-swap.Containerfile:
 * `-config /app/config.yaml -watch-config`; docker/unified/Dockerfile: `-config FILE -listen
 * 0.0.0.0:8080 -watch-config`) start siesta, which serves a model (the fake upstream); `:PORT` and
 * `0.0.0.0:PORT` listen beyond loopback and print the warning; siesta's own spellings still work.
 */
import { writeFile } from 'node:fs/promises';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { serve } from '../../../lib/cli/serve.js';
import { packageVersion } from '../../../lib/package-root.js';
import { assertNoChildren, freePort } from '../../helpers/wait.js';
import { cleanup, configYaml, genericCmd, memoryLogger, tempDir, track } from '../../e2e/support.js';
import { completionTokens, killStarted, listeningAddresses, runCli, startCli, stopCli } from './support.js';

async function configFile(global: Record<string, unknown> = {}): Promise<string> {
  const file = join(await tempDir('siesta-cli-'), 'config.yaml');
  await writeFile(file, await configYaml({ small: { cmd: genericCmd('small', ['--tokens', '3']) } }, global));
  return file;
}

/** A non-loopback IPv4 address of this machine, if it has one. */
function lanAddress(): string | undefined {
  return Object.values(networkInterfaces())
    .flat()
    .find((entry) => entry !== undefined && entry.family === 'IPv4' && !entry.internal)?.address;
}

describe('the siesta command with llama-swap’s Docker command lines', function () {
  this.timeout(60_000);
  afterEach(async function () {
    await killStarted();
    await cleanup();
    await assertNoChildren();
  });

  it('-config FILE -watch-config -listen :PORT: every interface, the warning, a model served, nothing left after SIGTERM', async function () {
    const config = await configFile();
    const port = await freePort();
    const cli = startCli(['-config', config, '-watch-config', '-listen', `:${port}`]);
    await cli.waitFor('siesta: serving 1 models');
    expect(cli.output()).to.include(`warning: siesta listens on every interface (port ${port}) and the configuration has no apiKeys`);
    expect(cli.output()).to.include('every model route');
    const addresses = listeningAddresses(port);
    expect(addresses, 'bound to the wildcard address').to.have.length.greaterThan(0);
    for (const address of addresses) expect(['::', '0.0.0.0']).to.include(address);

    expect(await completionTokens(`http://127.0.0.1:${port}`, 'small')).to.equal(3);
    const lan = lanAddress();
    if (lan !== undefined) expect(await completionTokens(`http://${lan}:${port}`, 'small'), `through ${lan}`).to.equal(3);
    expect(await stopCli(cli)).to.equal(0);
  });

  it('-config FILE -listen 0.0.0.0:PORT -watch-config (the unified image): IPv4 every interface, the warning', async function () {
    const config = await configFile();
    const port = await freePort();
    const cli = startCli(['-config', config, '-listen', `0.0.0.0:${port}`, '-watch-config']);
    await cli.waitFor('siesta: serving');
    expect(listeningAddresses(port)).to.deep.equal(['0.0.0.0']);
    expect(cli.output()).to.include('warning: siesta listens on every interface');
    expect(await completionTokens(`http://127.0.0.1:${port}`, 'small')).to.equal(3);
    expect(await stopCli(cli)).to.equal(0);
  });

  it("siesta's own spelling (--config, --listen 127.0.0.1:PORT, -w) and -name=value: loopback, no warning", async function () {
    const config = await configFile();
    const port = await freePort();
    const cli = startCli([`-config=${config}`, '--listen', `127.0.0.1:${port}`, '-w']);
    await cli.waitFor('siesta: serving');
    expect(listeningAddresses(port)).to.deep.equal(['127.0.0.1']);
    expect(cli.output()).to.not.include('warning: siesta listens');
    expect(await completionTokens(`http://127.0.0.1:${port}`, 'small')).to.equal(3);
    expect(await stopCli(cli)).to.equal(0);
  });

  it('in-process: :PORT binds :: or 0.0.0.0 and warns; with apiKeys it does not', async function () {
    const open = track(await serve({ configPath: await configFile(), listen: ':0', logger: memoryLogger() }));
    expect(['::', '0.0.0.0']).to.include(open.address);
    expect(open.warnings).to.have.length(1);
    const keyed = track(await serve({ configPath: await configFile({ apiKeys: ['k'] }), listen: ':0', logger: memoryLogger() }));
    expect(['::', '0.0.0.0']).to.include(keyed.address);
    expect(keyed.warnings).to.deep.equal([]);
  });

  describe('usage', function () {
    const cases: [string, (config: string) => string[], number, RegExp][] = [
      ['-version', () => ['-version'], 0, new RegExp(`^siesta ${packageVersion().replaceAll('.', '\\.')}\\n$`)],
      ['-version among other flags', (config) => ['-config', config, '-version'], 0, /^siesta /],
      ['-help', () => ['-help'], 0, /--config-dir DIR/],
      ['no -config nor -config-dir', () => ['-listen', ':0'], 2, /--config FILE is required \(or --config-dir DIR, or both\)/],
      ['-tls-cert-file without -tls-key-file', (config) => ['-config', config, '-tls-cert-file', 'cert.pem'], 2, /both -tls-cert-file and -tls-key-file must be provided/],
      ['-tls-key-file without -tls-cert-file', (config) => ['-config', config, '-tls-key-file', 'key.pem'], 2, /both -tls-cert-file and -tls-key-file must be provided/],
      ['a missing TLS file', (config) => ['-config', config, '-tls-cert-file', '/nowhere/c.pem', '-tls-key-file', '/nowhere/k.pem'], 2, /cannot read the TLS files/],
      ['a bad -listen', (config) => ['-config', config, '-listen', '::1:80'], 2, /-listen ::1:80: expected HOST:PORT/],
      ['an unknown flag', (config) => ['-config', config, '-frobnicate'], 2, /Unknown option/],
    ];
    for (const [name, args, code, output] of cases) {
      it(`${name} → exit ${code}`, async function () {
        const result = await runCli(args(await configFile()));
        expect(result.code, result.output).to.equal(code);
        expect(result.output).to.match(output);
      });
    }
  });
});

/**
 * SIGHUP reloads the configuration (-config and -config-dir) as -watch-config does on a change:
 * only the changed model restarts, a broken file is reported and the old configuration keeps
 * serving, siesta never exits on it; SIGTERM afterwards leaves no process behind.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { expect } from 'chai';
import { parse, stringify } from 'yaml';
import { assertNoChildren, freePort } from '../../helpers/wait.js';
import { cleanup, configYaml, genericCmd, tempDir } from '../../e2e/support.js';
import { completionTokens, descendants, killStarted, runningPids, startCli, stopCli } from './support.js';

describe('the siesta command on SIGHUP', function () {
  this.timeout(60_000);
  afterEach(async function () {
    await killStarted();
    await cleanup();
    await assertNoChildren();
  });

  it('reloads -config and -config-dir: only the changed model restarts; a broken file keeps the old configuration', async function () {
    const dir = await tempDir('siesta-hup-');
    const configDir = join(dir, 'conf.d');
    await mkdir(configDir);
    // The harness's global settings (startPort, stateDir, ...) with x in -config and y in -config-dir.
    const { models: _models, ...global } = parse(await configYaml({ x: {}, y: {} }, { logLevel: 'info', groups: { both: { swap: false, members: ['x', 'y'] } } })) as Record<string, unknown>;
    const config = join(dir, 'config.yaml');
    await writeFile(config, stringify({ ...global, models: { x: { cmd: genericCmd('x', ['--tokens', '4']) } } }));
    const yFile = join(configDir, 'y.yaml');
    const writeY = (tokens: number): Promise<void> => writeFile(yFile, stringify({ models: { y: { cmd: genericCmd('y', ['--tokens', String(tokens)]) } } }));
    await writeY(4);

    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const cli = startCli(['-config', config, '-config-dir', configDir, '-listen', `127.0.0.1:${port}`]);
    await cli.waitFor('siesta: serving 2 models');
    expect(await completionTokens(url, 'x')).to.equal(4);
    expect(await completionTokens(url, 'y')).to.equal(4);
    const before = await runningPids(url);
    expect(before.x).to.be.a('number');
    expect(before.y).to.be.a('number');

    // 1. y's file changes; no watcher runs, so nothing happens until SIGHUP.
    await writeY(2);
    cli.child.kill('SIGHUP');
    await cli.waitFor('configuration reloaded');
    expect(cli.output()).to.match(/configuration reloaded.*restarted.*\by\b/);
    expect(await completionTokens(url, 'y')).to.equal(2);
    expect(await completionTokens(url, 'x')).to.equal(4);
    const after = await runningPids(url);
    expect(after.x, 'x kept its process').to.equal(before.x);
    expect(after.y, 'y restarted').to.not.equal(before.y);

    // 2. A broken file: reported, the current configuration keeps serving, siesta keeps running.
    await writeFile(yFile, 'models: [\n');
    cli.child.kill('SIGHUP');
    await cli.waitFor('configuration reload failed; keeping the current one');
    expect(cli.output()).to.include('y.yaml');
    expect(cli.child.exitCode).to.equal(null);
    expect(await completionTokens(url, 'y')).to.equal(2);
    expect(await completionTokens(url, 'x')).to.equal(4);
    expect(await runningPids(url)).to.deep.equal(after);

    // 3. Fixed and signalled again: picked up.
    await writeY(5);
    cli.child.kill('SIGHUP');
    await cli.waitFor('configuration reloaded', { count: 2 });
    expect(await completionTokens(url, 'y')).to.equal(5);
    expect((await runningPids(url)).x).to.equal(before.x);

    // 4. SIGTERM: siesta exits 0 and every process it started is gone.
    const below = descendants(cli.child.pid!);
    expect(below).to.include.members([before.x, (await runningPids(url)).y]);
    expect(await stopCli(cli)).to.equal(0);
  });
});

/**
 * `siesta --watch-config`, in-process through serve(): a changed file is reloaded and only the
 * models whose configuration changed restart; a broken file leaves the old configuration serving.
 */
import { rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { expect } from 'chai';
import { serve, type Serving } from '../../lib/cli/serve.js';
import { assertNoChildren, pollUntil } from '../helpers/wait.js';
import { chat, cleanup, configYaml, genericCmd, memoryLogger, tempDir, track } from './support.js';

async function configFor(tokensY: number, base?: { startPort: number; stateDir: string; pluginDir: string }): Promise<string> {
  const text = await configYaml(
    {
      x: { cmd: genericCmd('x', ['--tokens', '4']) },
      y: { cmd: genericCmd('y', ['--tokens', String(tokensY)]) },
    },
    { groups: { both: { swap: false, members: ['x', 'y'] } }, ...base },
  );
  return text;
}

async function completionTokens(serving: Serving, model: string): Promise<number> {
  const response = await fetch(`${serving.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(chat(model)) });
  expect(response.status).to.equal(200);
  return ((await response.json()) as { usage: { completion_tokens: number } }).usage.completion_tokens;
}

describe('e2e: --watch-config reload', function () {
  afterEach(async function () {
    await cleanup();
    await assertNoChildren();
  });

  it('restarts only the changed model; survives an atomic replace; keeps serving through a broken file', async function () {
    const dir = await tempDir();
    const path = join(dir, 'siesta.yaml');
    const first = await configFor(4);
    const { parse } = await import('yaml');
    const fixed = parse(first) as { startPort: number; stateDir: string; pluginDir: string };
    const base = { startPort: fixed.startPort, stateDir: fixed.stateDir, pluginDir: fixed.pluginDir };
    await writeFile(path, first);
    const logger = memoryLogger();
    const serving = track(await serve({ configPath: path, listen: '127.0.0.1:0', watchConfig: true, logger }));
    const { gateway } = serving;

    expect(await completionTokens(serving, 'x')).to.equal(4);
    expect(await completionTokens(serving, 'y')).to.equal(4);
    const pidX = gateway.manager.process('x').pid;
    const pidY = gateway.manager.process('y').pid;
    expect(pidX).to.be.a('number');

    // 1. Edit in place: y's command changes, x's does not.
    await writeFile(path, await configFor(2, base));
    await pollUntil(() => gateway.config.models.y!.cmd.join(' ').includes('--tokens 2'), { what: 'the edited file to be reloaded' });
    await pollUntil(() => logger.lines.some((line) => line.message === 'configuration reloaded'), { what: 'the reload to finish' });
    expect(logger.lines.find((line) => line.message === 'configuration reloaded')!.fields).to.include({ restarted: 'y' });
    expect(gateway.manager.process('x').pid, 'x kept running').to.equal(pidX);
    expect(gateway.manager.state('x')).to.equal('ready');
    expect(await completionTokens(serving, 'y')).to.equal(2);
    expect(gateway.manager.process('y').pid, 'y restarted').to.not.equal(pidY);
    expect(await completionTokens(serving, 'x')).to.equal(4);
    expect(gateway.manager.process('x').pid).to.equal(pidX);

    // 2. Replace atomically (write a temporary file, rename it over), as many editors and tools do.
    const temporary = join(dir, 'siesta.yaml.tmp');
    await writeFile(temporary, await configFor(3, base));
    await rename(temporary, path);
    await pollUntil(() => gateway.config.models.y!.cmd.join(' ').includes('--tokens 3'), { what: 'the replaced file to be reloaded', timeoutMs: 5000 });
    expect(await completionTokens(serving, 'y')).to.equal(3);
    expect(gateway.manager.process('x').pid).to.equal(pidX);

    // 3. A broken file is reported and the current configuration keeps serving.
    await writeFile(path, 'models: [\n');
    await pollUntil(() => logger.lines.some((line) => line.message === 'configuration reload failed; keeping the current one'), { what: 'the failed reload to be reported' });
    expect(gateway.config.models.y!.cmd.join(' ')).to.include('--tokens 3');
    expect(await completionTokens(serving, 'x')).to.equal(4);
    expect(await completionTokens(serving, 'y')).to.equal(3);
    expect(gateway.manager.process('x').pid).to.equal(pidX);

    // 4. Fixing the file is picked up again.
    await writeFile(path, await configFor(5, base));
    await pollUntil(() => gateway.config.models.y!.cmd.join(' ').includes('--tokens 5'), { what: 'the fixed file to be reloaded' });
    expect(await completionTokens(serving, 'y')).to.equal(5);
    expect(gateway.manager.process('x').pid).to.equal(pidX);
  });
});

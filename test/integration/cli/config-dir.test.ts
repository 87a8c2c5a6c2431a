/**
 * -config-dir with the command: `siesta check` reads the same sources as serving, and
 * -watch-config watches the directory's files too (added, edited, removed), through serve().
 */
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { expect } from 'chai';
import { parse, stringify } from 'yaml';
import { serve } from '../../../lib/cli/serve.js';
import { assertNoChildren, pollUntil } from '../../helpers/wait.js';
import { cleanup, configYaml, genericCmd, memoryLogger, tempDir, track } from '../../e2e/support.js';
import { completionTokens, killStarted, runCli } from './support.js';

/** -config with the harness's global settings and model x; an empty -config-dir beside it. */
async function sources(): Promise<{ config: string; configDir: string }> {
  const dir = await tempDir('siesta-confd-');
  const configDir = join(dir, 'conf.d');
  await mkdir(configDir);
  const { models: _models, ...global } = parse(await configYaml({ x: {}, y: {}, z: {} })) as Record<string, unknown>;
  const config = join(dir, 'config.yaml');
  // Each model in its own non-exclusive group, so that loading one does not stop another.
  await writeFile(config, stringify({ ...global, models: { x: { cmd: genericCmd('x', ['--tokens', '4']) } }, groups: { gx: { exclusive: false, members: ['x'] } } }));
  return { config, configDir };
}

function modelFile(id: string, tokens: number): string {
  return stringify({ models: { [id]: { cmd: genericCmd(id, ['--tokens', String(tokens)]) } }, groups: { [`g${id}`]: { exclusive: false, members: [id] } } });
}

describe('-config-dir with the siesta command', function () {
  this.timeout(60_000);
  afterEach(async function () {
    await killStarted();
    await cleanup();
    await assertNoChildren();
  });

  it('siesta check -config FILE -config-dir DIR: one line per model of every file', async function () {
    const { config, configDir } = await sources();
    await writeFile(join(configDir, 'b.yaml'), modelFile('y', 2));
    await writeFile(join(configDir, 'a.yml'), modelFile('z', 2));
    const result = await runCli(['check', '-config', config, '-config-dir', configDir]);
    expect(result.code, result.output).to.equal(0);
    expect(result.output.split('\n').filter((line) => /^[xyz] /.test(line)).map((line) => line[0])).to.deep.equal(['x', 'y', 'z']);
  });

  it('siesta check --config-dir DIR alone, and a model defined twice is refused naming the file', async function () {
    const { config, configDir } = await sources();
    await writeFile(join(configDir, '0-global.yaml'), await readFile(config, 'utf8'));
    await writeFile(join(configDir, 'b.yaml'), modelFile('y', 2));
    const alone = await runCli(['check', '--config-dir', configDir]);
    expect(alone.code, alone.output).to.equal(0);
    expect(alone.output).to.match(/^x /m).and.to.match(/^y /m);

    await writeFile(join(configDir, 'c.yaml'), modelFile('y', 3));
    const duplicate = await runCli(['check', '-config-dir', configDir]);
    expect(duplicate.code).to.equal(2);
    expect(duplicate.output).to.include(`${join(configDir, 'c.yaml')}: 1 problem`).and.to.include('duplicate models "y"');

    const overlap = await runCli(['check', '-config', join(configDir, 'b.yaml'), '-config-dir', configDir]);
    expect(overlap.code).to.equal(2);
    expect(overlap.output).to.include('is also present in -config-dir');
  });

  it('-watch-config watches the directory: a file added, edited (only its model restarts) and removed', async function () {
    const { config, configDir } = await sources();
    const logger = memoryLogger();
    const serving = track(await serve({ configPath: config, configDir, listen: '127.0.0.1:0', watchConfig: true, logger }));
    const { gateway } = serving;
    expect(Object.keys(gateway.config.models)).to.deep.equal(['x']);
    expect(await completionTokens(serving.url, 'x')).to.equal(4);
    const pidX = gateway.manager.process('x').pid;

    await writeFile(join(configDir, 'y.yaml'), modelFile('y', 2));
    await pollUntil(() => gateway.config.models.y, { what: 'the added file to be loaded' });
    expect(await completionTokens(serving.url, 'y')).to.equal(2);
    const pidY = gateway.manager.process('y').pid;

    await writeFile(join(configDir, 'y.yaml'), modelFile('y', 3));
    await pollUntil(() => gateway.config.models.y?.cmd.join(' ').includes('--tokens 3'), { what: 'the edited file to be reloaded' });
    expect(await completionTokens(serving.url, 'y')).to.equal(3);
    expect(gateway.manager.process('y').pid, 'y restarted').to.not.equal(pidY);
    expect(gateway.manager.process('x').pid, 'x kept running').to.equal(pidX);

    // A directory left without YAML files is a write in progress (llama-swap's rule), so another file stays.
    await writeFile(join(configDir, 'keep.yaml'), '# nothing here yet\n');
    await pollUntil(() => logger.lines.filter((line) => line.message === 'configuration reloaded').length >= 3, { what: 'the reload for keep.yaml' });
    await rm(join(configDir, 'y.yaml'));
    await pollUntil(() => gateway.config.models.y === undefined, { what: 'the removed file to be unloaded' });
    expect(await completionTokens(serving.url, 'x')).to.equal(4);
    expect(gateway.manager.process('x').pid).to.equal(pidX);
  });

  it('-watch-config without fs.watch events: the stat poll notices the change', async function () {
    const { config, configDir } = await sources();
    const serving = track(await serve({ configPath: config, configDir, listen: '127.0.0.1:0', watchConfig: true, logger: memoryLogger(), watchSettleMs: 60_000, watchPollIntervalMs: 100 }));
    await writeFile(join(configDir, 'y.yaml'), modelFile('y', 2));
    await pollUntil(() => serving.gateway.config.models.y, { what: 'the poll to load the added file', timeoutMs: 5000 });
  });
});

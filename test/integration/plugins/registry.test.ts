import { expect } from 'chai';
import { copyFile, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadPlugins, PluginLoadError } from '../../../lib/plugins/registry.js';
import { callLines, cleanUp, clearCalls, createProcess, fakeModel, serveOne } from '../process/harness.js';

const FIXTURES = fileURLToPath(new URL('../../fixtures/plugins/', import.meta.url));
const GOOD = join(FIXTURES, 'good');
const BROKEN = join(FIXTURES, 'broken');

/** Copy fixture files into a fresh plugin directory; `x.ts.txt` becomes `x.ts` (see broken/syntax-error.ts.txt). */
async function pluginDir(from: string, files: readonly string[]): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'siesta-plugins-'));
  for (const file of files) await copyFile(join(from, file), join(dir, file.replace(/\.txt$/, '')));
  return dir;
}

async function loadError(dir: string): Promise<PluginLoadError> {
  const error = await loadPlugins(dir).then(() => null, (caught: unknown) => caught);
  expect(error, 'expected loadPlugins to fail').to.be.instanceOf(PluginLoadError);
  return error as PluginLoadError;
}

describe('plugin registry with plugin files', function () {
  const dirs: string[] = [];
  afterEach(async function () {
    await cleanUp();
    await Promise.all(dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
  });

  it('loads only the built-ins when the plugin directory does not exist (or is null)', async function () {
    expect((await loadPlugins(join(tmpdir(), 'siesta-no-such-dir'))).names()).to.deep.equal(['generic', 'vllm', 'llama-server', 'sglang']);
    expect((await loadPlugins(null)).names()).to.deep.equal(['generic', 'vllm', 'llama-server', 'sglang']);
  });

  it("loads siesta's own plugins/ folder as a plugin directory without loading the built-ins twice", async function () {
    const builtinDir = fileURLToPath(new URL('../../../plugins/', import.meta.url));
    expect((await loadPlugins(builtinDir)).names()).to.deep.equal(['generic', 'vllm', 'llama-server', 'sglang']);
  });

  it('loads every plugin of a directory (default export or `plugin` export), skipping tests and .d.ts', async function () {
    const registry = await loadPlugins(GOOD);
    expect(registry.names()).to.deep.equal(['generic', 'vllm', 'llama-server', 'sglang', 'fake-sleeper', 'named-export', 'with-options']);
    const withOptions = registry.get('with-options')!;
    expect(withOptions.optionsSchema!.validate({ gpu: 1 }).error).to.equal(undefined);
    expect(withOptions.optionsSchema!.validate({ gpu: -1 }).error?.message).to.equal('"gpu" must be greater than or equal to 0');
  });

  it('ignores test files and declaration files in the plugin directory', async function () {
    const dir = await pluginDir(GOOD, ['named-export.ts']);
    dirs.push(dir);
    await writeFile(join(dir, 'helper.test.ts'), 'throw new Error("must not be loaded");\n');
    await writeFile(join(dir, 'types.d.ts'), 'export declare const x: number;\n');
    await writeFile(join(dir, 'README.md'), '# not a plugin\n');
    expect((await loadPlugins(dir)).names()).to.deep.equal(['generic', 'vllm', 'llama-server', 'sglang', 'named-export']);
  });

  it('uses a user plugin dropped into a temporary plugin directory to sleep and wake a model', async function () {
    const dir = await pluginDir(GOOD, ['fake-sleeper.ts']);
    dirs.push(dir);
    const plugin = (await loadPlugins(dir)).get('fake-sleeper');
    expect(plugin, 'fake-sleeper loaded').not.to.equal(undefined);
    const model = await fakeModel('generic', [], { backend: 'fake-sleeper' });
    const tracked = createProcess(model, plugin!);
    await serveOne(tracked, model);
    await clearCalls(model);
    expect(await tracked.process.sleep('evicted')).to.equal('asleep');
    await serveOne(tracked, model);
    expect(await callLines(model)).to.deep.equal([
      'POST /sleep?level=1',
      'GET /is_sleeping',
      'POST /wake_up',
      'GET /is_sleeping',
      'POST /v1/completions (generate)',
    ]);
  });

  it('refuses a plugin with a syntax error, naming the file', async function () {
    const dir = await pluginDir(BROKEN, ['syntax-error.ts.txt']);
    dirs.push(dir);
    const error = await loadError(dir);
    expect(error.problems).to.have.length(1);
    expect(error.problems[0]!.file).to.equal(join(dir, 'syntax-error.ts'));
    expect(error.problems[0]!.reason).to.match(/^failed to load: /);
    expect(error.message).to.include(join(dir, 'syntax-error.ts'));
  });

  it('refuses a plugin without apiVersion, naming the file and the key', async function () {
    const dir = await pluginDir(BROKEN, ['missing-api-version.ts']);
    dirs.push(dir);
    const error = await loadError(dir);
    expect(error.problems).to.deep.equal([{ file: join(dir, 'missing-api-version.ts'), reason: 'apiVersion is required' }]);
  });

  it('refuses a plugin whose sleep level has no wake steps', async function () {
    const dir = await pluginDir(BROKEN, ['sleep-without-wake.ts']);
    dirs.push(dir);
    const error = await loadError(dir);
    expect(error.problems).to.deep.equal([{ file: join(dir, 'sleep-without-wake.ts'), reason: 'sleepLevels.1.wake is required' }]);
  });

  it('lists every broken plugin of a directory at once, and loads none of the good ones', async function () {
    const dir = await pluginDir(BROKEN, await readdir(BROKEN));
    dirs.push(dir);
    await copyFile(join(GOOD, 'named-export.ts'), join(dir, 'named-export.ts'));
    const error = await loadError(dir);
    expect(error.problems.map((problem) => problem.file)).to.deep.equal(
      ['missing-api-version.ts', 'sleep-without-wake.ts', 'syntax-error.ts'].map((file) => join(dir, file)),
    );
    for (const problem of error.problems) expect(error.message).to.include(`  ${problem.file}: ${problem.reason}`);
  });

  it('refuses a module that exports no plugin, and a plugin that reuses a built-in name', async function () {
    const dir = await mkdtemp(join(tmpdir(), 'siesta-plugins-'));
    dirs.push(dir);
    await writeFile(join(dir, 'a-nothing.mjs'), 'export const notAPlugin = 1;\n');
    await writeFile(join(dir, 'b-vllm-again.mjs'), "export default { name: 'vllm', apiVersion: 1 };\n");
    const error = await loadError(dir);
    expect(error.problems).to.deep.equal([
      { file: join(dir, 'a-nothing.mjs'), reason: 'exports no plugin (export default a plugin object, or export const plugin)' },
      { file: join(dir, 'b-vllm-again.mjs'), reason: 'a plugin named "vllm" is already loaded' },
    ]);
  });
});

/**
 * `-config` + `-config-dir` merged into one configuration: the cases of llama-swap's
 * internal/config/merge_test.go (0bdb372), one `it` each, through the same entry the CLI uses.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { parse } from 'yaml';
import { ConfigError } from '../../../lib/config/errors.js';
import { mergeSources, parseSource, readConfigSources } from '../../../lib/config/merge.js';
import { loadGatewayConfig, type LoadedGatewayConfig } from '../../../lib/gateway/load-config.js';

/** A model block nested under `models:` with a fixed proxy (as llama-swap's modelCfg). */
function modelCfg(id: string, cmd: string): string {
  return `  ${id}:\n    cmd: ${cmd}\n    proxy: "http://localhost:9999"\n`;
}

const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'siesta-merge-'));
  dirs.push(dir);
  return dir;
}

function writeYaml(dir: string, name: string, content: string): string {
  const file = join(dir, name);
  mkdirSync(join(file, '..'), { recursive: true });
  writeFileSync(file, content);
  return file;
}

function load(configPath: string | undefined, configDir: string | undefined, env: Record<string, string> = {}): Promise<LoadedGatewayConfig> {
  return loadGatewayConfig({ ...(configPath !== undefined ? { configPath } : {}), ...(configDir !== undefined ? { configDir } : {}), env: { ...env } });
}

/** The ConfigError's text (file, paths and messages), or fails when loading succeeds. */
async function loadError(configPath: string | undefined, configDir: string | undefined): Promise<string> {
  try {
    await load(configPath, configDir);
  } catch (error) {
    expect(error).to.be.instanceOf(ConfigError);
    return (error as Error).message;
  }
  expect.fail('expected the configuration to be refused');
}

describe('config sources: -config plus -config-dir (llama-swap merge_test.go)', function () {
  after(() => dirs.splice(0).forEach((dir) => rmSync(dir, { recursive: true, force: true })));

  it('NeitherProvided: refused', async function () {
    let error: unknown;
    await readConfigSources({}).catch((caught: unknown) => (error = caught));
    expect(error).to.be.instanceOf(ConfigError).with.property('message').that.includes('at least one of -config or -config-dir');
  });

  it('ConfigOnly', async function () {
    const dir = tempDir();
    const file = writeYaml(dir, 'config.yaml', `models:\n${modelCfg('model1', 'echo hi')}groups:\n  group1:\n    members: ["model1"]\n`);
    const loaded = await load(file, undefined);
    expect(Object.keys(loaded.config.models)).to.deep.equal(['model1']);
  });

  it('DirOnly: every file of the directory', async function () {
    const dir = tempDir();
    writeYaml(dir, 'a.yaml', `models:\n${modelCfg('alpha', 'echo a')}`);
    writeYaml(dir, 'b.yml', `models:\n${modelCfg('beta', 'echo b')}`);
    writeYaml(dir, 'notes.txt', 'not: yaml');
    writeYaml(dir, 'sub/c.yaml', `models:\n${modelCfg('gamma', 'echo c')}`);
    const loaded = await load(undefined, dir);
    expect(Object.keys(loaded.config.models)).to.deep.equal(['alpha', 'beta']);
  });

  it('ConfigPlusDirAdditive', async function () {
    const file = writeYaml(tempDir(), 'config.yaml', `models:\n${modelCfg('base', 'echo base')}`);
    const configDir = tempDir();
    writeYaml(configDir, 'extra.yaml', `models:\n${modelCfg('ext', 'echo ext')}`);
    const loaded = await load(file, configDir);
    expect(Object.keys(loaded.config.models)).to.deep.equal(['base', 'ext']);
  });

  it('ConfigInDirOverlap: the -config file may not also be in -config-dir', async function () {
    const dir = tempDir();
    const file = writeYaml(dir, 'main.yaml', `models:\n${modelCfg('base', 'echo base')}`);
    expect(await loadError(file, dir)).to.include('is also present in -config-dir');
  });

  it('DuplicateModelID', async function () {
    const dir = tempDir();
    writeYaml(dir, 'a.yaml', `models:\n${modelCfg('dup', 'echo a')}`);
    const b = writeYaml(dir, 'b.yaml', `models:\n${modelCfg('dup', 'echo b')}`);
    const message = await loadError(undefined, dir);
    expect(message).to.include('duplicate models "dup"');
    expect(message).to.include(b);
  });

  it('DuplicateGroupID', async function () {
    const dir = tempDir();
    writeYaml(dir, 'a.yaml', `models:\n${modelCfg('m1', 'echo m1')}groups:\n  g1:\n    members: [m1]\n`);
    writeYaml(dir, 'b.yaml', `models:\n${modelCfg('m2', 'echo m2')}groups:\n  g1:\n    members: [m2]\n`);
    expect(await loadError(undefined, dir)).to.include('duplicate groups "g1"');
  });

  it('DuplicatePeer', async function () {
    const dir = tempDir();
    writeYaml(dir, 'a.yaml', `models:\n${modelCfg('m1', 'echo m1')}\npeers:\n  remote:\n    proxy: http://x:1\n    models: [m1]\n`);
    writeYaml(dir, 'b.yaml', `models:\n${modelCfg('m2', 'echo m2')}\npeers:\n  remote:\n    proxy: http://x:2\n    models: [m2]\n`);
    expect(await loadError(undefined, dir)).to.include('duplicate peers "remote"');
  });

  it('ScalarConflict', async function () {
    const dir = tempDir();
    writeYaml(dir, 'a.yaml', `models:\n${modelCfg('m1', 'echo m1')}\nglobalTTL: 100\n`);
    writeYaml(dir, 'b.yaml', `models:\n${modelCfg('m2', 'echo m2')}\nglobalTTL: 200\n`);
    const message = await loadError(undefined, dir);
    expect(message).to.include('globalTTL: conflict');
    expect(message).to.include('sets a different value than a previous source');
  });

  it('ScalarSameValueNoConflict', async function () {
    const dir = tempDir();
    writeYaml(dir, 'a.yaml', `models:\n${modelCfg('m1', 'echo m1')}\nglobalTTL: 100\n`);
    writeYaml(dir, 'b.yaml', `models:\n${modelCfg('m2', 'echo m2')}\nglobalTTL: 100\n`);
    const merged = await readConfigSources({ configDir: dir });
    expect(parse(merged.text)).to.include({ globalTTL: 100 });
    await load(undefined, dir);
  });

  it('MacrosConcatenate: macros from every file are available', async function () {
    const dir = tempDir();
    writeYaml(dir, 'a.yaml', `macros:\n  LOW: 1\nmodels:\n${modelCfg('m1', 'echo ${LOW}')}`);
    writeYaml(dir, 'b.yaml', `macros:\n  HIGH: 2\nmodels:\n${modelCfg('m2', 'echo ${HIGH}')}`);
    const loaded = await load(undefined, dir);
    expect(loaded.config.models.m1!.cmd).to.deep.equal(['echo', '1']);
    expect(loaded.config.models.m2!.cmd).to.deep.equal(['echo', '2']);
  });

  it('APIKeysConcatenate', async function () {
    const dir = tempDir();
    writeYaml(dir, 'a.yaml', `models:\n${modelCfg('m1', 'echo m1')}\napiKeys: [key-a]\n`);
    writeYaml(dir, 'b.yaml', `models:\n${modelCfg('m2', 'echo m2')}\napiKeys: [key-b]\n`);
    const loaded = await load(undefined, dir);
    expect([...loaded.config.apiKeys]).to.have.members(['key-a', 'key-b']);
  });

  it('RoutingGroupsMerge: routing.router.settings.groups is an identity map', function () {
    const a = parseSource('routing:\n  router:\n    settings:\n      groups:\n        groupA:\n          members: [m1]\n', '/a.yaml');
    const b = parseSource('routing:\n  router:\n    settings:\n      groups:\n        groupB:\n          members: [m2]\n', '/b.yaml');
    const merged = mergeSources([a, b]);
    const groups = (((merged?.get('routing') as Map<string, unknown>).get('router') as Map<string, unknown>).get('settings') as Map<string, unknown>).get('groups') as Map<string, unknown>;
    expect([...groups.keys()]).to.deep.equal(['groupA', 'groupB']);
    const c = parseSource('routing:\n  router:\n    settings:\n      groups:\n        groupA:\n          members: [m3]\n', '/c.yaml');
    expect(() => mergeSources([a, c])).to.throw(ConfigError, 'duplicate groups "groupA" found in /c.yaml');
  });

  it('EnvMacrosSubstituted: ${PORT} and ${env.NAME} are expanded on the merged document', async function () {
    const dir = tempDir();
    writeYaml(dir, 'a.yaml', 'models:\n  m1:\n    cmd: serve --port ${PORT}\n    proxy: "http://localhost:${PORT}"\n');
    writeYaml(dir, 'keys.yaml', 'apiKeys: ["${env.TEST_API_KEY}"]\nmodels:\n' + modelCfg('m2', 'echo hi'));
    const loaded = await load(undefined, dir, { TEST_API_KEY: 'secret123' });
    expect(loaded.config.models.m1!.cmd.join(' ')).to.not.include('${PORT}');
    expect(loaded.config.models.m1!.proxy).to.not.include('${PORT}');
    expect([...loaded.config.apiKeys]).to.include('secret123');
  });

  it('SortedOrderDeterministic: files merge in name order whatever the directory order', async function () {
    const dir = tempDir();
    writeYaml(dir, 'z.yaml', `models:\n${modelCfg('zmodel', 'echo z')}`);
    writeYaml(dir, 'a.yaml', `models:\n${modelCfg('amodel', 'echo a')}`);
    writeYaml(dir, 'B.yaml', `models:\n${modelCfg('bmodel', 'echo b')}`);
    const merged = await readConfigSources({ configDir: dir });
    expect(merged.files.map((file) => file.slice(dir.length + 1))).to.deep.equal(['B.yaml', 'a.yaml', 'z.yaml']);
    expect(Object.keys((parse(merged.text) as { models: object }).models)).to.deep.equal(['bmodel', 'amodel', 'zmodel']);
  });

  it('EmptyDirWithConfig', async function () {
    const file = writeYaml(tempDir(), 'main.yaml', `models:\n${modelCfg('m1', 'echo m1')}`);
    const loaded = await load(file, tempDir());
    expect(Object.keys(loaded.config.models)).to.deep.equal(['m1']);
  });

  it('EmptyDirOnly: refused', async function () {
    expect(await loadError(undefined, tempDir())).to.include('no configuration sources found');
  });

  it('AssertNoUnknownMacrosAfterMerge: a macro from one file is usable in another', async function () {
    const dir = tempDir();
    writeYaml(dir, 'macros.yaml', `macros:\n  SHARED: hello\nmodels:\n${modelCfg('dummy', 'echo dummy')}`);
    writeYaml(dir, 'use.yaml', `models:\n${modelCfg('user', 'echo ${SHARED}')}`);
    const loaded = await load(undefined, dir);
    expect(loaded.config.models.user!.cmd).to.deep.equal(['echo', 'hello']);
  });

  it('KindMismatchErrors', async function () {
    const dir = tempDir();
    writeYaml(dir, 'a.yaml', `startPort: 5800\nmodels:\n${modelCfg('m1', 'echo m1')}`);
    writeYaml(dir, 'b.yaml', `startPort: [5800, 5801]\nmodels:\n${modelCfg('m2', 'echo m2')}`);
    expect(await loadError(undefined, dir)).to.include('incompatible YAML node kinds (scalar vs sequence)');
  });

  it('NullYieldsToValue: a key left empty takes the other file\'s value; an explicit null does not', function () {
    const a = parseSource('routing:\nlogLevel:\n', '/a.yaml');
    const b = parseSource('routing:\n  router:\n    settings: {}\nlogLevel: debug\n', '/b.yaml');
    const merged = mergeSources([a, b]);
    expect(merged?.get('logLevel')).to.equal('debug');
    expect(merged?.get('routing')).to.be.instanceOf(Map);
    expect(() => mergeSources([parseSource('logLevel: null\n', '/a.yaml'), parseSource('logLevel: debug\n', '/b.yaml')])).to.throw(ConfigError, 'sets a different value');
  });

  describe('beyond merge_test.go', function () {
    it('an empty file is skipped; a file that is not a mapping is refused with its name', async function () {
      const dir = tempDir();
      writeYaml(dir, 'a.yaml', '# only a comment\n');
      writeYaml(dir, 'b.yaml', `models:\n${modelCfg('m1', 'echo m1')}`);
      expect(Object.keys((await load(undefined, dir)).config.models)).to.deep.equal(['m1']);
      const list = writeYaml(dir, 'c.yaml', '- 1\n- 2\n');
      const message = await loadError(undefined, dir);
      expect(message).to.include(list).and.to.include('top-level YAML must be a mapping');
    });

    it('a YAML error names the file it is in', async function () {
      const dir = tempDir();
      writeYaml(dir, 'a.yaml', `models:\n${modelCfg('m1', 'echo m1')}`);
      const broken = writeYaml(dir, 'b.yaml', 'models: [\n');
      const message = await loadError(undefined, dir);
      expect(message).to.include(broken).and.to.include('YAML syntax error');
    });

    it('sequences concatenate in source order; mappings merge key by key; the sources are not changed', function () {
      const a = parseSource('hooks:\n  on_startup:\n    preload: [m1]\nlogLevel: info\n', '/a.yaml');
      const b = parseSource('hooks:\n  on_startup:\n    preload: [m2]\nhealthCheckTimeout: 30\n', '/b.yaml');
      const merged = mergeSources([a, b]);
      expect(((merged?.get('hooks') as Map<string, unknown>).get('on_startup') as Map<string, unknown>).get('preload')).to.deep.equal(['m1', 'm2']);
      expect([...(merged?.keys() ?? [])]).to.deep.equal(['hooks', 'logLevel', 'healthCheckTimeout']);
      expect(((a.value?.get('hooks') as Map<string, unknown>).get('on_startup') as Map<string, unknown>).get('preload')).to.deep.equal(['m1']);
    });

    it('relative pluginDir and stateDir resolve against the -config file, else against -config-dir', async function () {
      const configDir = tempDir();
      writeYaml(configDir, 'a.yaml', `models:\n${modelCfg('m1', 'echo m1')}`);
      expect((await readConfigSources({ configDir })).baseDir).to.equal(configDir);
      const file = writeYaml(tempDir(), 'main.yaml', 'stateDir: state\n');
      expect((await readConfigSources({ configPath: file, configDir })).baseDir).to.equal(join(file, '..'));
    });
  });
});

/** -watch-config's decision: reload for this snapshot after that one? As a table. */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { shouldReload, snapshotSources, type SourcesSnapshot } from '../../../lib/cli/config-watch.js';

describe('shouldReload', function () {
  const cases: [string, SourcesSnapshot, SourcesSnapshot, boolean][] = [
    ['the file is unchanged', { config: '1:10:5' }, { config: '1:10:5' }, false],
    ['the file was edited', { config: '1:10:5' }, { config: '1:12:6' }, true],
    ['the file was replaced (new inode, same size and time)', { config: '1:10:5' }, { config: '2:10:5' }, true],
    ['the file went missing (a write in progress)', { config: '1:10:5' }, { config: null }, false],
    ['the file is back', { config: null }, { config: '2:10:6' }, true],
    ['a directory file was edited', { dir: { 'a.yaml': '1:1:1' } }, { dir: { 'a.yaml': '1:2:2' } }, true],
    ['a directory file was added', { dir: { 'a.yaml': '1:1:1' } }, { dir: { 'a.yaml': '1:1:1', 'b.yml': '2:1:1' } }, true],
    ['a directory file was removed', { dir: { 'a.yaml': '1:1:1', 'b.yml': '2:1:1' } }, { dir: { 'a.yaml': '1:1:1' } }, true],
    ['the directory is unchanged', { dir: { 'a.yaml': '1:1:1' } }, { dir: { 'a.yaml': '1:1:1' } }, false],
    ['the directory has no YAML file now', { dir: { 'a.yaml': '1:1:1' } }, { dir: {} }, false],
    ['the directory is missing now', { dir: { 'a.yaml': '1:1:1' } }, { dir: null }, false],
    ['the directory is back', { dir: null }, { dir: { 'a.yaml': '1:1:1' } }, true],
    ['both: the directory changed', { config: '1:1:1', dir: { 'a.yaml': '1:1:1' } }, { config: '1:1:1', dir: { 'a.yaml': '3:1:1' } }, true],
    ['both: the directory changed while the file is missing', { config: '1:1:1', dir: { 'a.yaml': '1:1:1' } }, { config: null, dir: { 'a.yaml': '3:1:1' } }, false],
  ];
  for (const [name, previous, current, expected] of cases) {
    it(`${name} → ${expected ? 'reload' : 'wait'}`, function () {
      expect(shouldReload(previous, current)).to.equal(expected);
    });
  }
});

describe('snapshotSources', function () {
  let dir: string;
  before(() => (dir = mkdtempSync(join(tmpdir(), 'siesta-snap-'))));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('signs -config and the *.yml / *.yaml files of -config-dir only', async function () {
    mkdirSync(join(dir, 'conf.d/sub.yaml'), { recursive: true });
    for (const name of ['a.yaml', 'b.yml', 'notes.txt', 'c.YAML']) writeFileSync(join(dir, 'conf.d', name), name);
    writeFileSync(join(dir, 'main.yaml'), 'x');
    const snapshot = await snapshotSources(join(dir, 'main.yaml'), join(dir, 'conf.d'));
    expect(snapshot.config).to.match(/^\d+:1:\d+$/);
    expect(Object.keys(snapshot.dir ?? {}).sort()).to.deep.equal(['a.yaml', 'b.yml']);
    expect(await snapshotSources(join(dir, 'gone.yaml'), join(dir, 'nowhere'))).to.deep.equal({ config: null, dir: null });
  });
});

/** The default state directory: one per config file (issue 11 defect 3), pure. */
import { createHash } from 'node:crypto';
import { expect } from 'chai';
import { defaultStateDir } from '../../../lib/config/state-dir.js';

const hash = (text: string): string => createHash('sha256').update(text).digest('hex').slice(0, 8);

describe('the default stateDir', function () {
  const CASES: readonly (readonly [string, string, string | null, string])[] = [
    ['a config file', '/srv/siesta', '/srv/siesta/config.yaml', `/srv/siesta/.siesta-state/config.yaml-${hash('/srv/siesta/config.yaml')}`],
    ['another file in the same directory', '/srv/siesta', '/srv/siesta/other.yaml', `/srv/siesta/.siesta-state/other.yaml-${hash('/srv/siesta/other.yaml')}`],
    ['-config-dir only: named after the directory', '/etc/siesta.d', '/etc/siesta.d', `/etc/siesta.d/.siesta-state/siesta.d-${hash('/etc/siesta.d')}`],
    ['a name with spaces and other characters', '/srv', '/srv/my config (1).yaml', `/srv/.siesta-state/my_config__1_.yaml-${hash('/srv/my config (1).yaml')}`],
    ['configuration text, no file', '/work', null, '/work/.siesta-state'],
  ];
  for (const [name, baseDir, configPath, expected] of CASES) {
    it(name, function () {
      expect(defaultStateDir(baseDir, configPath)).to.equal(expected);
    });
  }

  it('differs for two files of one directory and is stable for one file', function () {
    expect(defaultStateDir('/d', '/d/a.yaml')).to.not.equal(defaultStateDir('/d', '/d/b.yaml'));
    expect(defaultStateDir('/d', '/d/a.yaml')).to.equal(defaultStateDir('/d', '/d/./a.yaml'));
  });
});

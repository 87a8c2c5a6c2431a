/**
 * The `siesta` command runs the compiled build (dist/) when it is fresh: the freshness rule, and the
 * compiled CLI itself (version, the demo config whose plugin directory is siesta's own plugins/, and
 * a user plugin written in TypeScript, which the compiled build loads through tsx on demand).
 * The compiled-CLI tests build dist/ first when it is missing or stale.
 */
import { execFile, execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { expect } from 'chai';
import { compiledIsFresh } from '../../../bin/build-freshness.js';

const ROOT = join(import.meta.dirname, '../../..');
const ROOT_URL = pathToFileURL(`${ROOT}/`);

/** Files with their modification times (seconds); `null` makes a dangling symbolic link. */
function tempRoot(files: Record<string, number | null>): URL {
  const dir = mkdtempSync(join(tmpdir(), 'siesta-fresh-'));
  for (const [file, mtimeS] of Object.entries(files)) {
    mkdirSync(join(dir, file, '..'), { recursive: true });
    if (mtimeS === null) {
      symlinkSync(join(dir, 'nowhere'), join(dir, file));
      continue;
    }
    writeFileSync(join(dir, file), '');
    utimesSync(join(dir, file), mtimeS, mtimeS);
  }
  return pathToFileURL(`${dir}/`);
}

function run(args: readonly string[], cwd = ROOT): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [join(ROOT, 'dist/bin/siesta.js'), ...args], { cwd, env: { ...process.env, NODE_OPTIONS: '' } }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : -1, stdout, stderr });
    });
  });
}

describe('the compiled build', function () {
  describe('compiledIsFresh (which build bin/siesta.js runs)', function () {
    const roots: URL[] = [];
    const root = (files: Record<string, number | null>): URL => {
      const url = tempRoot(files);
      roots.push(url);
      return url;
    };
    after(() => roots.forEach((url) => rmSync(url, { recursive: true, force: true })));

    const cases: [string, Record<string, number | null>, boolean][] = [
      ['never built', { 'lib/a.ts': 100 }, false],
      ['built after every source', { 'lib/a.ts': 100, 'middleware/b.ts': 150, 'plugins/c.ts': 120, 'bin/d.ts': 90, 'dist/.built': 200 }, true],
      ['a source in a sub-directory edited after the build', { 'lib/x/deep.ts': 300, 'lib/a.ts': 100, 'dist/.built': 200 }, false],
      ['an edited plugin source', { 'lib/a.ts': 100, 'plugins/vllm.ts': 300, 'dist/.built': 200 }, false],
      ['declaration files and other files do not count', { 'lib/a.ts': 100, 'bin/x.d.ts': 300, 'lib/notes.md': 300, 'dist/.built': 200 }, true],
      ['an installed package: dist/ only', { 'dist/.built': 200, 'dist/bin/siesta.js': 200 }, true],
      ['a dangling link, and names with % and # (editor lock files)', { 'lib/a.ts': 100, 'lib/gone.ts': null, 'lib/x%41.ts': 150, 'lib/.#lock.ts': 150, 'dist/.built': 200 }, true],
      ['a newer source with % in its name', { 'lib/a.ts': 100, 'lib/x%41.ts': 300, 'dist/.built': 200 }, false],
    ];
    for (const [name, files, fresh] of cases) {
      it(`${name} → ${fresh ? 'dist/' : 'tsx'}`, function () {
        expect(compiledIsFresh(root(files))).to.equal(fresh);
      });
    }
  });

  describe('the compiled CLI (dist/bin/siesta.js)', function () {
    this.timeout(30_000);
    let dir: string;

    before(function () {
      if (!compiledIsFresh(ROOT_URL)) {
        // dist/ is missing or older than the sources (npm ci builds it): build it, as `siesta` users would.
        this.timeout(180_000);
        execFileSync(process.execPath, [join(ROOT, 'scripts/build.mjs')], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
      }
      expect(compiledIsFresh(ROOT_URL), 'dist/ is fresh after the build').to.equal(true);
      dir = mkdtempSync(join(tmpdir(), 'siesta-compiled-'));
    });
    after(() => dir && rmSync(dir, { recursive: true, force: true }));

    it('prints the version of the package', async function () {
      const result = await run(['--version']);
      expect(result).to.include({ code: 0, stdout: 'siesta 0.1.0\n' });
    });

    it('checks the demo config, whose plugin directory is siesta’s own plugins/ (the built-ins are not loaded twice)', async function () {
      const result = await run(['check', '--config', 'config.example.yaml']);
      expect(result.stderr).to.equal('');
      expect(result.code).to.equal(0);
      expect(result.stdout.trimEnd().split('\n').map((line) => line.split(' ')[0])).to.deep.equal(['qwen-large', 'qwen-small', 'tiny-echo']);
    });

    it('loads a user plugin written in TypeScript', async function () {
      mkdirSync(join(dir, 'plugins'));
      writeFileSync(
        join(dir, 'plugins/napd.ts'),
        `interface Step { endpoint: string; method?: string }\nconst pause: Step = { endpoint: '/pause', method: 'POST' };\nexport default { name: 'napd', apiVersion: 1, sleepLevels: { 1: { name: 'napd pause', sleep: [pause], wake: [{ endpoint: '/resume', method: 'POST' }] } } };\n`,
      );
      writeFileSync(join(dir, 'config.yaml'), 'pluginDir: plugins\nmodels:\n  m:\n    cmd: napd --port ${PORT}\n    backend: napd\n');
      const result = await run(['check', '--config', join(dir, 'config.yaml')]);
      expect(result.stderr).to.equal('');
      expect(result.code).to.equal(0);
      expect(result.stdout).to.match(/^m {2}backend=napd .*sleep=napd pause/);
    });
  });
});

/**
 * The published package (issue 12 item 6): `npm pack` as a publish makes it (its `prepare` builds
 * dist/), then the tarball's file list against an allow-list, the embedding example type-checked
 * against the packed `.d.ts` as a user's project imports it (`from 'siesta'`), and the packed
 * package run without tsx (an optional dependency): the CLI, the demo's fake upstream from dist/,
 * the message for a `.ts` plugin, and an import that flips no process-wide switch.
 *
 * The user's project is a temporary directory whose node_modules holds the extracted package as
 * `siesta` and links to siesta's runtime dependencies (plus the types the example needs) from this
 * checkout: an offline install, with tsx out of reach.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { expect } from 'chai';
import { freePort, pollUntil } from '../../helpers/wait.js';

const ROOT = join(import.meta.dirname, '../../..');
const TSC = join(ROOT, 'node_modules/typescript/bin/tsc');

/** Every file the package may hold; anything else (tests, benchmarks, CI, deploy/, sources, keys) fails the test. */
const ALLOWED: readonly RegExp[] = [
  /^package\.json$/,
  /^README\.md$/,
  /^LICENSE$/,
  /^config\.example\.yaml$/,
  /^bin\/(siesta|build-freshness)\.js$/,
  /^fake-upstream\/bin\/fake-upstream\.js$/,
  /^public\/[\w.-]+\.(html|js|css|ico)$/,
  /^docs\/[\w-]+\.md$/,
  /^plugins\/README\.md$/,
  /^dist\/\.built$/,
  /^dist\/bin\/siesta\.js$/,
  /^dist\/(lib|middleware|plugins)\/[\w/-]+\.(js|d\.ts)$/,
  /^dist\/fake-upstream\/[\w/-]+\.js$/,
];

/** What a user needs at the least: the CLI, the library and its types, the status page, the demo. */
const REQUIRED = [
  'package.json',
  'README.md',
  'bin/siesta.js',
  'bin/build-freshness.js',
  'dist/.built',
  'dist/bin/siesta.js',
  'dist/lib/index.js',
  'dist/lib/index.d.ts',
  'dist/fake-upstream/bin/fake-upstream.js',
  'fake-upstream/bin/fake-upstream.js',
  'public/index.html',
  'config.example.yaml',
];

/** The package's files that the allow-list does not name. */
function unexpectedFiles(files: readonly string[]): string[] {
  return files.filter((file) => !ALLOWED.some((pattern) => pattern.test(file)));
}

function listFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => relative(dir, join(entry.parentPath, entry.name)))
    .sort();
}

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

function run(command: string, args: readonly string[], cwd: string, timeoutMs = 60_000): Promise<Run> {
  return new Promise((resolve) => {
    execFile(command, args, { cwd, timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024, env: { ...process.env, NODE_OPTIONS: '' } }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : -1, stdout, stderr });
    });
  });
}

describe('the npm package', function () {
  this.timeout(60_000);
  let work: string;
  /** The user's project; its node_modules/siesta is the extracted tarball. */
  let project: string;
  let pkg: string;
  let files: string[];

  before(async function () {
    this.timeout(240_000); // npm pack runs `prepare`: a full tsc build
    work = mkdtempSync(join(tmpdir(), 'siesta-package-'));
    const packed = await run('npm', ['pack', '--pack-destination', work, '--loglevel=error'], ROOT, 230_000);
    expect(packed.code, `npm pack failed:\n${packed.stderr}`).to.equal(0);
    const tarball = readdirSync(work).find((name) => name.endsWith('.tgz'));
    expect(tarball, 'npm pack wrote a tarball').to.be.a('string');
    const extracted = await run('tar', ['-xzf', join(work, tarball!), '-C', work], work);
    expect(extracted.code, extracted.stderr).to.equal(0);

    project = join(work, 'project');
    mkdirSync(join(project, 'node_modules/@types'), { recursive: true });
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'host-app', private: true, type: 'module' }));
    pkg = join(project, 'node_modules/siesta');
    renameSync(join(work, 'package'), pkg);
    files = listFiles(pkg);

    const manifest = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
    for (const name of [...Object.keys(manifest.dependencies), '@types/express', '@types/node']) {
      symlinkSync(join(ROOT, 'node_modules', name), join(project, 'node_modules', name), 'dir');
    }
  });

  after(() => work && rmSync(work, { recursive: true, force: true }));

  describe('its files', function () {
    it('are only what a user needs: every file is on the allow-list', function () {
      expect(unexpectedFiles(files)).to.deep.equal([]);
    });

    it('include the CLI, the compiled library with its types, the status page and the demo', function () {
      expect(files).to.include.members(REQUIRED);
    });

    it('hold no tests, benchmarks, CI, deployment files, TypeScript sources or private key', function () {
      expect(files.filter((file) => /^(test|bench|\.ci|deploy|scripts|examples|lib|middleware|fake-upstream\/(?!bin\/fake-upstream\.js$))/.test(file))).to.deep.equal([]);
      expect(files.filter((file) => file.endsWith('.ts') && !file.endsWith('.d.ts'))).to.deep.equal([]);
      expect(files.filter((file) => /\.(pem|key|crt)$/.test(file) || readFileSync(join(pkg, file), 'latin1').includes('PRIVATE KEY'))).to.deep.equal([]);
      expect(files.filter((file) => /\.test\.|fixtures/.test(file))).to.deep.equal([]);
    });

    it('the allow-list refuses a test file, the TLS key fixture, the benchmark and the sources', function () {
      const leaked = ['test/unit/scheduler/scheduler.test.ts', 'test/fixtures/tls/localhost-key.pem', 'bench/run.ts', 'bench/results/latest.json', 'lib/index.ts', 'dist/lib/x.test.js', '.ci/run', 'deploy/kustomization.yaml', 'dist/fake-upstream/server.d.ts'];
      expect(unexpectedFiles([...REQUIRED, ...leaked])).to.deep.equal(leaked);
    });

    it('package.json: one entry point with its types, tsx optional, every version exact', function () {
      const packed = JSON.parse(readFileSync(join(pkg, 'package.json'), 'utf8')) as Record<string, Record<string, unknown>>;
      expect(packed.exports).to.deep.equal({ '.': { types: './dist/lib/index.d.ts', default: './dist/lib/index.js' }, './package.json': './package.json' });
      expect(packed.dependencies).not.to.have.property('tsx');
      expect(packed.optionalDependencies).to.have.property('tsx');
      for (const version of Object.values({ ...packed.dependencies, ...packed.optionalDependencies })) expect(version).to.match(/^\d+\.\d+\.\d+$/);
    });
  });

  describe('the embedding example against the packed types', function () {
    before(function () {
      const example = readFileSync(join(ROOT, 'examples/embed-in-express.ts'), 'utf8');
      const fromPackage = example.replace("from '../lib/index.js'", "from 'siesta'");
      expect(fromPackage, 'the example imports ../lib/index.js, replaced by siesta').not.to.equal(example);
      writeFileSync(join(project, 'embed-in-express.ts'), fromPackage);
      // A deliberate mistake, to show the check can fail: a name siesta does not export, and a
      // path the exports map does not open.
      writeFileSync(join(project, 'wrong.ts'), "import { notExported } from 'siesta';\nimport { ERROR_TABLE } from 'siesta/dist/lib/errors.js';\nexport const x = [notExported, ERROR_TABLE];\n");
      const compilerOptions = { target: 'ES2023', lib: ['ES2023'], module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noEmit: true, skipLibCheck: false, types: ['node'] };
      writeFileSync(join(project, 'tsconfig.json'), JSON.stringify({ compilerOptions, files: ['embed-in-express.ts'] }));
      writeFileSync(join(project, 'tsconfig.wrong.json'), JSON.stringify({ compilerOptions, files: ['wrong.ts'] }));
    });

    it("type-checks (strict, library files checked too) with siesta's types from the tarball", async function () {
      const checked = await run(process.execPath, [TSC, '-p', 'tsconfig.json', '--listFiles'], project);
      expect(checked.code, checked.stdout + checked.stderr).to.equal(0);
      expect(checked.stdout).to.include(join(pkg, 'dist/lib/index.d.ts'));
      expect(checked.stdout).not.to.include(join(ROOT, 'lib/'));
    });

    it('fails on a name siesta does not export and on a path outside the exports map', async function () {
      const checked = await run(process.execPath, [TSC, '-p', 'tsconfig.wrong.json'], project);
      expect(checked.code).not.to.equal(0);
      expect(checked.stdout).to.match(/wrong\.ts\(1,\d+\): error TS2305: Module '"siesta"' has no exported member 'notExported'/);
      expect(checked.stdout).to.match(/wrong\.ts\(2,\d+\): error TS2307: Cannot find module 'siesta\/dist\/lib\/errors\.js'/);
    });
  });

  describe('the packed package run without tsx', function () {
    const children = new Set<ChildProcess>();
    afterEach(async () => {
      for (const child of children) {
        if (child.exitCode === null && child.signalCode === null) {
          child.kill('SIGTERM');
          await once(child, 'exit');
        }
      }
      children.clear();
    });

    it('tsx is out of reach of the package', async function () {
      const probe = await run(process.execPath, ['--input-type=module', '-e', "await import('tsx')"], pkg);
      expect(probe.code).not.to.equal(0);
      expect(probe.stderr).to.include("Cannot find package 'tsx'");
    });

    it('the siesta command prints its version and checks the demo config', async function () {
      const version = await run(process.execPath, ['bin/siesta.js', '--version'], pkg);
      expect(version).to.include({ code: 0, stdout: 'siesta 0.1.0\n' });
      const check = await run(process.execPath, ['bin/siesta.js', 'check', '--config', 'config.example.yaml'], pkg);
      expect(check.stderr).to.equal('');
      expect(check.code).to.equal(0);
      expect(check.stdout.trimEnd().split('\n').map((line) => line.split(' ')[0])).to.deep.equal(['qwen-large', 'qwen-small', 'tiny-echo']);
      expect(check.stdout).to.include('cmd=node fake-upstream/bin/fake-upstream.js ');
    });

    it("runs the demo's fake upstream from dist/ (the command the demo config gives)", async function () {
      const port = await freePort();
      const child = spawn(process.execPath, ['fake-upstream/bin/fake-upstream.js', '--backend', 'generic', '--port', String(port)], { cwd: pkg, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NODE_OPTIONS: '' } });
      children.add(child);
      let output = '';
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
      await pollUntil(() => / ready on \S+ \(backend generic\)/.test(output) || child.exitCode !== null, { timeoutMs: 15_000, what: 'the fake upstream ready' });
      expect(child.exitCode, output).to.equal(null);
      const reply = await fetch(`http://127.0.0.1:${port}/v1/models`);
      expect(reply.status).to.equal(200);
      const running = readFileSync(`/proc/${child.pid}/cmdline`, 'utf8');
      expect(running).to.include('fake-upstream/bin/fake-upstream.js');
    });

    it('refuses a .ts plugin naming the plugin and saying to install tsx; a .js plugin loads', async function () {
      const dir = join(work, 'user');
      mkdirSync(join(dir, 'plugins'), { recursive: true });
      writeFileSync(join(dir, 'plugins/napd.ts'), "const plugin: { name: string; apiVersion: number } = { name: 'napd', apiVersion: 1 };\nexport default plugin;\n");
      writeFileSync(join(dir, 'plugins/pauser.js'), "export default { name: 'pauser', apiVersion: 1 };\n");
      writeFileSync(join(dir, 'config.yaml'), 'pluginDir: plugins\nmodels:\n  m:\n    cmd: pauser --port ${PORT}\n    backend: pauser\n');
      const refused = await run(process.execPath, [join(pkg, 'bin/siesta.js'), 'check', '--config', 'config.yaml'], dir);
      expect(refused.code, refused.stderr).to.equal(2);
      expect(refused.stderr).to.equal(`cannot load plugins:\n  ${join(dir, 'plugins/napd.ts')}: failed to load: a TypeScript plugin needs tsx, which is not installed: npm install tsx (or compile the plugin to .js)\n`);

      rmSync(join(dir, 'plugins/napd.ts'));
      const loaded = await run(process.execPath, [join(pkg, 'bin/siesta.js'), 'check', '--config', 'config.yaml'], dir);
      expect(loaded.stderr).to.equal('');
      expect(loaded.code).to.equal(0);
      expect(loaded.stdout).to.match(/^m {2}backend=pauser /);
    });

    it('without a usable dist/ the siesta command says to build or install tsx', async function () {
      const stamp = join(pkg, 'dist/.built');
      const built = readFileSync(stamp);
      rmSync(stamp);
      try {
        const result = await run(process.execPath, ['bin/siesta.js', '--version'], pkg);
        expect(result.code).to.equal(1);
        expect(result.stderr).to.equal('siesta: the compiled build (dist/) is missing or older than the TypeScript sources, and tsx, which runs the sources, is not installed: npm run build, or npm install tsx\n');
      } finally {
        writeFileSync(stamp, built);
      }
    });

    it('importing siesta sets no V8 flag and leaves Express prototypes alone; createExpressServer is the opt-in', async function () {
      const script = `
        import v8 from 'node:v8';
        import { syncBuiltinESMExports } from 'node:module';
        const flags = [];
        v8.setFlagsFromString = (flag) => flags.push(flag);
        syncBuiltinESMExports();
        const { default: express } = await import('express');
        const siesta = await import('siesta');
        const app = express();
        const untouched = Object.getPrototypeOf(app.request) === express.request;
        siesta.createExpressServer(app);
        const optedIn = Object.getPrototypeOf(app.request) !== express.request;
        console.log(JSON.stringify({ flags, held: globalThis[Symbol.for('siesta.youngGenerationHeld')] ?? null, untouched, optedIn, exports: Object.keys(siesta).sort() }));
      `;
      const result = await run(process.execPath, ['--input-type=module', '-e', script], project);
      expect(result.code, result.stderr).to.equal(0);
      const seen = JSON.parse(result.stdout) as { flags: string[]; held: unknown; untouched: boolean; optedIn: boolean; exports: string[] };
      expect(seen).to.include({ held: null, untouched: true, optedIn: true });
      expect(seen.flags).to.deep.equal([]);
      expect(seen.exports).to.include.members(['createGateway', 'createExpressServer']);
      expect(seen.exports.filter((name) => /young|flag/i.test(name))).to.deep.equal([]);
    });
  });
});

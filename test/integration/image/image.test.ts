/**
 * The container image that scripts/build-image.sh builds without a registry (.ci/run builds it
 * before the tests): the OCI archive's config says how it runs (entrypoint, port, user, stop
 * signal), its layer keeps siesta's state directories writable by that user, and the same root
 * filesystem, started through chroot(8) with the image's user, environment, working directory and
 * entrypoint, serves the demo configuration (fake upstreams) and stops cleanly on SIGTERM, leaving
 * no process inside.
 *
 * Outside CI, a missing image (or not being root) marks these tests pending with the reason; in CI
 * (CI=true) it fails them.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync, chownSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import { freeStartPort } from '../../helpers/ports.js';
import { freePort, pollUntil } from '../../helpers/wait.js';
import {
  chrootArgv,
  containerfileInstructions,
  findBuiltImage,
  layerListing,
  mountForChroot,
  processesInRoot,
  readArchive,
  REPO,
  unmount,
  type BuiltImage,
  type ImageConfig,
} from './support.js';

const IN_CI = process.env['CI'] === 'true';
const DEMO_START_PORT = /^startPort: 5800$/m;
const PACKAGE_VERSION = (JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { version: string }).version;
const CONTAINERFILE = containerfileInstructions(readFileSync(join(REPO, 'Containerfile'), 'utf8'));

describe('Containerfile (for people with a registry; CI builds the same image with scripts/build-image.sh)', function () {
  it('runs siesta through tini as uid 10001 on :8080 with the demo config, SIGTERM to stop, /health as health check', function () {
    expect(JSON.parse(CONTAINERFILE.get('ENTRYPOINT') ?? 'null')).to.deep.equal(['/usr/bin/tini', '-s', '--', 'siesta', '-listen', ':8080']);
    expect(JSON.parse(CONTAINERFILE.get('CMD') ?? 'null')).to.deep.equal(['-config', '/opt/siesta/config.example.yaml']);
    expect(CONTAINERFILE.get('USER')).to.equal('10001:10001');
    expect(CONTAINERFILE.get('EXPOSE')).to.equal('8080');
    expect(CONTAINERFILE.get('STOPSIGNAL')).to.equal('SIGTERM');
    expect(CONTAINERFILE.get('WORKDIR')).to.equal('/opt/siesta');
    expect(CONTAINERFILE.get('HEALTHCHECK')).to.include('http://127.0.0.1:8080/health');
  });

  it('labels the package.json version', function () {
    expect(CONTAINERFILE.get('LABEL')).to.include(`org.opencontainers.image.version="${PACKAGE_VERSION}"`);
  });
});

describe('the container image (scripts/build-image.sh)', function () {
  this.timeout(90_000);
  let image: BuiltImage;
  let config: ImageConfig;

  before(function () {
    const found = findBuiltImage();
    if (typeof found === 'string') {
      if (IN_CI) throw new Error(`CI=true and the image is missing: ${found} (.ci/run builds it with scripts/build-image.sh; log: test-artifacts/ci/image.log)`);
      console.log(`    container image: PENDING, ${found}`);
      this.skip();
    }
    image = found;
    console.log(`    container image: ${image.image} from ${image.archive}, root ${image.root}`);
    config = readArchive(image.archive, image.image).config;
  });

  it('the OCI archive runs siesta as a non-root user on :8080, stops it with SIGTERM, labels the version', function () {
    const { config: c, manifest, os } = readArchive(image.archive, image.image);
    expect(os).to.equal('linux');
    expect(c.Entrypoint).to.include('siesta');
    expect(c.Entrypoint?.slice(-2), 'entrypoint ends with -listen :8080').to.deep.equal(['-listen', ':8080']);
    expect(c.Cmd).to.deep.equal(['-config', `${image.appDir}/config.example.yaml`]);
    expect(c.ExposedPorts).to.have.property('8080/tcp');
    expect(c.StopSignal).to.equal('SIGTERM');
    expect(c.User, 'numeric uid:gid, not root').to.equal(`${image.uid}:${image.uid}`);
    expect(c.WorkingDir).to.equal(image.appDir);
    expect(c.Labels).to.include({ 'org.opencontainers.image.title': 'siesta', 'org.opencontainers.image.version': PACKAGE_VERSION });
    expect(manifest.layers).to.have.length.greaterThan(0);
    // The same runtime settings as the Containerfile's image.
    expect(c.Entrypoint).to.deep.equal(JSON.parse(CONTAINERFILE.get('ENTRYPOINT') ?? 'null'));
    expect(c.Cmd).to.deep.equal(JSON.parse(CONTAINERFILE.get('CMD') ?? 'null'));
    expect([c.User, c.WorkingDir]).to.deep.equal([CONTAINERFILE.get('USER'), CONTAINERFILE.get('WORKDIR')]);
  });

  it('its layer holds siesta, and the state directories belong to the image user', function () {
    const { manifest } = readArchive(image.archive, image.image);
    const entries = new Map<string, string>();
    for (const layer of manifest.layers) for (const [path, line] of layerListing(image.archive, layer)) entries.set(path, line);
    const app = image.appDir.replace(/^\//, '');
    for (const path of [`${app}/bin/siesta.js`, `${app}/config.example.yaml`, `${app}/node_modules/express/package.json`, 'usr/bin/node', 'usr/bin/tini', 'usr/local/bin/siesta']) {
      expect(entries.has(path), `${path} in the image`).to.equal(true);
    }
    for (const dir of [`${app}/.siesta-state`, 'var/lib/siesta']) {
      expect(entries.get(dir), dir).to.match(new RegExp(`^d\\S+ ${image.uid}/${image.uid} `));
    }
    expect(entries.get(`${app}/bin/siesta.js`), 'siesta.js owned by root').to.match(/^\S+ 0\/0 /);
  });

  describe('started through chroot as the image runs it', function () {
    let mounts: string[] = [];
    let child: ChildProcess | undefined;
    let workDir: string | undefined;
    let output = '';

    afterEach(async function () {
      if (child && child.exitCode === null && child.signalCode === null) {
        const exited = once(child, 'exit');
        child.kill('SIGKILL');
        await exited;
      }
      for (const { pid } of processesInRoot(image.root)) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone already
        }
      }
      await pollUntil(() => processesInRoot(image.root).length === 0, { timeoutMs: 5000, what: 'processes in the image root to end' });
      unmount(mounts);
      mounts = [];
      if (workDir) rmSync(workDir, { recursive: true, force: true });
      workDir = undefined;
      child = undefined;
      output = '';
    });

    it('serves the demo configuration (a chat to a fake model answers 200), then SIGTERM: exit 0, nothing left inside', async function () {
      expect(processesInRoot(image.root), 'nothing runs in the image root before the test').to.deep.equal([]);
      // The demo config as the image ships it, but with model ports (startPort) free on this host:
      // the chroot shares the host's network.
      const demo = readFileSync(join(image.root, image.appDir, 'config.example.yaml'), 'utf8');
      expect(demo).to.match(DEMO_START_PORT);
      // Below the kernel's ephemeral ports and apart from test/helpers/ports.ts's ranges (12000 up).
      const startPort = await freeStartPort(3, { from: 10_000, to: 11_900 });
      workDir = mkdtempSync(join(image.root, 'tmp/siesta-image-test-'));
      chownSync(workDir, image.uid, image.uid);
      chmodSync(workDir, 0o755);
      const configInRoot = `/tmp/${workDir.slice(workDir.lastIndexOf('/') + 1)}/config.yaml`;
      writeFileSync(join(workDir, 'config.yaml'), demo.replace(DEMO_START_PORT, `startPort: ${startPort}`));

      mounts = mountForChroot(image.root);
      const port = await freePort();
      // The user's CMD replaces the image's; a later -listen overrides the entrypoint's :8080.
      const argv = chrootArgv(image.root, config, ['-config', configInRoot, '-listen', `127.0.0.1:${port}`]);
      // chroot's own environment: PATH only; the image's Env is set inside by env -i.
      const started = spawn('chroot', argv, { stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env['PATH'] ?? '/usr/sbin:/usr/bin:/sbin:/bin' } });
      child = started;
      started.on('error', (error) => (output += `spawn chroot: ${error.message}\n`));
      started.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
      started.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
      const url = `http://127.0.0.1:${port}`;

      await pollUntil(
        async () => {
          if (started.exitCode !== null) throw new Error(`siesta exited with ${started.exitCode}`);
          return (await fetch(`${url}/health`)).status === 200;
        },
        { timeoutMs: 30_000, intervalMs: 100, what: `siesta in the image to answer /health; output:\n${output}` },
      );
      const response = await fetch(`${url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'tiny-echo', messages: [{ role: 'user', content: 'hello from the image test' }] }),
      });
      const body = (await response.json()) as { model?: string; choices?: unknown[] };
      expect(response.status, JSON.stringify(body)).to.equal(200);
      expect(body.choices).to.have.length.greaterThan(0);
      const inside = processesInRoot(image.root);
      expect(inside.some((p) => p.cmdline.includes('fake-upstream')), `the demo's fake upstream runs inside the root: ${JSON.stringify(inside)}`).to.equal(true);
      expect(inside.every((p) => readFileSync(`/proc/${p.pid}/status`, 'utf8').match(/^Uid:\s+(\d+)/m)?.[1] === String(image.uid)), 'every process runs as the image user').to.equal(true);

      const exited = once(started, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
      started.kill('SIGTERM');
      const [code, signal] = await exited;
      expect({ code, signal }, `siesta's exit; output:\n${output}`).to.deep.equal({ code: 0, signal: null });
      await pollUntil(() => processesInRoot(image.root).length === 0, {
        timeoutMs: 5000,
        what: `no process left in ${image.root}: ${JSON.stringify(processesInRoot(image.root))}`,
      });
    });
  });
});

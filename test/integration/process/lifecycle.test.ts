import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GatewayError } from '../../../lib/errors.js';
import { reapLeftovers, writePidFile, type PidRecord } from '../../../lib/process/pid-files.js';
import { genericPlugin } from '../../../plugins/generic.js';
import { vllmPlugin } from '../../../plugins/vllm.js';
import { freePort, isAlive, pollUntil } from '../../helpers/wait.js';
import { cleanUp, complete, createProcess, fakeCmd, fakeModel, serveOne, waitForState } from './harness.js';

async function failure(promise: Promise<unknown>): Promise<GatewayError> {
  const error = await promise.then(() => null, (caught: unknown) => caught);
  expect(error, 'expected a rejection').to.be.instanceOf(GatewayError);
  return error as GatewayError;
}

describe('model process lifecycle with a real fake upstream', function () {
  let stateDir: string;
  beforeEach(async function () {
    stateDir = await mkdtemp(join(tmpdir(), 'siesta-state-'));
  });
  afterEach(async function () {
    await cleanUp();
    await rm(stateDir, { recursive: true, force: true });
  });

  it('fails a start whose process exits early with start_failed naming the stderr line', async function () {
    const model = await fakeModel('generic', ['--fail-start', '--start-delay', '50ms']);
    const tracked = createProcess(model, genericPlugin);
    const error = await failure(tracked.process.acquire());
    expect(error.code).to.equal('start_failed');
    expect(error.status).to.equal(503);
    // The client's message is the short reason; the stderr line is in the detail, for the logs and admins.
    expect(error.message).to.equal('Model "generic-model" could not start: process exited early (code 1)');
    expect(error.detail).to.include('process exited early (code 1)');
    expect(error.detail).to.include("error: failed to load model 'generic-model': out of memory (--fail-start)");
    expect(tracked.path()).to.deep.equal(['stopped→starting', 'starting→stopped']);
    expect(tracked.changes.at(-1)!.reason).to.equal('start failed: process exited early (code 1)');
  });

  it('fails a start that never becomes ready within healthCheckTimeout, and kills the process', async function () {
    const model = await fakeModel('generic', [], { checkEndpoint: '/not-a-health-route', healthCheckTimeoutMs: 300 });
    const tracked = createProcess(model, genericPlugin);
    const spawned: number[] = [];
    tracked.process.logs.on('line', (line) => {
      const match = /^started pid (\d+)/.exec(line.text);
      if (match) spawned.push(Number(match[1]));
    });
    const error = await failure(tracked.process.acquire());
    expect(error.code).to.equal('start_failed');
    // The last check is ECONNREFUSED or HTTP 404, depending on how fast the child binds its port.
    expect(error.message).to.match(/could not start: health check timed out: not ready after \d+s \(last check: (ECONNREFUSED|HTTP 404)\)$/);
    expect(error.detail).to.match(/failed to start: not ready after \d+s \(last check: (ECONNREFUSED|HTTP 404)\)/);
    expect(spawned).to.have.length(1);
    expect(isAlive(spawned[0]!)).to.equal(false);
  });

  it('fails a start whose program does not exist', async function () {
    const tracked = createProcess(await fakeModel('generic', [], { cmd: ['/nonexistent/siesta-test-server'] }), genericPlugin);
    const error = await failure(tracked.process.acquire());
    expect(error.code).to.equal('start_failed');
    expect(error.message).to.match(/^Model "generic-model" could not start: its command could not be run/);
    expect(error.detail).to.include('/nonexistent/siesta-test-server');
  });

  it('SIGKILLs a server that ignores SIGTERM after unloadTimeout', async function () {
    const model = await fakeModel('generic', ['--ignore-sigterm'], { unloadTimeoutMs: 300 });
    const tracked = createProcess(model, genericPlugin);
    await serveOne(tracked, model);
    const pid = tracked.process.pid!;
    const started = performance.now();
    await tracked.process.stop('api');
    expect(performance.now() - started).to.be.at.least(290);
    expect(isAlive(pid)).to.equal(false);
    const log = tracked.process.logs.lines().map((line) => line.text);
    expect(log).to.include('fake-upstream: received SIGTERM, ignoring it (--ignore-sigterm)');
    expect(log).to.include('no exit 300 ms after SIGTERM: SIGKILL');
    expect(log.some((text) => /^process \d+ exited \(signal SIGKILL\)$/.test(text))).to.equal(true);
    expect(tracked.path().slice(-2)).to.deep.equal(['ready→stopping', 'stopping→stopped']);
  });

  it('stops with cmdStop, ${PID} replaced by the server pid', async function () {
    // cmdStop sends SIGINT (not what siesta would send itself) to the pid, so the log proves it ran.
    const model = await fakeModel('generic', [], { cmdStop: ['kill', '-INT', '${PID}'] });
    const tracked = createProcess(model, genericPlugin);
    await serveOne(tracked, model);
    const pid = tracked.process.pid!;
    await tracked.process.stop('api');
    expect(isAlive(pid)).to.equal(false);
    const log = tracked.process.logs.lines().map((line) => line.text);
    expect(log).to.include('fake-upstream: received SIGINT, shutting down');
    expect(log).not.to.include('fake-upstream: received SIGTERM, shutting down');
  });

  it('notices a server that exits by itself while ready (stopped) and starts it again on the next request', async function () {
    const model = await fakeModel('generic', ['--exit-after', '1']);
    const tracked = createProcess(model, genericPlugin);
    await serveOne(tracked, model);
    await waitForState(tracked, 'stopped');
    expect(tracked.changes.at(-1)!.reason).to.equal('exited (code 1)');
    const { lease, outcome } = await tracked.process.acquire();
    expect(outcome.action).to.equal('started');
    lease.release();
  });

  it('writes a pid file while the server runs and removes it when it stops', async function () {
    const model = await fakeModel('vllm', ['--enable-sleep-mode']);
    const tracked = createProcess(model, vllmPlugin, { stateDir });
    await serveOne(tracked, model);
    const [name] = await readdir(stateDir);
    const record = JSON.parse(await readFile(join(stateDir, name!), 'utf8')) as PidRecord;
    expect(name).to.equal(`${model.id.replaceAll('.', '%2E')}.${process.pid}-${record.gatewayStartTicks}.${tracked.process.pid}.pid.json`);
    expect(record).to.deep.include({ model: model.id, pid: tracked.process.pid, gatewayPid: process.pid });
    expect(record.startTicks).to.be.a('number');
    expect(record.gatewayStartTicks).to.be.a('number');
    expect(record.argv).to.deep.equal(model.cmd);
    // Asleep is still running: the file stays.
    await tracked.process.sleep('evicted');
    expect(await readdir(stateDir)).to.deep.equal([name]);
    await tracked.process.stop('api');
    expect(await readdir(stateDir)).to.deep.equal([]);
  });

  it('reaps a server left behind by a gateway that died (pid file, other gateway pid)', async function () {
    const port = await freePort();
    const argv = fakeCmd('generic', port, ['--ignore-sigterm']);
    const leftover = spawn(argv[0]!, argv.slice(1), { detached: true, stdio: 'ignore' });
    const pid = leftover.pid!;
    await pollUntil(() => fetch(`http://127.0.0.1:${port}/health`).then((response) => response.ok), { timeoutMs: 15_000, what: 'leftover to listen' });
    const record: PidRecord = { model: 'left/over', pid, argv, gatewayPid: 999_999_999, startedAt: new Date().toISOString() };
    await writePidFile(stateDir, record);
    // A pid file from this very gateway is not touched.
    await writePidFile(stateDir, { ...record, model: 'mine', gatewayPid: process.pid });
    const report = await reapLeftovers(stateDir, { graceMsFor: () => 200 });
    expect(report.reaped.map((reaped) => [reaped.record.model, reaped.signal, reaped.gone])).to.deep.equal([['left/over', 'SIGKILL', true]]);
    await pollUntil(() => !isAlive(pid), { what: 'leftover to be gone' });
    expect((await readdir(stateDir)).map((name) => name.split('.')[0])).to.deep.equal(['mine']);
  });

  it('does not signal a recorded pid that now runs another command (pid reuse), but drops its file', async function () {
    const port = await freePort();
    const argv = fakeCmd('generic', port);
    const other = spawn(argv[0]!, argv.slice(1), { detached: true, stdio: 'ignore' });
    const pid = other.pid!;
    try {
      await pollUntil(() => fetch(`http://127.0.0.1:${port}/health`).then((response) => response.ok), { timeoutMs: 15_000, what: 'process to listen' });
      // A file of an older version (no start times): the command line tells.
      await writePidFile(stateDir, { model: 'reused', pid, argv: [argv[0]!, '/some/other/server.py', '--port', '1'], startTicks: null, gatewayPid: 999_999_999, gatewayStartTicks: null, startedAt: new Date().toISOString() });
      // A current file: the start time tells, even when the command line is the same.
      await writePidFile(stateDir, { model: 'reused-too', pid, argv, startTicks: 1, gatewayPid: 999_999_999, startedAt: new Date().toISOString() });
      expect(await reapLeftovers(stateDir, { graceMsFor: () => 200 })).to.deep.equal({ reaped: [], othersLive: [] });
      expect(isAlive(pid)).to.equal(true);
      expect(await complete({ proxy: `http://127.0.0.1:${port}`, id: 'fake-model' } as Parameters<typeof complete>[0])).to.equal(200);
      expect(await readdir(stateDir)).to.deep.equal([]);
    } finally {
      process.kill(-pid, 'SIGKILL');
      await pollUntil(() => !isAlive(pid), { what: 'process to be gone' });
    }
  });
});

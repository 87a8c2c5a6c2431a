/**
 * The child runner alone (lib/process/child-runner.ts), with a fake spawner, HTTP client, port
 * guard and clock: no process, no socket. The owner's state machine is not involved.
 */
import { expect } from 'chai';
import { FakeClock } from '../../../lib/clock.js';
import type { ModelConfig } from '../../../lib/config/types.js';
import { silentLogger } from '../../../lib/logger.js';
import { ChildRunner } from '../../../lib/process/child-runner.js';
import { LogRing } from '../../../lib/process/log-ring.js';
import { genericPlugin } from '../../../plugins/generic.js';
import { makeModel } from '../../helpers/model-config.js';
import { pollUntil } from '../../helpers/wait.js';
import { FakeHttp, FakePortGuard, FakeSpawner, forbidSockets, runClock } from './doubles.js';

describe('ChildRunner (in-memory effects, fake clock)', function () {
  forbidSockets();
  let clock: FakeClock;
  let spawner: FakeSpawner;
  let http: FakeHttp;
  let ports: FakePortGuard;
  let crashes: string[];
  let logs: LogRing;

  beforeEach(function () {
    clock = new FakeClock();
    spawner = new FakeSpawner();
    http = new FakeHttp();
    ports = new FakePortGuard();
    crashes = [];
    logs = new LogRing();
  });

  afterEach(function () {
    expect(clock.pending, 'timers left armed').to.equal(0);
  });

  function runner(overrides: Partial<ModelConfig> = {}, checkEndpoint: string | null = '/health'): ChildRunner {
    const model = makeModel({ id: 'm', cmd: ['server', '--port', '5800'], port: 5800, unloadTimeoutMs: 100, healthCheckTimeoutMs: 1000, ...overrides });
    return new ChildRunner({
      model: () => model,
      plugin: genericPlugin,
      spawner,
      http,
      portGuard: ports,
      clock,
      log: silentLogger,
      logs,
      stateDir: null,
      upstream: 'http://127.0.0.1:5800',
      checkEndpoint,
      localTarget: { host: '127.0.0.1', port: 5800 },
      onUnexpectedExit: (how) => crashes.push(how),
    });
  }

  const never = new Promise<string>(() => undefined);

  it('checks the port, spawns, waits for the health check and the listener owner', async function () {
    const child = runner({ env: { A: '1' } });
    expect(await child.start(never)).to.deep.equal({ ok: true });
    expect(child.alive).to.equal(true);
    expect(child.pid).to.equal(spawner.last.pid);
    expect(spawner.spawned[0]!.env).to.deep.equal({ A: '1' });
    expect(ports.calls).to.deep.equal(['holder 127.0.0.1:5800', `owner 5800 pid ${spawner.last.pid}`]);
    expect(http.calls.map((call) => call.path)).to.deep.equal(['/health']);
    await child.kill();
  });

  it('refuses a taken port without spawning', async function () {
    ports.holderIs = { description: 'pid 77 (squatter)', commandLine: '' };
    const result = await runner().start(never);
    expect(result.ok).to.equal(false);
    expect(!result.ok && result.stateReason).to.equal('port in use');
    expect(spawner.spawned).to.have.length(0);
  });

  it('times out the health check on the clock and leaves nothing running', async function () {
    http.override = () => 503;
    const child = runner();
    const result = await runClock(clock, child.start(never), 50);
    expect(!result.ok && result.stateReason).to.equal('start failed: not ready after 1s (last check: HTTP 503)');
    expect(!result.ok && result.error.message).to.equal('Model "m" could not start: health check timed out: not ready after 1s (last check: HTTP 503)');
    expect(spawner.last.alive).to.equal(false);
    expect(child.alive).to.equal(false);
  });

  it('gives up when abandoned (a shutdown) while waiting', async function () {
    http.override = () => Object.assign(new Error('refused'), { code: 'ECONNREFUSED' });
    const result = await runner().start(Promise.resolve('the gateway is shutting down'));
    expect(!result.ok && result.stateReason).to.equal('start failed: the gateway is shutting down');
  });

  it('kill: SIGTERM, then SIGKILL to the group after unloadTimeout on the clock', async function () {
    spawner.signalGroup = function (pid, signal) {
      this.signals.push({ pid, signal });
      if (signal === 'SIGKILL') this.spawned.find((entry) => entry.child.pid === pid)?.child.exit(null, 'SIGKILL');
      return true;
    };
    const child = runner({}, null);
    await child.start(never);
    const killing = child.kill();
    await pollUntil(() => clock.pending === 1, { what: 'the grace timer' });
    clock.advance(100);
    await killing;
    expect(spawner.signals.map((sent) => sent.signal)).to.deep.equal(['SIGTERM', 'SIGKILL']);
    expect(logs.lines().map((line) => line.text)).to.include('no exit 100 ms after SIGTERM: SIGKILL');
    expect(crashes, 'an expected exit is no crash').to.deep.equal([]);
  });

  it('reports an unexpected exit once, after killing what the leader left', async function () {
    const child = runner({}, null);
    await child.start(never);
    const pid = spawner.last.pid;
    spawner.last.exit(137, null);
    await pollUntil(() => crashes.length === 1, { what: 'the crash report' });
    expect(crashes).to.deep.equal(['code 137']);
    expect(spawner.signals).to.deep.equal([{ pid, signal: 'SIGKILL' }]);
    expect(child.alive).to.equal(false);
  });
});

import { expect } from 'chai';
import { FakeClock } from '../../../lib/clock.js';
import type { IdleStep, ModelConfig } from '../../../lib/config/types.js';
import { GatewayError } from '../../../lib/errors.js';
import type { BackendPlugin } from '../../../lib/plugins/types.js';
import { ModelProcess, type Lease } from '../../../lib/process/model-process.js';
import { canTransition, type ModelState } from '../../../lib/process/states.js';
import { genericPlugin } from '../../../plugins/generic.js';
import { llamaServerPlugin } from '../../../plugins/llama-server.js';
import { vllmPlugin } from '../../../plugins/vllm.js';
import { makeModel } from '../../helpers/model-config.js';
import { pollUntil } from '../../helpers/wait.js';
import { FakeHttp, FakePortGuard, FakeSpawner, forbidSockets, recordStates } from './doubles.js';

const MINUTE = 60_000;
const timeouts = { sleepTimeoutMs: 1000, wakeTimeoutMs: 1000 };

describe('ModelProcess (in-memory effects, fake clock)', function () {
  forbidSockets();
  let clock: FakeClock;
  let spawner: FakeSpawner;
  let http: FakeHttp;
  let ports: FakePortGuard;
  let models: ModelProcess[];
  let recorders: ReturnType<typeof recordStates>[];

  beforeEach(function () {
    clock = new FakeClock();
    spawner = new FakeSpawner();
    http = new FakeHttp();
    ports = new FakePortGuard();
    models = [];
    recorders = [];
  });

  afterEach(async function () {
    for (const model of models) await model.shutdown();
    // Every change any test saw is allowed by the table and continues from the previous state.
    for (const recorder of recorders) {
      let previous: ModelState = 'stopped';
      for (const change of recorder.changes) {
        expect(change.from, recorder.path().join(' ')).to.equal(previous);
        expect(canTransition(change.from, change.to), `${change.from}→${change.to}`).to.equal(true);
        previous = change.to;
      }
    }
    expect(clock.pending, 'timers left armed after shutdown').to.equal(0);
  });

  function create(overrides: Partial<ModelConfig> = {}, plugin: BackendPlugin = vllmPlugin): { model: ModelProcess; states: ReturnType<typeof recordStates> } {
    const model = new ModelProcess({
      model: makeModel({ id: 'm', cmd: ['server', '--port', '5800'], port: 5800, ...overrides }),
      plugin,
      timeouts,
      spawner,
      http,
      portGuard: ports,
      clock,
    });
    models.push(model);
    const states = recordStates(model);
    recorders.push(states);
    return { model, states };
  }

  const waitFor = (model: ModelProcess, state: ModelState): Promise<boolean> =>
    pollUntil(() => model.state === state, { timeoutMs: 2000, what: `${model.id} to be ${state} (is ${model.state})` });

  async function use(model: ModelProcess): Promise<void> {
    const { lease } = await model.acquire();
    lease.release();
  }

  describe('start', function () {
    it('goes stopped → starting → ready and spawns with the plugin env under the model env', async function () {
      const { model, states } = create({ env: { EXTRA: 'x' } });
      const { lease, outcome } = await model.acquire();
      expect(outcome.action).to.equal('started');
      expect(states.path()).to.deep.equal(['stopped→starting', 'starting→ready']);
      expect(states.changes.map((change) => change.reason)).to.deep.equal(['request', 'request']);
      expect(spawner.spawned).to.have.length(1);
      expect(spawner.spawned[0]!.argv).to.deep.equal(['server', '--port', '5800']);
      expect(spawner.spawned[0]!.env).to.deep.equal({ VLLM_SERVER_DEV_MODE: '1', EXTRA: 'x' });
      expect(model.inFlight).to.equal(1);
      lease.release();
      lease.release(); // idempotent
      expect(model.inFlight).to.equal(0);
    });

    it('lets the model env override the plugin defaults', async function () {
      const { model } = create({ env: { VLLM_SERVER_DEV_MODE: '0' } });
      await use(model);
      expect(spawner.spawned[0]!.env).to.deep.equal({ VLLM_SERVER_DEV_MODE: '0' });
    });

    it('shares one start among concurrent callers', async function () {
      const { model, states } = create();
      const results = await Promise.all([model.acquire(), model.acquire(), model.acquire()]);
      expect(spawner.spawned).to.have.length(1);
      expect(states.path()).to.deep.equal(['stopped→starting', 'starting→ready']);
      expect(model.inFlight).to.equal(3);
      for (const { lease } of results) lease.release();
    });

    it('skips readiness polling when checkEndpoint is none', async function () {
      const { model } = create({ checkEndpoint: null });
      await use(model);
      expect(http.calls).to.deep.equal([]);
      expect(model.state).to.equal('ready');
    });

    it('fails with start_failed and the log tail when the process exits early', async function () {
      http.override = () => Object.assign(new Error('refused'), { code: 'ECONNREFUSED' });
      const { model, states } = create();
      const acquiring = model.acquire();
      await pollUntil(() => spawner.spawned.length === 1);
      spawner.last.stderr.write('error: model file not found\n');
      await pollUntil(() => model.logs.lines().some((line) => line.text === 'error: model file not found'));
      spawner.last.exit(1, null);
      const error = await acquiring.then(() => null, (caught: unknown) => caught);
      expect(error).to.be.instanceOf(GatewayError);
      expect((error as GatewayError).code).to.equal('start_failed');
      expect((error as GatewayError).message).to.equal('Model "m" could not start: process exited early (code 1)');
      expect((error as GatewayError).detail).to.include('process exited early (code 1)').and.include('error: model file not found');
      expect(states.path()).to.deep.equal(['stopped→starting', 'starting→stopped']);
      expect(model.state).to.equal('stopped');
    });

    it('fails with start_failed when the spawn itself fails', async function () {
      spawner.spawn = () => Promise.reject(new Error('cannot start server: ENOENT'));
      const { model, states } = create();
      const error = await model.acquire().then(() => null, (caught: unknown) => caught);
      expect((error as GatewayError).code).to.equal('start_failed');
      expect((error as GatewayError).message).to.match(/^Model "m" could not start: its command could not be run/);
      expect((error as GatewayError).detail).to.include('ENOENT');
      expect(states.path()).to.deep.equal(['stopped→starting', 'starting→stopped']);
    });

    it('the state change that ends a failed start carries the error acquire rejects with (the scheduler rejects with it); no other change carries one', async function () {
      spawner.spawn = () => Promise.reject(new Error('cannot start server: ENOENT'));
      const { model } = create();
      const failures: [string, unknown][] = [];
      model.on('state', (change, failure) => failures.push([change.to, failure]));
      const error = await model.acquire().then(() => null, (caught: unknown) => caught);
      expect(failures.map(([to]) => to)).to.deep.equal(['starting', 'stopped']);
      expect(failures[0]![1]).to.equal(undefined);
      expect(failures[1]![1]).to.be.instanceOf(GatewayError).and.to.equal(error);
    });
  });

  describe('sleep and wake', function () {
    it('sleeps with the level-1 recipe, confirms, and wakes with warm-up on the next acquire', async function () {
      const { model, states } = create();
      await use(model);
      http.calls.length = 0;
      expect(await model.sleep('evicted')).to.equal('asleep');
      expect(model.asleepLevel).to.equal(1);
      expect(states.changes.at(-1)).to.deep.include({ from: 'sleeping', to: 'asleep', reason: 'evicted (level 1)' });
      const { lease, outcome } = await model.acquire();
      expect(outcome.action).to.equal('woke');
      lease.release();
      expect(http.lifecycle()).to.deep.equal([
        'POST /sleep?level=1',
        'GET /is_sleeping',
        'POST /wake_up',
        'GET /is_sleeping',
        'GET /v1/models',
        'POST /v1/completions',
      ]);
      expect(states.path()).to.deep.equal(['stopped→starting', 'starting→ready', 'ready→sleeping', 'sleeping→asleep', 'asleep→waking', 'waking→ready']);
    });

    it('waits for an outstanding lease before calling the sleep endpoint', async function () {
      const { model } = create();
      const { lease } = await model.acquire();
      http.calls.length = 0;
      const sleeping = model.sleep('evicted');
      await waitFor(model, 'sleeping');
      expect(http.lifecycle()).to.deep.equal([]);
      lease.release();
      expect(await sleeping).to.equal('asleep');
      expect(http.lifecycle()[0]).to.equal('POST /sleep?level=1');
    });

    it('falls back to a stop when a sleep step answers non-2xx', async function () {
      http.override = (_method, path) => (path.startsWith('/sleep') ? 500 : undefined);
      const { model, states } = create();
      await use(model);
      expect(await model.sleep('evicted')).to.equal('stopped');
      expect(states.path().slice(-3)).to.deep.equal(['ready→sleeping', 'sleeping→stopping', 'stopping→stopped']);
      expect(states.changes.at(-1)!.reason).to.equal('sleep failed: sleep step POST /sleep?level=1 answered HTTP 500');
      expect(spawner.last.alive).to.equal(false);
    });

    it('stops a model whose plugin cannot sleep', async function () {
      const { model, states } = create({}, genericPlugin);
      await use(model);
      expect(model.canSleep()).to.equal(false);
      expect(await model.sleep('evicted')).to.equal('stopped');
      expect(states.changes.at(-1)!.reason).to.equal('evicted (cannot sleep)');
    });

    it('cold-starts when the wake fails', async function () {
      const { model, states } = create();
      await use(model);
      await model.sleep('evicted');
      http.override = (_method, path) => (path.startsWith('/wake_up') ? 500 : undefined);
      const { lease, outcome } = await model.acquire();
      lease.release();
      expect(outcome.action).to.equal('started');
      expect(spawner.spawned).to.have.length(2);
      expect(states.path().slice(-5)).to.deep.equal(['asleep→waking', 'waking→stopping', 'stopping→stopped', 'stopped→starting', 'starting→ready']);
    });

    it('shares one wake among concurrent callers', async function () {
      const { model } = create();
      await use(model);
      await model.sleep('evicted');
      http.calls.length = 0;
      const results = await Promise.all([model.acquire(), model.acquire(), model.acquire()]);
      for (const { lease } of results) lease.release();
      expect(http.lifecycle().filter((call) => call === 'POST /wake_up')).to.have.length(1);
    });

    it('stops via cmdStop with ${PID} substituted', async function () {
      const { model } = create({ cmdStop: ['kill', '-TERM', '${PID}'], unloadTimeoutMs: 50 });
      await use(model);
      const pid = model.pid!;
      // The fake cmdStop does nothing, so the group gets SIGKILL after the grace period (on the clock).
      const stopping = model.stop('api');
      await pollUntil(() => clock.pending === 1, { what: 'the kill grace timer' });
      clock.advance(49);
      await Promise.resolve();
      expect(spawner.last.alive, 'still in its grace').to.equal(true);
      clock.advance(1);
      await stopping;
      expect(spawner.runs).to.deep.equal([['kill', '-TERM', String(pid)]]);
      expect(spawner.signals.map((sent) => sent.signal)).to.deep.equal(['SIGKILL']);
      expect(model.logs.lines().map((line) => line.text)).to.include('no exit 50 ms after SIGTERM: SIGKILL');
    });
  });

  describe('idle ladder', function () {
    const ladder: IdleStep[] = [
      { afterMs: 5 * MINUTE, action: 'sleep', level: 1 },
      { afterMs: 30 * MINUTE, action: 'sleep', level: 2 },
      { afterMs: 120 * MINUTE, action: 'stop' },
    ];

    it('steps ready → asleep L1 → asleep L2 → stopped, measured from the last completed request', async function () {
      const { model, states } = create({ idle: ladder });
      await use(model);
      clock.advance(5 * MINUTE - 1);
      expect(model.state).to.equal('ready');
      clock.advance(1);
      await waitFor(model, 'asleep');
      expect(model.asleepLevel).to.equal(1);
      clock.advance(25 * MINUTE - 1);
      expect(model.asleepLevel).to.equal(1);
      clock.advance(1);
      await pollUntil(() => model.asleepLevel === 2, { timeoutMs: 2000, what: 'level 2' });
      // Deepening a sleep wakes the model briefly; the event says why, and it does not count as use.
      expect(states.changes.find((change) => change.to === 'waking')!.reason).to.equal('wake for deeper sleep (level 2)');
      clock.advance(90 * MINUTE - 1);
      expect(model.state, '1 ms before the stop rung').to.equal('asleep');
      clock.advance(1);
      await waitFor(model, 'stopped');
      expect(clock.pending).to.equal(0);
    });

    it('never fires while a request is in flight; restarts from the release', async function () {
      const { model } = create({ idle: ladder });
      const { lease } = await model.acquire();
      clock.advance(10 * 60 * MINUTE);
      expect(model.state).to.equal('ready');
      lease.release();
      clock.advance(5 * MINUTE - 1);
      expect(model.state).to.equal('ready');
      clock.advance(1);
      await waitFor(model, 'asleep');
    });

    it('starts over after a request wakes the model', async function () {
      const { model } = create({ idle: ladder });
      await use(model);
      clock.advance(5 * MINUTE);
      await waitFor(model, 'asleep');
      await use(model);
      expect(model.state).to.equal('ready');
      clock.advance(5 * MINUTE - 1);
      expect(model.state).to.equal('ready');
      clock.advance(1);
      await waitFor(model, 'asleep');
      expect(model.asleepLevel).to.equal(1);
    });

    it('ttl as a single stop step stops a ready model', async function () {
      const { model, states } = create({ idle: [{ afterMs: 10 * MINUTE, action: 'stop' }] });
      await use(model);
      clock.advance(10 * MINUTE);
      await waitFor(model, 'stopped');
      expect(states.changes.at(-1)!.reason).to.equal('idle 600s');
    });

    it('continues the ladder of a model that was evicted to level 2 (only the stop is left)', async function () {
      const { model } = create({ idle: ladder });
      await use(model);
      await model.sleep('evicted', 2);
      http.calls.length = 0;
      clock.advance(120 * MINUTE - 1);
      expect(model.state).to.equal('asleep');
      expect(http.lifecycle()).to.deep.equal([]);
      clock.advance(1);
      await waitFor(model, 'stopped');
    });

    it('does not arm timers for a model that cannot sleep when the rung is a sleep (falls back to stop)', async function () {
      const { model } = create({ idle: [{ afterMs: MINUTE, action: 'sleep', level: 1 }] }, genericPlugin);
      await use(model);
      clock.advance(MINUTE);
      await waitFor(model, 'stopped');
    });
  });

  describe('self-sleeping backend (llama-server)', function () {
    it('polls /props on the clock while ready and reports the change', async function () {
      let sleeping = false;
      http.request = function (request) {
        const path = new URL(request.url).pathname;
        this.calls.push({ method: request.method ?? 'GET', path });
        if (path === '/props') return Promise.resolve({ status: 200, body: JSON.stringify({ is_sleeping: sleeping }) });
        return Promise.resolve({ status: 200, body: '' });
      };
      const { model } = create({}, llamaServerPlugin);
      const seen: boolean[] = [];
      model.on('self-sleep', ({ asleep }) => seen.push(asleep));
      await use(model);
      expect(await model.refreshSelfSleep()).to.equal(false);
      sleeping = true;
      clock.advance(2000);
      await pollUntil(() => model.selfAsleep === true, { timeoutMs: 2000, what: 'self-sleep reported' });
      sleeping = false;
      clock.advance(2000);
      await pollUntil(() => model.selfAsleep === false, { timeoutMs: 2000, what: 'self-wake reported' });
      expect(seen).to.deep.equal([false, true, false]);
      // Eviction stops it: there is no HTTP sleep.
      expect(await model.sleep('evicted')).to.equal('stopped');
    });
  });

  describe('the port and the process that answers on it', function () {
    it('refuses to start when the port is taken, without spawning', async function () {
      ports.holderIs = { description: 'pid 77 (squatter)', commandLine: 'squatter --port 5800' };
      const { model, states } = create({ port: null, proxy: 'http://127.0.0.1:5800' });
      const error = await model.acquire().then(() => null, (caught: unknown) => caught);
      expect((error as GatewayError).code).to.equal('start_failed');
      expect((error as GatewayError).message, 'API clients learn no more than that').to.match(/could not start: port 5800 is already in use$/);
      expect((error as GatewayError).detail).to.include('port 5800 is already in use by pid 77 (squatter)');
      expect(spawner.spawned).to.have.length(0);
      expect(http.calls).to.deep.equal([]);
      expect(states.path()).to.deep.equal(['stopped→starting', 'starting→stopped']);
      expect(model.logs.lines().map((line) => line.text).join('\n')).to.include('squatter --port 5800');
    });

    it('checks the port, then after the health check that the child owns the listener', async function () {
      const { model } = create();
      await use(model);
      expect(ports.calls).to.deep.equal(['holder 127.0.0.1:5800', `owner 5800 pid ${spawner.last.pid}`]);
    });

    it('fails the start when another process answers, and stops the child', async function () {
      ports.ownerIs = { kind: 'foreign', holder: { description: 'pid 77 (squatter)', commandLine: '' } };
      const { model, states } = create();
      const error = await model.acquire().then(() => null, (caught: unknown) => caught);
      expect((error as GatewayError).code).to.equal('start_failed');
      expect((error as GatewayError).message).to.equal('Model "m" could not start: another process answers on port 5800');
      expect((error as GatewayError).detail).to.include('port 5800 is answered by another process, pid 77 (squatter)');
      expect(spawner.last.alive).to.equal(false);
      expect(states.path()).to.deep.equal(['stopped→starting', 'starting→stopped']);
    });

    it('fails the start when the child exited even though the health check passed', async function () {
      ports.owner = async (port, pid) => {
        ports.calls.push(`owner ${port} pid ${pid}`);
        spawner.last.stderr.write('bind: address already in use\n');
        spawner.last.exit(1, null);
        await spawner.last.exited;
        return { kind: 'unknown', reason: 'test', firstTime: false };
      };
      const { model } = create();
      const error = await model.acquire().then(() => null, (caught: unknown) => caught);
      expect((error as GatewayError).message).to.equal('Model "m" could not start: process exited early (code 1)');
      expect((error as GatewayError).detail).to.include('process exited early (code 1)').and.include('bind: address already in use');
      expect(model.state).to.equal('stopped');
    });

    it('starts when /proc cannot tell (unknown owner) or sees no listener', async function () {
      ports.ownerIs = { kind: 'unknown', reason: '/proc/net/tcp cannot be read', firstTime: true };
      const { model } = create();
      await use(model);
      expect(model.state).to.equal('ready');
      ports.ownerIs = { kind: 'no-listener' };
      await model.stop('test');
      await use(model);
      expect(model.state).to.equal('ready');
    });

    it('does not tie the listener to a container command (docker publishes the port itself)', async function () {
      const { model } = create({ cmd: ['/usr/bin/docker', 'run', '--rm', '-p', '5800:8000', 'image'] });
      await use(model);
      expect(ports.calls).to.deep.equal(['holder 127.0.0.1:5800']);
    });

    it('cold-starts when the process died during a wake, even though the wake steps were answered', async function () {
      const { model, states } = create();
      await use(model);
      expect(await model.sleep('test')).to.equal('asleep');
      http.override = (_method, path) => {
        if (path !== '/wake_up') return undefined;
        spawner.last.exit(1, null); // answered by something else on the port
        http.asleep = false;
        return 200;
      };
      const { lease, outcome } = await model.acquire();
      lease.release();
      expect(outcome.action).to.equal('started');
      expect(spawner.spawned).to.have.length(2);
      expect(states.path().slice(-5)).to.deep.equal(['asleep→waking', 'waking→stopping', 'stopping→stopped', 'stopped→starting', 'starting→ready']);
      expect(states.changes.at(-3)!.reason).to.include('the model process exited during the wake');
    });

    it('checks nothing for a model server on another machine', async function () {
      const { model } = create({ proxy: 'http://10.1.2.3:8000', port: null });
      await use(model);
      expect(ports.calls).to.deep.equal([]);
    });

    it('opens no socket to the model\'s port (the unit tests run while a demo listens there)', async function () {
      // forbidSockets() fails any test of this file that connects or listens; this one walks every operation.
      const { model } = create({ port: 5800, proxy: 'http://127.0.0.1:5800' });
      await use(model);
      expect(await model.sleep('test')).to.equal('asleep');
      await use(model);
      await model.stop('test');
      expect(ports.calls.length, 'the port checks went to the fake guard').to.be.greaterThan(0);
    });
  });

  describe('checkEndpoint: the model\'s, else the plugin\'s default, else /health', function () {
    const napd: BackendPlugin = { name: 'napd', apiVersion: 1, defaults: { checkEndpoint: '/ready' } };
    const cases: [string, string | null | undefined, BackendPlugin, string | null][] = [
      ['unset, plugin default', undefined, napd, '/ready'],
      ['unset, no plugin default', undefined, { name: 'bare', apiVersion: 1 }, '/health'],
      ['set wins over the plugin', '/v1/models', napd, '/v1/models'],
      ['none wins over the plugin', null, napd, null],
    ];
    for (const [name, own, plugin, polled] of cases) {
      it(name, async function () {
        const { model } = create({ checkEndpoint: own }, plugin);
        await use(model);
        expect(model.checkEndpoint).to.equal(polled);
        expect(http.calls.map((call) => call.path)).to.deep.equal(polled === null ? [] : [polled]);
      });
    }
  });

  describe('a proxy URL with a path', function () {
    it('prefixes the path to the health check, sleep and wake steps, the confirmation and the warm-up', async function () {
      http.basePath = '/base';
      const { model } = create({ proxy: 'http://127.0.0.1:5800/base' });
      await use(model);
      expect(await model.sleep('test')).to.equal('asleep');
      await use(model);
      expect(http.calls.map((call) => `${call.method} ${call.path}`)).to.deep.equal([
        'GET /base/health',
        'POST /base/sleep?level=1',
        'GET /base/is_sleeping',
        'POST /base/wake_up',
        'GET /base/is_sleeping',
        'GET /base/v1/models',
        'POST /base/v1/completions',
      ]);
    });
  });

  describe('shutdown', function () {
    it('stops, cancels the timers and refuses later requests', async function () {
      const { model, states } = create({ idle: [{ afterMs: MINUTE, action: 'stop' }] });
      await use(model);
      expect(clock.pending).to.equal(1);
      await model.shutdown();
      expect(clock.pending).to.equal(0);
      expect(states.path().slice(-3)).to.deep.equal(['ready→stopping', 'stopping→stopped', 'stopped→shutdown']);
      const error = await model.acquire().then(() => null, (caught: unknown) => caught);
      expect((error as GatewayError).code).to.equal('shutting_down');
      expect(await model.sleep('evicted')).to.equal('stopped');
    });

    it('can shut down a model that never started', async function () {
      const { model, states } = create();
      await model.shutdown();
      expect(states.path()).to.deep.equal(['stopped→shutdown']);
    });

    it('keeps leases counted across a stop (release after stop is harmless)', async function () {
      const { model } = create({ idle: [{ afterMs: MINUTE, action: 'stop' }] });
      const { lease }: { lease: Lease } = await model.acquire();
      await model.stop('api');
      lease.release();
      expect(model.inFlight).to.equal(0);
      expect(model.state).to.equal('stopped');
      expect(clock.pending).to.equal(0);
    });
  });
});

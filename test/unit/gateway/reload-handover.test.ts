/**
 * The config reload hand-over between two managers (lib/gateway/reload-handover.ts), with in-memory
 * processes and a fake clock: what the new scheduler is told about what it takes over, the
 * retirement of replaced processes, and queued requests moving to the next manager.
 */
import { expect } from 'chai';
import { FakeClock } from '../../../lib/clock.js';
import { GatewayError } from '../../../lib/errors.js';
import { forwardWaiters, retireReplaced, takeOver } from '../../../lib/gateway/reload-handover.js';
import type { Retiring } from '../../../lib/gateway/reload-plan.js';
import type { AcquireOptions, ModelAccess } from '../../../lib/gateway/types.js';
import { Waiters } from '../../../lib/gateway/waiters.js';
import { silentLogger } from '../../../lib/logger.js';
import { ModelProcess } from '../../../lib/process/model-process.js';
import type { SchedulerEvent } from '../../../lib/scheduler/types.js';
import { vllmPlugin } from '../../../plugins/vllm.js';
import { makeModel } from '../../helpers/model-config.js';
import { FakeHttp, FakePortGuard, FakeSpawner, forbidSockets } from '../process/doubles.js';

describe('reload hand-over (in-memory processes, fake clock)', function () {
  forbidSockets();
  let clock: FakeClock;
  let processes: ModelProcess[];

  beforeEach(function () {
    clock = new FakeClock();
    processes = [];
  });

  afterEach(async function () {
    for (const process of processes) await process.shutdown();
    expect(clock.pending, 'timers left armed').to.equal(0);
  });

  function create(id: string): ModelProcess {
    const process = new ModelProcess({
      model: makeModel({ id, cmd: ['server', '--port', '5800'], port: 5800 }),
      plugin: vllmPlugin,
      timeouts: { sleepTimeoutMs: 1000, wakeTimeoutMs: 1000 },
      spawner: new FakeSpawner(),
      http: new FakeHttp(),
      portGuard: new FakePortGuard(),
      clock,
    });
    processes.push(process);
    return process;
  }

  const label = (event: SchedulerEvent): string =>
    event.type === 'state' ? `state ${event.model} ${event.state}` : event.type === 'request' || event.type === 'serve-done' || event.type === 'cancel' ? `${event.type} ${event.requestId}` : event.type;

  it('an adopted ready process: the scheduler hears its state, and its requests in flight as one grant until they end', async function () {
    const adopted = create('a');
    const { lease } = await adopted.acquire();
    const events: string[] = [];
    takeOver({ adopt: new Map([['a', adopted]]) }, { processes: new Map([['a', adopted]]), apply: (event) => events.push(label(event)), retiring: new Set(), closed: () => false });
    expect(events).to.deep.equal(['state a ready', 'request adopted-a']);
    lease.release();
    expect(events.at(-1)).to.equal('serve-done adopted-a');
  });

  it('a retiring process in the way: the model is releasing until it has stopped, then the new process\'s state counts', async function () {
    const fresh = create('a');
    let stopped!: () => void;
    const old: Retiring = { process: create('a'), stopped: new Promise<void>((resolve) => (stopped = resolve)) };
    const retiring = new Set<Retiring>();
    const events: string[] = [];
    takeOver({ retiring: [old] }, { processes: new Map([['a', fresh]]), apply: (event) => events.push(label(event)), retiring, closed: () => false });
    expect(events).to.deep.equal(['state a stopping']);
    expect([...retiring]).to.deep.equal([old]);
    stopped();
    await old.stopped;
    expect(events).to.deep.equal(['state a stopping', 'state a stopped']);
    expect(retiring.size).to.equal(0);
  });

  it('retireReplaced: adopts the kept, retires the restarted and removed (they stop for good)', async function () {
    const [kept, restarted, removed] = [create('kept'), create('restarted'), create('removed')];
    await restarted.acquire().then(({ lease }) => lease.release());
    const owned = new Map([kept, restarted, removed].map((process) => [process.id, process]));
    const { adopt, retired } = retireReplaced({ adopt: ['kept'], updated: [], restart: ['restarted'], added: ['new'], removed: ['removed'] }, owned, silentLogger);
    expect([...adopt.keys()]).to.deep.equal(['kept']);
    expect(retired.map((old) => old.process.id)).to.deep.equal(['restarted', 'removed']);
    await Promise.all(retired.map((old) => old.stopped));
    expect([kept.state, restarted.state, removed.state]).to.deep.equal(['stopped', 'shutdown', 'shutdown']);
  });

  it('forwardWaiters: each waiting request leaves this scheduler and asks the next manager, keeping its signal and its wait', async function () {
    const waiters = new Waiters();
    const controller = new AbortController();
    const first = waiters.add('r1', 'a', { signal: controller.signal }, () => expect.fail('not cancelled here'));
    const second = waiters.add('r2', 'b', { signal: new AbortController().signal }, () => expect.fail('not cancelled here'));
    const cancelled: string[] = [];
    const asked: { id: string; signal: AbortSignal }[] = [];
    const access: ModelAccess = { lease: { release: () => undefined }, outcome: { action: 'started', ms: 5 }, waitedMs: -1 };
    const next = {
      acquire(id: string, options: AcquireOptions): Promise<ModelAccess> {
        asked.push({ id, signal: options.signal });
        return id === 'a' ? Promise.resolve(access) : Promise.reject(new GatewayError('start_failed', 'no'));
      },
    };
    forwardWaiters(waiters, (requestId) => cancelled.push(requestId), next);
    expect(cancelled).to.deep.equal(['r1', 'r2']);
    expect(asked.map((ask) => ask.id)).to.deep.equal(['a', 'b']);
    expect(asked[0]!.signal).to.equal(controller.signal);
    const granted = await first;
    expect(granted.outcome).to.deep.equal({ action: 'started', ms: 5 });
    expect(granted.waitedMs, 'counted from the first ask, not the next manager\'s').to.be.at.least(0);
    expect(await second.then(() => 'granted', (error: GatewayError) => error.message)).to.equal('no');
    controller.abort(); // detached: this manager no longer cancels it
  });
});

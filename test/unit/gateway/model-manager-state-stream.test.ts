/**
 * The model manager relays every process state change to the scheduler as one stream
 * (lib/gateway/model-manager.ts, scheduler rule 10), in memory with a fake clock: a failed start
 * reaches the waiting requests as the process's own error, a failed wake that falls back to a cold
 * start rejects nobody, and changes nobody asked the scheduler for (an admin sleep) reach its view.
 */
import { expect } from 'chai';
import type { FakeClock } from '../../../lib/clock.js';
import { GatewayError } from '../../../lib/errors.js';
import type { ModelManager } from '../../../lib/gateway/model-manager.js';
import { createInMemoryManager, forbidSockets, recordStates, type FakeHttp, type FakePortGuard } from '../process/doubles.js';

const YAML = `
logLevel: error
startPort: 5800
models:
  a: { cmd: "server --port \${PORT}", backend: vllm }
  b: { cmd: "server --port \${PORT}", backend: vllm }
groups:
  pair: { swap: true, members: [a, b] }
`;

describe('ModelManager: the scheduler learns every state from the processes (in-memory, fake clock)', function () {
  forbidSockets();
  let clock: FakeClock;
  let http: FakeHttp;
  let portGuard: FakePortGuard;
  let manager: ModelManager;
  let dispose: () => Promise<void>;

  beforeEach(function () {
    ({ manager, clock, http, portGuard, dispose } = createInMemoryManager(YAML));
  });

  afterEach(async function () {
    await dispose();
    expect(clock.pending, 'timers left armed').to.equal(0);
  });

  const signal = (): AbortSignal => new AbortController().signal;
  const schedulerState = (id: string): string | undefined => manager.snapshot().models.find((model) => model.id === id)?.state;

  it('a failed start rejects every request waiting for it with the process\'s own error (detail kept)', async function () {
    portGuard.holderIs = { description: 'pid 1 (squatter)', commandLine: 'squatter' };
    const failures = await Promise.all([1, 2].map(() => manager.acquire('a', { signal: signal() }).then(() => null, (error: unknown) => error)));
    for (const failure of failures) {
      expect(failure).to.be.instanceOf(GatewayError);
      expect(failure).to.include({ code: 'start_failed' });
      expect((failure as GatewayError).message).to.match(/port \d+ is already in use/);
      expect((failure as GatewayError).detail, 'the detail for the logs and the admin API').to.be.a('string');
    }
    expect(failures[0], 'one start, one error').to.equal(failures[1]);
    expect(schedulerState('a')).to.equal('stopped');
    portGuard.holderIs = null;
    const access = await manager.acquire('a', { signal: signal() });
    expect(access.outcome.action, 'the next request tries again').to.equal('started');
    access.lease.release();
  });

  it('a wake that fails and falls back to a cold start is one load: the waiting request is granted, not rejected', async function () {
    await manager.load('a');
    expect(await manager.sleep('a')).to.equal('asleep');
    expect(schedulerState('a')).to.equal('asleep');
    http.override = (_method, path) => (path.startsWith('/wake_up') ? 500 : undefined);
    const states = recordStates(manager.process('a'));
    const access = await manager.acquire('a', { signal: signal() });
    expect(states.path()).to.deep.equal(['asleep→waking', 'waking→stopping', 'stopping→stopped', 'stopped→starting', 'starting→ready']);
    expect(access.outcome.action).to.equal('started');
    expect(schedulerState('a')).to.equal('ready');
    access.lease.release();
  });

  it('a change nobody asked the scheduler for (an admin sleep) reaches its view, and a swap partner then loads without an eviction', async function () {
    await manager.load('a');
    expect(schedulerState('a')).to.equal('ready');
    await manager.sleep('a');
    expect(schedulerState('a')).to.equal('asleep');
    const states = recordStates(manager.process('a'));
    await manager.load('b');
    expect(states.path(), 'a was not touched again').to.deep.equal([]);
    expect(schedulerState('b')).to.equal('ready');
  });

  it('an eviction ends when the process is asleep: the swap partner loads after it', async function () {
    await manager.load('a');
    const order: string[] = [];
    manager.on('state', (change) => order.push(`${change.model} ${change.to}`));
    await manager.load('b');
    expect(order).to.deep.equal(['a sleeping', 'a asleep', 'b starting', 'b ready']);
    expect([schedulerState('a'), schedulerState('b')]).to.deep.equal(['asleep', 'ready']);
  });
});

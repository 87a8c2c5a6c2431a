/**
 * The model manager's glue between the scheduler and the processes, with in-memory effects and a
 * fake clock (lib/gateway/model-manager.ts, issue 12 item 3): a load ends holding a lease and the
 * grant that follows hands that lease to the waiting request, so each request is counted once by
 * the process and once by the scheduler, and nothing is acquired twice.
 */
import { expect } from 'chai';
import type { FakeClock } from '../../../lib/clock.js';
import type { ModelManager } from '../../../lib/gateway/model-manager.js';
import { createInMemoryManager, forbidSockets, type FakeSpawner } from './doubles.js';

const YAML = `
logLevel: error
startPort: 5800
models:
  a: { cmd: "server --port \${PORT}" }
  b: { cmd: "server --port \${PORT}" }
`;

describe('ModelManager: a grant hands over the lease of the load (in-memory, fake clock)', function () {
  forbidSockets();
  let clock: FakeClock;
  let spawner: FakeSpawner;
  let manager: ModelManager;
  let dispose: () => Promise<void>;

  beforeEach(function () {
    ({ manager, clock, spawner, dispose } = createInMemoryManager(YAML));
  });

  afterEach(async function () {
    await dispose();
    expect(clock.pending, 'timers left armed').to.equal(0);
  });

  const signal = (): AbortSignal => new AbortController().signal;

  it('queued requests for a stopped model: one start, each request counted once, released to zero', async function () {
    const process = manager.process('a');
    let acquires = 0;
    const acquire = process.acquire.bind(process);
    process.acquire = () => {
      acquires++;
      return acquire();
    };
    const [first, second] = await Promise.all([manager.acquire('a', { signal: signal() }), manager.acquire('a', { signal: signal() })]);
    expect(acquires, 'the load acquires once; the grants take leases of the ready process').to.equal(1);
    expect(spawner.spawned).to.have.length(1);
    expect(process.inFlight, 'the load lease went to the first grant, not kept besides it').to.equal(2);
    expect(manager.snapshot().models.find((model) => model.id === 'a')!.inFlight).to.equal(2);
    expect([first.outcome.action, second.outcome.action]).to.deep.equal(['started', 'started']);
    first.lease.release();
    second.lease.release();
    expect(process.inFlight).to.equal(0);
    expect(manager.snapshot().models.find((model) => model.id === 'a')!.inFlight).to.equal(0);
  });

  it('a load nobody is granted releases its lease (a preload)', async function () {
    const outcome = await manager.load('b');
    expect(outcome.action).to.equal('started');
    expect(manager.process('b').inFlight).to.equal(0);
    expect(manager.process('b').state).to.equal('ready');
  });

  it('a request cancelled while its model starts leaves no lease behind', async function () {
    const controller = new AbortController();
    const waiting = manager.acquire('a', { signal: controller.signal }).then(() => 'granted', (error: Error) => error.message);
    controller.abort();
    expect(await waiting).to.equal('The client went away');
    await manager.load('a');
    expect(manager.process('a').inFlight).to.equal(0);
  });
});

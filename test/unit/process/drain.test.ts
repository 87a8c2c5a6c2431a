/**
 * Drains and in-place adoption of ModelProcess (issue 11 defects 7 and 12), with in-memory effects
 * and a fake clock: a stop with `drainMs` waits for the leases, at most `drainMs`; a shutdown cuts
 * a drain short; `retire` ends in `shutdown`; `adopt` takes in-place fields only and re-arms a
 * changed idle ladder. The reload plan is a pure table.
 */
import { expect } from 'chai';
import { FakeClock } from '../../../lib/clock.js';
import type { GatewayConfig, ModelConfig } from '../../../lib/config/types.js';
import { changedModels, reloadPlan } from '../../../lib/gateway/model-manager.js';
import { ModelProcess, RELOAD_EFFECT, restartFields } from '../../../lib/process/model-process.js';
import { genericPlugin } from '../../../plugins/generic.js';
import { makeModel } from '../../helpers/model-config.js';
import { pollUntil } from '../../helpers/wait.js';
import { FakeHttp, FakePortGuard, FakeSpawner, forbidSockets, recordStates } from './doubles.js';

const timeouts = { sleepTimeoutMs: 1000, wakeTimeoutMs: 1000 };
const base = makeModel({ id: 'm', cmd: ['server', '--port', '5800'], port: 5800 });

describe('reload effects of model fields (RELOAD_EFFECT)', function () {
  const cases: readonly [Partial<ModelConfig>, readonly string[]][] = [
    [{ description: 'new' }, []],
    [{ name: 'Nice', aliases: ['a'], unlisted: true, metadata: { k: 1 } }, []],
    [{ useModelName: 'x', concurrencyLimit: 2, sendLoadingState: true, ignoreWebsockets: true }, []],
    [{ filters: { stripParams: ['top_k'], setParams: {}, setParamsByID: {} } }, []],
    [{ idle: [{ afterMs: 1000, action: 'stop' }], priority: 5, resources: { vram: 1 } }, []],
    [{ unloadTimeoutMs: 1, healthCheckTimeoutMs: 1 }, []],
    [{ capabilities: { in: ['text'], out: ['text'], tools: true, reranker: false, context: 0 } }, []],
    [{ cmd: ['server', '--port', '5800', '-ngl', '99'] }, ['cmd']],
    [{ env: { A: '1' } }, ['env']],
    [{ proxy: 'http://127.0.0.1:5801', port: 5801 }, ['proxy', 'port']],
    [{ checkEndpoint: null }, ['checkEndpoint']],
    [{ backend: 'vllm', options: { x: 1 } }, ['backend', 'options']],
    [{ cmdStop: ['docker', 'stop', 'm'] }, ['cmdStop']],
    [{ sleep: { enabled: false, level: 1 } }, ['sleep']],
    [{ sleepEndpoints: [], wakeEndpoints: [] }, ['sleepEndpoints', 'wakeEndpoints']],
  ];
  for (const [change, expected] of cases) {
    it(`${Object.keys(change).join(', ')} → ${expected.length === 0 ? 'in place' : `restart (${expected.join(', ')})`}`, function () {
      expect(restartFields(base, { ...base, ...change })).to.deep.equal(expected);
    });
  }

  it('classifies every field of ModelConfig', function () {
    expect(Object.keys(RELOAD_EFFECT).sort()).to.deep.equal(Object.keys(base).concat('id').filter((key, index, all) => all.indexOf(key) === index).sort());
  });

  it('plans a reload: adopt (updated or not), restart, add, remove', function () {
    const config = (models: Record<string, ModelConfig>): GatewayConfig => ({ models }) as unknown as GatewayConfig;
    const same = makeModel({ id: 'same', cmd: ['a'] });
    const described = makeModel({ id: 'described', cmd: ['b'] });
    const moved = makeModel({ id: 'moved', cmd: ['c'] });
    const gone = makeModel({ id: 'gone', cmd: ['d'] });
    const fresh = makeModel({ id: 'fresh', cmd: ['e'] });
    const plan = reloadPlan(
      config({ same, described, moved, gone }),
      config({ same, described: { ...described, description: 'x' }, moved: { ...moved, cmd: ['c', '--more'] }, fresh }),
    );
    expect(plan).to.deep.equal({ adopt: ['same', 'described'], updated: ['described'], restart: ['moved'], added: ['fresh'], removed: ['gone'] });
    expect(changedModels(plan)).to.deep.equal(['moved', 'fresh', 'gone']);
  });
});

describe('ModelProcess drains (fake clock)', function () {
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

  function create(overrides: Partial<ModelConfig> = {}): ModelProcess {
    const process = new ModelProcess({
      model: { ...base, ...overrides },
      plugin: genericPlugin,
      timeouts,
      spawner: new FakeSpawner(),
      http: new FakeHttp(),
      portGuard: new FakePortGuard(),
      clock,
    });
    processes.push(process);
    return process;
  }

  it('a stop with drainMs waits for the leases: stopping at once, stopped after the last release', async function () {
    const process = create();
    const states = recordStates(process);
    const first = (await process.acquire()).lease;
    const second = (await process.acquire()).lease;
    let done = false;
    const stopping = process.stop('api', { drainMs: 60_000 }).then(() => (done = true));
    await pollUntil(() => process.state === 'stopping', { what: 'stopping' });
    expect(process.tryLease(), 'no new lease while draining').to.equal(null);
    first.release();
    await Promise.resolve();
    expect(done).to.equal(false);
    second.release();
    await stopping;
    expect(states.path()).to.deep.equal(['stopped→starting', 'starting→ready', 'ready→stopping', 'stopping→stopped']);
  });

  it('a drain gives up after drainMs (fake clock), and a stop without drainMs does not wait', async function () {
    const process = create();
    const { lease } = await process.acquire();
    const stopping = process.stop('api', { drainMs: 5000 });
    await pollUntil(() => process.state === 'stopping', { what: 'stopping' });
    await pollUntil(() => clock.pending > 0, { what: 'the drain timer' });
    clock.advance(5000);
    await stopping;
    expect(process.state).to.equal('stopped');
    lease.release();
    expect(process.inFlight).to.equal(0);

    const other = create();
    const held = (await other.acquire()).lease;
    await other.stop('api');
    expect(other.state).to.equal('stopped');
    held.release();
  });

  it('a shutdown cuts a drain short', async function () {
    const process = create();
    const { lease } = await process.acquire();
    const stopping = process.stop('api', { drainMs: 600_000 });
    await pollUntil(() => process.state === 'stopping', { what: 'stopping' });
    await process.shutdown();
    await stopping;
    expect(process.state).to.equal('shutdown');
    lease.release();
  });

  it('retire drains, then ends in shutdown: the process never starts again', async function () {
    const process = create();
    const { lease } = await process.acquire();
    const retiring = process.retire('config reload', 600_000);
    await pollUntil(() => process.state === 'stopping', { what: 'stopping' });
    lease.release();
    await retiring;
    expect(process.state).to.equal('shutdown');
    await process.acquire().then(() => expect.fail('acquired a retired process'), (error: Error) => expect(error.message).to.match(/shutting down/));
  });

  it('adopt takes in-place fields and re-arms a changed idle ladder; a process field is refused', async function () {
    const process = create();
    const { lease } = await process.acquire();
    lease.release();
    expect(clock.pending).to.equal(0);
    process.adopt({ ...base, description: 'new', idle: [{ afterMs: 1000, action: 'stop' }] });
    expect(process.model.description).to.equal('new');
    expect(clock.pending, 'the new ttl is armed').to.equal(1);
    clock.advance(1000);
    await pollUntil(() => process.state === 'stopped', { what: 'the ttl to stop the model' });
    expect(() => process.adopt({ ...base, cmd: ['other'] })).to.throw(/cmd/);
  });
});

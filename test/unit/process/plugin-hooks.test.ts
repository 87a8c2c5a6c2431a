/**
 * A plugin's beforeStop / afterStart as ModelProcess runs them: beforeStop before a stop of a ready
 * model, afterStart after a start and before `ready`; a hook that fails or hangs never blocks the
 * stop or the start (bounded by the sleep / wake timeout on the model's clock).
 */
import { expect } from 'chai';
import { FakeClock } from '../../../lib/clock.js';
import type { BackendPlugin, PluginContext } from '../../../lib/plugins/types.js';
import { ModelProcess } from '../../../lib/process/model-process.js';
import { makeModel } from '../../helpers/model-config.js';
import { FakeHttp, FakePortGuard, FakeSpawner, forbidSockets, recordStates, runClock } from './doubles.js';

const timeouts = { sleepTimeoutMs: 1000, wakeTimeoutMs: 1000 };

describe('ModelProcess: plugin beforeStop / afterStart hooks', function () {
  forbidSockets();
  let clock: FakeClock;
  let models: ModelProcess[];

  beforeEach(function () {
    clock = new FakeClock();
    models = [];
  });
  afterEach(async function () {
    for (const model of models) await runClock(clock, model.shutdown());
    expect(clock.pending, 'timers left armed').to.equal(0);
  });

  function create(plugin: BackendPlugin): { model: ModelProcess; events: string[] } {
    const model = new ModelProcess({
      model: makeModel({ id: 'm', cmd: ['server', '--port', '5800'], port: 5800 }),
      plugin,
      timeouts,
      spawner: new FakeSpawner(),
      http: new FakeHttp(),
      portGuard: new FakePortGuard(),
      clock,
    });
    models.push(model);
    const events: string[] = [];
    const states = recordStates(model);
    model.on('state', () => events.push(states.path().at(-1)!));
    model.on('step', ({ text }) => events.push(`step ${text}`));
    return { model, events };
  }

  function plugin(hooks: Partial<BackendPlugin>): BackendPlugin {
    return { name: 'hooked', apiVersion: 1, ...hooks };
  }

  it('runs afterStart between starting and ready (with its loading text), beforeStop between stopping and stopped', async function () {
    const calls: string[] = [];
    let state = '';
    const { model, events } = create(
      plugin({
        afterStart: (ctx: PluginContext) => {
          calls.push(`afterStart ${ctx.model.id} while ${state}`);
          return Promise.resolve();
        },
        afterStartText: () => 'restoring prompt cache',
        beforeStop: () => {
          calls.push(`beforeStop while ${state}`);
          return Promise.resolve();
        },
      }),
    );
    model.on('state', (change) => (state = change.to));
    const { lease } = await runClock(clock, model.acquire());
    lease.release();
    await runClock(clock, model.stop('evicted'));
    expect(calls).to.deep.equal(['afterStart m while starting', 'beforeStop while stopping']);
    expect(events).to.deep.equal(['stopped→starting', 'step restoring prompt cache', 'starting→ready', 'ready→stopping', 'stopping→stopped']);
  });

  it('a beforeStop that never settles delays the stop by the sleep timeout at most; one that throws not at all', async function () {
    let aborted = false;
    const hanging = create(plugin({ beforeStop: (ctx) => new Promise<void>(() => ctx.signal.addEventListener('abort', () => (aborted = true))) })).model;
    await runClock(clock, hanging.ensureReady());
    const before = clock.now();
    await runClock(clock, hanging.stop('evicted'), 10);
    expect(hanging.state).to.equal('stopped');
    expect(clock.now() - before).to.be.within(1000, 1200);
    expect(aborted, 'the hook sees its signal abort').to.equal(true);

    const throwing = create(plugin({ beforeStop: () => Promise.reject(new Error('disk full')) })).model;
    await runClock(clock, throwing.ensureReady());
    await runClock(clock, throwing.stop('evicted'));
    expect(throwing.state).to.equal('stopped');
    expect(throwing.logs.lines().some((line) => line.text.includes('beforeStop failed: disk full'))).to.equal(true);
  });

  it('a failing afterStart is logged and the model is ready anyway; a stop of a model that is not ready skips beforeStop', async function () {
    let saves = 0;
    const { model } = create(plugin({ afterStart: () => Promise.reject(new Error('bad file')), beforeStop: () => Promise.resolve(void (saves += 1)) }));
    await runClock(clock, model.ensureReady());
    expect(model.state).to.equal('ready');
    await runClock(clock, model.sleep('idle')); // cannot sleep: stops (from ready: saves)
    expect(saves).to.equal(1);
    await runClock(clock, model.stop('again'));
    expect(saves, 'already stopped').to.equal(1);
  });
});

/**
 * Sleep methods and step timings: the recipe runner's per-step report, the manager's log of the
 * last sleep and wake, the model view's `sleepMethod`, and the `siesta_sleep_step_seconds` histogram.
 */
import { expect } from 'chai';
import { FakeClock } from '../../../lib/clock.js';
import { silentLogger } from '../../../lib/logger.js';
import { Metrics } from '../../../lib/metrics.js';
import { sleepMethodOf, StepLog } from '../../../lib/gateway/model-view.js';
import type { BackendPlugin, PluginContext, ResolvedRecipe } from '../../../lib/plugins/types.js';
import { RecipeRunner, type StepTiming } from '../../../lib/process/recipe-runner.js';
import { makeModel } from '../../helpers/model-config.js';

const timeouts = { sleepTimeoutMs: 1000, wakeTimeoutMs: 1000 };
const base: BackendPlugin = { name: 'p', apiVersion: 1 };
const withRecipe: BackendPlugin = { ...base, sleepLevels: { 1: { name: 'p level 1', sleep: [{ method: 'POST', endpoint: '/sleep' }], wake: [{ method: 'POST', endpoint: '/wake' }] } } };
const selfSleeper: BackendPlugin = { ...base, sleepsBySelf: true };

describe('sleep methods and step timings', function () {
  describe('sleepMethodOf', function () {
    const cases: { name: string; plugin: BackendPlugin; cmd: string[]; sleep?: { enabled: boolean; level: number; method?: 'http' | 'cuda-checkpoint' }; method: string }[] = [
      { name: 'a plugin HTTP recipe', plugin: withRecipe, cmd: ['server'], method: 'http' },
      { name: 'sleep disabled', plugin: withRecipe, cmd: ['server'], sleep: { enabled: false, level: 1 }, method: 'stop' },
      { name: 'cuda-checkpoint on any backend', plugin: base, cmd: ['server'], sleep: { enabled: true, level: 1, method: 'cuda-checkpoint' }, method: 'cuda-checkpoint' },
      { name: 'no recipe', plugin: base, cmd: ['server'], method: 'stop' },
      { name: 'llama-server with --sleep-idle-seconds', plugin: selfSleeper, cmd: ['llama-server', '--sleep-idle-seconds', '60'], method: 'self' },
      { name: 'llama-server without it', plugin: selfSleeper, cmd: ['llama-server'], method: 'stop' },
    ];
    for (const { name, plugin, cmd, sleep, method } of cases) {
      it(`${name} → ${method}`, function () {
        expect(sleepMethodOf(makeModel({ id: 'm', cmd, ...(sleep ? { sleep } : {}) }), plugin, timeouts)).to.equal(method);
      });
    }
  });

  describe('RecipeRunner onStep', function () {
    const recipe: ResolvedRecipe = {
      name: 'test',
      level: 1,
      sleep: [{ method: 'POST', endpoint: '/sleep?level=1', timeoutMs: 100 }, { method: 'POST', endpoint: '/release', timeoutMs: 100 }],
      wake: [{ method: 'POST', endpoint: '/wake_up', timeoutMs: 100 }],
    };

    function runner(plugin: BackendPlugin, failing: string | null, timings: StepTiming[]): RecipeRunner {
      const context = (): PluginContext => ({ model: makeModel({ id: 'm', cmd: ['server'] }), baseUrl: 'http://x', http: { request: () => Promise.resolve({ status: 200, body: '' }) }, log: silentLogger, signal: new AbortController().signal });
      return new RecipeRunner({
        plugin,
        executors: {
          http: (step) => (step.endpoint === failing ? Promise.reject(new Error('boom')) : Promise.resolve()),
          'cuda-checkpoint': () => Promise.resolve(),
        },
        context,
        clock: new FakeClock(),
        log: silentLogger,
        id: () => 'm',
        onStep: (timing) => timings.push(timing),
      });
    }

    it('reports each successful step in order, then the confirm poll when the backend can tell', async function () {
      const timings: StepTiming[] = [];
      await runner({ ...base, isAsleep: () => Promise.resolve(true) }, null, timings).sleep(recipe, 1000);
      expect(timings.map(({ what, method, step }) => `${what} ${method} ${step}`)).to.deep.equal(['sleep http POST /sleep?level=1', 'sleep http POST /release', 'sleep http confirm']);
      for (const timing of timings) expect(timing.ms).to.be.a('number').and.at.least(0);
    });

    it('does not report a failed step nor the steps after it', async function () {
      const timings: StepTiming[] = [];
      await runner(base, '/release', timings).sleep(recipe, 1000).then(
        () => expect.fail('the sleep should fail'),
        (error: Error) => expect(error.message).to.match(/release/),
      );
      expect(timings.map((timing) => timing.step)).to.deep.equal(['POST /sleep?level=1']);
    });
  });

  describe('StepLog', function () {
    it('keeps the last sleep and the last wake per model; a new sleep starts afresh', function () {
      const log = new StepLog();
      expect(log.of('a')).to.deep.equal({ sleep: [], wake: [] });
      log.begin('a', 'sleep');
      log.add('a', { what: 'sleep', step: 'POST /sleep', ms: 12.4 });
      log.begin('a', 'wake');
      log.add('a', { what: 'wake', step: 'POST /wake', ms: 7.6 });
      expect(log.of('a')).to.deep.equal({ sleep: [{ step: 'POST /sleep', ms: 12 }], wake: [{ step: 'POST /wake', ms: 8 }] });
      log.begin('a', 'sleep');
      expect(log.of('a')).to.deep.equal({ sleep: [], wake: [{ step: 'POST /wake', ms: 8 }] });
      expect(log.of('b')).to.deep.equal({ sleep: [], wake: [] });
    });
  });

  describe('siesta_sleep_step_seconds', function () {
    it('observes each step by model, method and step', async function () {
      const metrics = new Metrics({ defaultMetrics: false });
      metrics.observeStep({ model: 'a', what: 'sleep', method: 'cuda-checkpoint', step: 'cuda-checkpoint suspend', ms: 250 });
      const { text } = await metrics.render();
      expect(text).to.include('# TYPE siesta_sleep_step_seconds histogram');
      expect(text).to.include('siesta_sleep_step_seconds_count{model="a",method="cuda-checkpoint",step="sleep cuda-checkpoint suspend"} 1');
      expect(text).to.include('siesta_sleep_step_seconds_sum{model="a",method="cuda-checkpoint",step="sleep cuda-checkpoint suspend"} 0.25');
    });
  });
});

/**
 * The recipe runner alone (lib/process/recipe-runner.ts): steps in order through the executor of
 * their kind, failures named after the step, confirmation polled on a fake clock, warm-up.
 */
import { expect } from 'chai';
import { FakeClock } from '../../../lib/clock.js';
import { silentLogger } from '../../../lib/logger.js';
import type { BackendPlugin, PluginContext, ResolvedRecipe } from '../../../lib/plugins/types.js';
import { describeStep, httpStepExecutor, httpSteps, RecipeRunner, type HttpRecipeStep, type StepExecutors } from '../../../lib/process/recipe-runner.js';
import { makeModel } from '../../helpers/model-config.js';
import { FakeHttp, forbidSockets, runClock } from './doubles.js';

const recipe: ResolvedRecipe = {
  name: 'test',
  level: 1,
  sleep: [{ method: 'POST', endpoint: '/sleep?level=1', timeoutMs: 100 }, { method: 'POST', endpoint: '/release', body: '{"a":1}', timeoutMs: 200 }],
  wake: [{ method: 'POST', endpoint: '/wake_up', timeoutMs: 300 }],
};

const noCuda = (): Promise<void> => Promise.reject(new Error('no CUDA step expected'));

describe('RecipeRunner (in-memory, fake clock)', function () {
  forbidSockets();
  let clock: FakeClock;
  let ran: string[];

  beforeEach(function () {
    clock = new FakeClock();
    ran = [];
  });

  afterEach(function () {
    expect(clock.pending, 'timers left armed').to.equal(0);
  });

  function runner(plugin: Partial<BackendPlugin> = {}, executors?: StepExecutors): RecipeRunner {
    const context = (): PluginContext => ({ model: makeModel({ id: 'm', cmd: ['server'] }), baseUrl: 'http://x', http: { request: () => Promise.resolve({ status: 200, body: '' }) }, log: silentLogger, signal: new AbortController().signal });
    return new RecipeRunner({
      plugin: { name: 'p', apiVersion: 1, ...plugin },
      executors: executors ?? { http: (step) => Promise.resolve(void ran.push(`${describeStep(step)} within ${step.timeoutMs}`)), 'cuda-checkpoint': (step) => Promise.resolve(void ran.push(`${describeStep(step)} with ${step.binary} within ${step.timeoutMs}`)) },
      context,
      clock,
      log: silentLogger,
      id: () => 'm',
    });
  }

  it('runs the sleep steps in order, each with its own timeout, through the executor of its kind', async function () {
    await runner().sleep(recipe, 1000);
    expect(ran).to.deep.equal(['POST /sleep?level=1 within 100', 'POST /release within 200']);
    await runner().wake(recipe, 1000);
    await runner().wake(null, 1000);
    expect(ran.slice(2)).to.deep.equal(['POST /wake_up within 300']);
  });

  it('stops at the first failing step and names it', async function () {
    const failing: StepExecutors = { http: (step) => (step.endpoint === '/release' ? Promise.reject(new Error('no answer within 200 ms')) : Promise.resolve()), 'cuda-checkpoint': noCuda };
    const error = await runner({}, failing).sleep(recipe, 1000).then(() => null, (caught: Error) => caught);
    expect(error?.message).to.equal('sleep step POST /release failed: no answer within 200 ms');
  });

  it('the HTTP executor joins the upstream, sends the body and timeout, and refuses non-2xx', async function () {
    const http = new FakeHttp();
    http.basePath = '/base';
    http.override = (_method, path) => (path === '/release' ? 503 : undefined);
    const executors: StepExecutors = { http: httpStepExecutor(http, 'http://127.0.0.1:5800/base'), 'cuda-checkpoint': noCuda };
    const steps: HttpRecipeStep[] = httpSteps(recipe.sleep);
    const error = await runner({}, executors).run(steps, 'sleep').then(() => null, (caught: Error) => caught);
    expect(error?.message).to.equal('sleep step POST /release answered HTTP 503');
    expect(http.calls).to.deep.equal([{ method: 'POST', path: '/base/sleep?level=1' }, { method: 'POST', path: '/base/release', body: '{"a":1}' }]);
  });

  it('confirms by polling isAsleep on the clock, backing off, until the deadline', async function () {
    let answers = [false, false, true];
    const plugin = { isAsleep: () => Promise.resolve(answers.shift() ?? true) };
    const started = clock.now();
    await runClock(clock, runner(plugin).confirm(true, 1000));
    expect(clock.now() - started, 'pauses of 5 and 10 ms').to.equal(15);
    answers = [];
    const stuck = { isAsleep: () => Promise.resolve(false) };
    const error = await runClock(clock, runner(stuck).confirm(true, 1000), 5).then(() => null, (caught: Error) => caught);
    expect(error?.message).to.equal('backend still reports is_sleeping=false after 1000 ms');
  });

  it('does not confirm for a backend that sleeps by itself or cannot tell', async function () {
    let asked = 0;
    const isAsleep = (): Promise<boolean | undefined> => Promise.resolve(void asked++);
    await runner({ isAsleep, sleepsBySelf: true }).confirm(true, 1000);
    expect(asked).to.equal(0);
    await runner({ isAsleep }).confirm(true, 1000);
    expect(asked, 'undefined = cannot tell: accepted').to.equal(1);
  });

  it('warms up after a wake; a failed warm-up is not an error', async function () {
    let warmed = 0;
    await runner({ warmup: () => Promise.resolve(void warmed++) }).warmUp(1000);
    await runner({ warmup: () => Promise.reject(new Error('cold')) }).warmUp(1000);
    expect(warmed).to.equal(1);
  });

  it('probeAsleep answers undefined when the probe fails or is missing', async function () {
    expect(await runner().probeAsleep(100)).to.equal(undefined);
    expect(await runner({ isAsleep: () => Promise.reject(new Error('down')) }).probeAsleep(100)).to.equal(undefined);
    expect(await runner({ isAsleep: () => Promise.resolve(true) }).probeAsleep(100)).to.equal(true);
  });
});

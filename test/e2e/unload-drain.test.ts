/**
 * An admin unload drains (issue 11 defect 12, "28 × 502 in a mixed test"): requests in flight
 * finish before the process stops, bounded by the model's unloadTimeout (then it stops anyway and
 * says so in the log); requests that arrive during the drain wait for the stop and start the model
 * again, as llama-swap's EnsureReady does for a request that meets a stopping process.
 */
import { expect } from 'chai';
import { assertNoChildren, isAlive, pollUntil } from '../helpers/wait.js';
import { cleanup, configYaml, genericCmd, memoryLogger, openGateway } from './support.js';
import { describeLoss, listenGateway, send } from './drain-support.js';

function slowCmd(model: string, tokens: number): string {
  return genericCmd(model, ['--tokens', String(tokens), '--token-interval', '20ms']);
}

const ROUTES: readonly { readonly method: 'GET' | 'POST'; readonly path: string }[] = [
  { method: 'POST', path: '/api/models/m/unload' },
  { method: 'POST', path: '/api/models/unload' },
  { method: 'GET', path: '/unload' },
  { method: 'POST', path: '/unload' },
  { method: 'POST', path: '/api/models/unload/m' },
];

describe('e2e: an admin unload drains in-flight requests (issue 11 defect 12)', function () {
  this.timeout(30_000);

  afterEach(async function () {
    await cleanup();
    await assertNoChildren();
  });

  for (const route of ROUTES) {
    it(`${route.method} ${route.path}: streams in flight complete, requests during the drain restart the model, 0 × 502`, async function () {
      const { gateway } = await openGateway(await configYaml({ m: { cmd: slowCmd('m', 25) } }));
      const url = await listenGateway(gateway);
      const inFlight = [send(url, 'm', { stream: true }), send(url, 'm', { stream: true }), send(url, 'm'), send(url, 'm', { stream: true, maxTokens: 10 })];
      await Promise.all(inFlight.filter((_, index) => index !== 2).map((handle) => handle.started));
      await pollUntil(() => gateway.manager.process('m').inFlight === 4, { what: 'four requests in flight' });
      const oldPid = gateway.manager.process('m').pid!;

      const unloading = fetch(`${url}${route.path}`, { method: route.method });
      await pollUntil(() => gateway.manager.state('m') === 'stopping', { intervalMs: 1, what: 'the drain to begin' });
      const during = [send(url, 'm'), send(url, 'm', { stream: true, maxTokens: 3 })];
      const unloaded = await unloading;
      expect(unloaded.status, await unloaded.clone().text()).to.equal(200);
      expect(isAlive(oldPid), 'the unload answers once the process is gone').to.equal(false);

      const outcomes = await Promise.all([...inFlight, ...during].map((handle) => handle.outcome));
      const lost = outcomes.filter((outcome) => outcome.status !== 200 || !outcome.complete);
      expect(lost.map(describeLoss), `${lost.length} lost, ${outcomes.filter((outcome) => outcome.status === 502).length} × 502`).to.deep.equal([]);
      expect(outcomes.map((outcome) => outcome.tokens)).to.deep.equal([25, 25, 25, 10, 25, 3]);
      expect(gateway.manager.process('m').pid, 'the requests during the drain started it again').to.not.equal(oldPid);
    });
  }

  it('a drain is bounded by unloadTimeout: after it the model stops anyway, and the log says so', async function () {
    const log = memoryLogger();
    // 200 tokens at 20 ms: 4 s, longer than the 1 s unloadTimeout.
    const { gateway } = await openGateway(await configYaml({ m: { cmd: slowCmd('m', 200), unloadTimeout: 1 } }), { logger: log });
    const url = await listenGateway(gateway);
    const stream = send(url, 'm', { stream: true });
    await stream.started;
    const startedAt = performance.now();
    await gateway.manager.unload('m');
    const tookMs = performance.now() - startedAt;
    expect(tookMs).to.be.within(900, 3500);
    expect(gateway.manager.state('m')).to.equal('stopped');
    const outcome = await stream.outcome;
    expect(outcome.complete).to.equal(false);
    const line = log.lines.find((entry) => entry.message.includes('drain timed out'));
    expect(line, JSON.stringify(log.lines.map((entry) => entry.message))).to.not.equal(undefined);
    expect(line!.level).to.equal('warn');
    expect(line!.fields).to.include({ model: 'm', inFlight: 1, drainMs: 1000 });
  });
});

/**
 * gateway.reload() (--watch-config, SIGHUP) never cuts a request in flight (issue 11 defect 7):
 * fields that do not change the process apply in place (same process, no restart); a model whose
 * process must change is drained first (in-flight requests finish, new ones wait for the new
 * process), and nothing is answered "the gateway is shutting down".
 */
import { expect } from 'chai';
import { parse, stringify } from 'yaml';
import { assertNoChildren, isAlive, pollUntil } from '../helpers/wait.js';
import { cleanup, configYaml, genericCmd, memoryLogger, openGateway } from './support.js';
import { describeLoss, listenGateway, send, type Outcome } from './drain-support.js';

type Yaml = { models: Record<string, Record<string, unknown>> };

/** The YAML text with `edit` applied to a parsed copy. */
function edited(text: string, edit: (config: Yaml) => void): string {
  const config = parse(text) as Yaml;
  edit(config);
  return stringify(config);
}

/** A fake that streams one token per 20 ms, `tokens` per completion unless max_tokens says fewer. */
function slowCmd(model: string, tokens: number): string {
  return genericCmd(model, ['--tokens', String(tokens), '--token-interval', '20ms']);
}

describe('e2e: a config reload drains instead of cutting (issue 11 defect 7)', function () {
  this.timeout(60_000);

  afterEach(async function () {
    await cleanup();
    await assertNoChildren();
  });

  it('a reload that changes only the description keeps the process: the stream in flight completes, same pid', async function () {
    const before = await configYaml({ m: { cmd: slowCmd('m', 30), description: 'old' } });
    const { gateway } = await openGateway(before);
    const url = await listenGateway(gateway);
    const stream = send(url, 'm', { stream: true });
    await stream.started;
    const pid = gateway.manager.process('m').pid;
    expect(pid).to.be.a('number');

    const { changed } = await gateway.reload({ configText: edited(before, (config) => (config.models['m']!['description'] = 'new')) });

    const outcome = await stream.outcome;
    expect(outcome.complete, describeLoss(outcome)).to.equal(true);
    expect(outcome.tokens).to.equal(30);
    expect(changed).to.deep.equal([]);
    expect(gateway.manager.process('m').pid).to.equal(pid);
    expect(gateway.manager.process('m').model.description).to.equal('new');
    expect(gateway.manager.resolve('m')!.description).to.equal('new');
  });

  it('in-place fields reach the running process: a new idle ladder is armed on it', async function () {
    const before = await configYaml({ m: { cmd: genericCmd('m'), aliases: ['a1'] } });
    const { gateway } = await openGateway(before);
    const url = await listenGateway(gateway);
    expect((await send(url, 'm').outcome).status).to.equal(200);
    const pid = gateway.manager.process('m').pid;
    await gateway.reload({ configText: edited(before, (config) => {
      config.models['m']!['aliases'] = ['a2'];
      config.models['m']!['ttl'] = 1;
    }) });
    expect(gateway.manager.process('m').pid).to.equal(pid);
    expect(gateway.manager.resolve('a2')?.id).to.equal('m');
    expect(gateway.manager.resolve('a1')).to.equal(undefined);
    // The new ttl (1 s) stops the adopted process.
    await pollUntil(() => gateway.manager.state('m') === 'stopped', { timeoutMs: 5000, what: 'the new ttl to stop the model' });
  });

  it('a swap partner waits for the requests an adopted process still serves (the new scheduler counts them)', async function () {
    // unloadTimeout 1 s: evicting m would cut its 2.5 s stream after a 1 s drain.
    const before = await configYaml({
      m: { cmd: genericCmd('m', ['--tokens', '50', '--token-interval', '50ms']), unloadTimeout: 1 },
      n: { cmd: genericCmd('n', ['--tokens', '2']) },
    }, { groups: { pair: { swap: true, members: ['m', 'n'] } } });
    const { gateway } = await openGateway(before);
    const url = await listenGateway(gateway);
    const stream = send(url, 'm', { stream: true });
    await stream.started;
    await gateway.reload({ configText: edited(before, (config) => (config.models['m']!['description'] = 'new')) });
    const partner = await send(url, 'n').outcome;
    const outcome = await stream.outcome;
    expect(outcome.complete, describeLoss(outcome)).to.equal(true);
    expect(outcome.tokens).to.equal(50);
    expect(partner.status, describeLoss(partner)).to.equal(200);
    expect(partner.endedAt).to.be.greaterThan(outcome.endedAt);
  });

  it('a reload that changes cmd drains the stream in flight, then the new process serves', async function () {
    const before = await configYaml({ m: { cmd: slowCmd('m', 30) } });
    const { gateway } = await openGateway(before);
    const url = await listenGateway(gateway);
    const stream = send(url, 'm', { stream: true });
    await stream.started;
    const oldPid = gateway.manager.process('m').pid!;

    const reloading = gateway.reload({ configText: edited(before, (config) => (config.models['m']!['cmd'] = slowCmd('m', 5))) });
    const outcome = await stream.outcome;
    expect(outcome.complete, describeLoss(outcome)).to.equal(true);
    expect(outcome.tokens).to.equal(30);
    expect((await reloading).changed).to.deep.equal(['m']);
    expect(isAlive(oldPid)).to.equal(false);

    const after = await send(url, 'm').outcome;
    expect(after.status, describeLoss(after)).to.equal(200);
    expect(after.tokens).to.equal(5);
    expect(gateway.manager.process('m').pid).to.not.equal(oldPid);
  });

  it('a request that arrives during the drain waits for the new process and succeeds', async function () {
    const before = await configYaml({ m: { cmd: slowCmd('m', 25) } });
    const { gateway } = await openGateway(before);
    const url = await listenGateway(gateway);
    const stream = send(url, 'm', { stream: true });
    await stream.started;
    const oldPid = gateway.manager.process('m').pid!;

    const reloading = gateway.reload({ configText: edited(before, (config) => (config.models['m']!['cmd'] = slowCmd('m', 3))) });
    await pollUntil(() => gateway.config.models['m']!.cmd.includes('3'), { intervalMs: 1, what: 'the new configuration to serve' });
    const during = send(url, 'm');
    const [first, second] = await Promise.all([stream.outcome, during.outcome]);
    expect(first.complete, describeLoss(first)).to.equal(true);
    expect(first.tokens).to.equal(25);
    expect(second.status, describeLoss(second)).to.equal(200);
    expect(second.tokens, 'served by the new process').to.equal(3);
    expect(second.endedAt, 'after the old process drained').to.be.greaterThan(first.endedAt);
    await reloading;
    expect(isAlive(oldPid)).to.equal(false);
  });

  it('requests queued for a model that is starting move to the new configuration instead of being rejected', async function () {
    const log = memoryLogger();
    const before = await configYaml({ m: { cmd: genericCmd('m', ['--start-delay', '400ms']) } });
    const { gateway } = await openGateway(before, { logger: log });
    const url = await listenGateway(gateway);
    const waiting = [send(url, 'm'), send(url, 'm', { stream: true })];
    await pollUntil(() => gateway.manager.state('m') === 'starting', { what: 'm to start' });
    await gateway.reload({ configText: edited(before, (config) => (config.models['m']!['cmd'] = genericCmd('m', ['--tokens', '2']))) });
    for (const outcome of await Promise.all(waiting.map((handle) => handle.outcome))) {
      expect(outcome.status, describeLoss(outcome)).to.equal(200);
      expect(outcome.complete, describeLoss(outcome)).to.equal(true);
      expect(outcome.tokens).to.equal(2);
    }
  });

  it('20 reloads under traffic lose nothing', async function () {
    const log = memoryLogger();
    const before = await configYaml({
      m: { cmd: slowCmd('m', 6), description: 'd0' },
      n: { cmd: slowCmd('n', 4) },
    }, { groups: { both: { swap: false, members: ['m', 'n'] } } });
    const { gateway } = await openGateway(before, { logger: log });
    const url = await listenGateway(gateway);

    let reloading = true;
    const outcomes: Outcome[] = [];
    const worker = async (index: number): Promise<void> => {
      for (let i = 0; reloading && i < 10_000; i++) {
        const model = (index + i) % 2 === 0 ? 'm' : 'n';
        outcomes.push(await send(url, model, { stream: (index + i) % 3 !== 0 }).outcome);
      }
    };
    const workers = Array.from({ length: 6 }, (_, index) => worker(index));
    await pollUntil(() => outcomes.length >= 6, { what: 'traffic to flow' });
    const restarts: string[][] = [];
    for (let round = 1; round <= 20; round++) {
      // Odd rounds change m's process (restart, drained), even rounds only descriptions (in place).
      const text = edited(before, (config) => {
        config.models['m']!['description'] = `d${round}`;
        config.models['n']!['description'] = `n${round}`;
        config.models['m']!['cmd'] = slowCmd('m', 6 + (Math.ceil(round / 2) % 2));
      });
      restarts.push((await gateway.reload({ configText: text })).changed);
    }
    reloading = false;
    await Promise.all(workers);

    const lost = outcomes.filter((outcome) => outcome.status !== 200 || !outcome.complete);
    expect(lost.map(describeLoss), `${lost.length} of ${outcomes.length} requests lost`).to.deep.equal([]);
    expect(outcomes.length).to.be.greaterThan(20);
    expect(restarts.filter((changed) => changed.includes('m')).length, 'm restarted on every cmd change').to.equal(10);
    expect(restarts.every((changed) => !changed.includes('n')), 'n never restarted').to.equal(true);
    expect(log.lines.filter((line) => /shutting down/.test(`${line.message} ${JSON.stringify(line.fields)}`)).map((line) => line.message)).to.deep.equal([]);
  });
});

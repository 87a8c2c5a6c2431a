/**
 * llama-swap's routing features through real HTTP requests and real fake-upstream children:
 * `routing.router.settings.groups` (swap, exclusive, persistent), the matrix router (new and legacy
 * keys, vars, evict_costs, `+ref`, ties by definition order, a model in no set runs alone, siesta's
 * sleep discount, a busy model never evicted while a compatible request overtakes) and the FIFO
 * scheduler's `routing.scheduler.settings.fifo.priority`.
 *
 * What runs is read from GET /running; which models were evicted, and in what order models
 * started, from the manager's `state` events (the admin event stream's source).
 */
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import express, { type Express } from 'express';
import request from 'supertest';
import { createExpressServer } from '../../lib/http/express-server.js';
import type { Gateway } from '../../lib/gateway/create-gateway.js';
import type { StateChange } from '../../lib/process/states.js';
import { assertNoChildren, pollUntil } from '../helpers/wait.js';
import { chat, cleanup, configYaml, genericCmd, openGateway, track, vllmCmd, type Harness } from './support.js';

/** `model → state` of every model GET /running lists (every model not stopped). */
async function running(app: Express): Promise<Record<string, string>> {
  const response = await request(app).get('/running').expect(200);
  const list = (response.body as { running: { model: string; state: string }[] }).running;
  return Object.fromEntries(list.map((entry) => [entry.model, entry.state]));
}

/** Every state change from now on (the manager outlives nothing here: no reloads). */
function recordStates(gateway: Gateway): StateChange[] {
  const changes: StateChange[] = [];
  gateway.manager.on('state', (change) => changes.push(change));
  return changes;
}

/** The models evicted in `changes`, in order: a release begins with `sleeping` or `stopping`. */
function evicted(changes: readonly StateChange[]): string[] {
  return changes.filter((change) => change.to === 'sleeping' || change.to === 'stopping').map((change) => `${change.model}:${change.to}`);
}

async function ask(h: Harness, model: string): Promise<void> {
  const response = await request(h.app).post('/v1/chat/completions').send(chat(model)).expect(200);
  expect(response.body.model, 'answered by the requested model').to.equal(model);
}

/** Ask for each model in turn, each answered before the next is asked. */
async function askInTurn(h: Harness, ...models: string[]): Promise<void> {
  for (const model of models) await ask(h, model);
}

async function listen(app: Express): Promise<string> {
  const server = createExpressServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  track({ close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }) });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** A streaming request that keeps `model` busy until `end()` (the client leaves). */
async function holdBusy(url: string, model: string): Promise<{ end(): Promise<void> }> {
  const streaming = new AbortController();
  const stream = await post(url, chat(model, { stream: true }), streaming.signal);
  expect(stream.status).to.equal(200);
  const reader = stream.body!.getReader();
  await reader.read();
  return {
    end: async () => {
      streaming.abort();
      await reader.cancel().catch(() => undefined);
    },
  };
}

function post(url: string, body: Record<string, unknown>, signal?: AbortSignal): Promise<Response> {
  return fetch(`${url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), ...(signal ? { signal } : {}) });
}

/** A model that streams 500 tokens 20 ms apart (10 s): busy for as long as a test needs. */
const streamer = (model: string): Record<string, unknown> => ({ cmd: genericCmd(model, ['--tokens', '500', '--token-interval', '20ms']) });
const generic = (model: string): Record<string, unknown> => ({ cmd: genericCmd(model) });
const sleeper = (model: string): Record<string, unknown> => ({ cmd: vllmCmd(model), backend: 'vllm' });

describe('e2e: routing (groups, matrix, fifo priority)', function () {
  afterEach(async function () {
    await cleanup();
    await assertNoChildren();
  });

  describe('routing.router.settings.groups', function () {
    it('swap: false keeps every member loaded: a then b leaves both running', async function () {
      const h = await openGateway(
        await configYaml({ a: generic('a'), b: generic('b') }, { routing: { router: { settings: { groups: { pair: { swap: false, members: ['a', 'b'] } } } } } }),
      );
      const changes = recordStates(h.gateway);
      await askInTurn(h, 'a', 'b');
      expect(await running(h.app)).to.deep.equal({ a: 'ready', b: 'ready' });
      expect(evicted(changes)).to.deep.equal([]);
      expect(h.gateway.manager.snapshot().models.map((m) => [m.id, m.group])).to.deep.equal([
        ['a', 'pair'],
        ['b', 'pair'],
      ]);
    });

    it('use: group: an exclusive group unloads the others except a persistent one; a non-exclusive group leaves the exclusive one running', async function () {
      const h = await openGateway(
        await configYaml(
          { a: generic('a'), b: generic('b'), c: generic('c'), d: generic('d') },
          {
            routing: {
              router: {
                use: 'group',
                settings: {
                  groups: {
                    solo: { swap: true, exclusive: true, members: ['a'] },
                    shared: { swap: false, exclusive: false, members: ['b', 'c'] },
                    forever: { persistent: true, swap: false, exclusive: false, members: ['d'] },
                  },
                },
              },
            },
          },
        ),
      );
      const changes = recordStates(h.gateway);
      await askInTurn(h, 'b', 'c', 'd');
      expect(await running(h.app)).to.deep.equal({ b: 'ready', c: 'ready', d: 'ready' });
      expect(evicted(changes), 'non-exclusive groups load side by side').to.deep.equal([]);

      await ask(h, 'a');
      expect(await running(h.app)).to.deep.equal({ a: 'ready', d: 'ready' });
      expect(evicted(changes).sort(), 'a (exclusive) unloads the shared group, not the persistent one').to.deep.equal(['b:stopping', 'c:stopping']);

      // llama-swap's TestGroup_NonExclusiveDoesNotUnloadExclusive: loading b leaves a running.
      await ask(h, 'b');
      expect(await running(h.app)).to.deep.equal({ a: 'ready', b: 'ready', d: 'ready' });
      expect(evicted(changes)).to.have.length(2);
    });
  });

  describe('the matrix router', function () {
    it('routing.router.use: matrix with vars and evict_costs: keeps the costly model, evicts exactly the one outside the cheapest set', async function () {
      const h = await openGateway(
        await configYaml(
          { a: generic('a'), b: generic('b'), c: generic('c') },
          {
            routing: {
              router: {
                use: 'matrix',
                settings: {
                  matrix: {
                    vars: { A: 'a', B: 'b' },
                    evict_costs: { A: 3 },
                    // Without the cost, b_c (first) would win the tie and evict a.
                    sets: { a_b: 'A & B', b_c: 'B & c', a_c: 'A & c' },
                  },
                },
              },
            },
          },
        ),
      );
      const changes = recordStates(h.gateway);
      await askInTurn(h, 'a', 'b');
      expect(await running(h.app)).to.deep.equal({ a: 'ready', b: 'ready' });
      expect(evicted(changes), 'a and b share set a_b').to.deep.equal([]);

      await ask(h, 'c');
      expect(await running(h.app)).to.deep.equal({ a: 'ready', c: 'ready' });
      expect(evicted(changes)).to.deep.equal(['b:stopping']);
    });

    it('legacy top-level matrix: equal costs go to the set defined first (file order, even for integer-like names)', async function () {
      // "2" is written before "1"; a JS object would list "1" first.
      const sets = new Map([
        ['ab', 'a & b'],
        ['2', 'b & c'],
        ['1', 'a & c'],
      ]);
      const h = await openGateway(await configYaml({ a: generic('a'), b: generic('b'), c: generic('c') }, { matrix: { sets } }));
      expect(h.gateway.config.routing.router).to.equal('matrix');
      const changes = recordStates(h.gateway);
      await askInTurn(h, 'a', 'b', 'c');
      expect(evicted(changes), 'set "2" (b & c) comes first: a goes').to.deep.equal(['a:stopping']);
      expect(await running(h.app)).to.deep.equal({ b: 'ready', c: 'ready' });
    });

    it('+ref sets: the referenced expression is inlined, so c joins a and then b replaces only a', async function () {
      const h = await openGateway(
        await configYaml(
          { a: generic('a'), b: generic('b'), c: generic('c') },
          { routing: { router: { use: 'matrix', settings: { matrix: { sets: { llms: 'a | b', with_c: '+llms & c' } } } } } },
        ),
      );
      const changes = recordStates(h.gateway);
      await askInTurn(h, 'a', 'c');
      expect(await running(h.app)).to.deep.equal({ a: 'ready', c: 'ready' });
      expect(evicted(changes), 'with_c expands to [a, c] and [b, c]').to.deep.equal([]);

      // llms' [b] would evict a and c (cost 2); with_c's [b, c] evicts a only (cost 1).
      await ask(h, 'b');
      expect(await running(h.app)).to.deep.equal({ b: 'ready', c: 'ready' });
      expect(evicted(changes)).to.deep.equal(['a:stopping']);
    });

    it("siesta's twist: between two equal choices the model that can sleep is evicted, and it ends asleep with its process kept", async function () {
      const h = await openGateway(
        await configYaml(
          { g: generic('g'), v: sleeper('v'), t: generic('t') },
          {
            routing: {
              router: {
                use: 'matrix',
                // llama-swap would pick t_v (first of two cost-1 sets) and stop g.
                settings: { matrix: { sets: { g_v: 'g & v', t_v: 't & v', t_g: 't & g' } } },
              },
            },
          },
        ),
      );
      expect(h.gateway.manager.process('v').canSleep(), 'v is a vLLM-style model with sleep mode').to.equal(true);
      expect(h.gateway.manager.process('g').canSleep()).to.equal(false);
      const changes = recordStates(h.gateway);
      await askInTurn(h, 'g', 'v');
      const pidV = h.gateway.manager.process('v').pid;
      expect(pidV).to.be.a('number');

      await ask(h, 't');
      expect(evicted(changes)).to.deep.equal(['v:sleeping']);
      expect(await running(h.app)).to.deep.equal({ g: 'ready', v: 'asleep', t: 'ready' });
      expect(h.gateway.manager.process('v').pid, 'asleep, not stopped').to.equal(pidV);
      const state = (await (await fetch(`${h.gateway.config.models.v!.proxy}/__state`)).json()) as { asleep: boolean };
      expect(state.asleep, "the fake's own view").to.equal(true);

      // Asleep holds no memory: waking v weighs only g and t (both cost 1), so g_v (first) wins and t stops.
      await ask(h, 'v');
      expect(evicted(changes)).to.deep.equal(['v:sleeping', 't:stopping']);
      expect(await running(h.app)).to.deep.equal({ g: 'ready', v: 'ready' });
      expect(h.gateway.manager.process('v').pid, 'woken, not restarted').to.equal(pidV);
    });

    it('a model in no set runs alone: everything else is evicted (the sleeper sleeps), and it is evicted in turn', async function () {
      const h = await openGateway(
        await configYaml(
          { a: generic('a'), b: sleeper('b'), solo: generic('solo') },
          { routing: { router: { use: 'matrix', settings: { matrix: { sets: { a_b: 'a & b' } } } } } },
        ),
      );
      const changes = recordStates(h.gateway);
      await askInTurn(h, 'a', 'b');
      expect(await running(h.app)).to.deep.equal({ a: 'ready', b: 'ready' });

      await ask(h, 'solo');
      expect(evicted(changes).sort()).to.deep.equal(['a:stopping', 'b:sleeping']);
      expect(await running(h.app)).to.deep.equal({ b: 'asleep', solo: 'ready' });

      await ask(h, 'a');
      expect(evicted(changes).slice(2)).to.deep.equal(['solo:stopping']);
      expect(await running(h.app)).to.deep.equal({ a: 'ready', b: 'asleep' });
    });
    it('a busy model is never evicted: the incompatible request waits, a compatible one loads meanwhile, then the swap happens', async function () {
      const h = await openGateway(
        await configYaml(
          { a: streamer('a'), b: generic('b'), c: generic('c') },
          { routing: { router: { use: 'matrix', settings: { matrix: { sets: { a_c: 'a & c', b_c: 'b & c' } } } } } },
        ),
      );
      const changes = recordStates(h.gateway);
      const url = await listen(express().use(h.gateway.router));
      const hold = await holdBusy(url, 'a');
      const forB = post(url, chat('b')).then(async (response) => ((await response.json()) as { model: string }).model);
      await pollUntil(() => h.gateway.manager.snapshot().queue.some((entry) => entry.model === 'b'), { what: 'b to wait for busy a' });

      // c overtakes the waiting b: b's set b_c keeps c, and a_c lets c load beside a.
      const forC = await post(url, chat('c'));
      expect(forC.status).to.equal(200);
      expect(await running(h.app)).to.deep.equal({ a: 'ready', c: 'ready' });
      expect(evicted(changes), 'a is streaming: nothing evicted yet').to.deep.equal([]);
      expect(h.gateway.manager.snapshot().queue.map((entry) => entry.model)).to.deep.equal(['b']);

      await hold.end();
      expect(await forB).to.equal('b');
      expect(evicted(changes)).to.deep.equal(['a:stopping']);
      expect(await running(h.app)).to.deep.equal({ b: 'ready', c: 'ready' });
    });
  });

  describe('routing.scheduler.settings.fifo.priority', function () {
    /**
     * `hold` streams (busy) while a request for `lo`, then one for `hi`, queue behind it in one swap
     * group; the stream's client then leaves. Returns the order in which the two were answered and
     * the order in which their models started.
     */
    async function raceBehindBusy(priority: Record<string, number> | null): Promise<{ answered: string[]; started: string[]; queued: string[] }> {
      const h = await openGateway(
        await configYaml(
          { hold: streamer('hold'), lo: generic('lo'), hi: generic('hi') },
          priority === null ? {} : { routing: { scheduler: { use: 'fifo', settings: { fifo: { priority } } } } },
        ),
      );
      const changes = recordStates(h.gateway);
      const url = await listen(express().use(h.gateway.router));
      const hold = await holdBusy(url, 'hold');

      const answered: string[] = [];
      const send = (model: string): Promise<number> =>
        post(url, chat(model)).then(async (response) => {
          const body = (await response.json()) as { model?: string };
          answered.push(body.model ?? `${model}?`);
          return response.status;
        });
      const queuedModels = (): string[] => h.gateway.manager.snapshot().queue.map((entry) => entry.model);
      const forLo = send('lo');
      await pollUntil(() => queuedModels().includes('lo'), { what: 'lo to queue behind the busy model' });
      const forHi = send('hi');
      await pollUntil(() => queuedModels().length === 2, { what: 'hi to queue too' });
      const queued = queuedModels();
      expect(answered, 'nothing is served while hold streams').to.deep.equal([]);

      await hold.end();
      expect(await Promise.all([forLo, forHi])).to.deep.equal([200, 200]);
      const started = changes.filter((change) => change.to === 'starting' && change.model !== 'hold').map((change) => change.model);
      return { answered, started, queued };
    }

    it('the higher-priority model is served first although its request arrived second', async function () {
      const { answered, started, queued } = await raceBehindBusy({ hi: 10, lo: 1 });
      expect(queued, 'queue order: priority first').to.deep.equal(['hi', 'lo']);
      expect(started).to.deep.equal(['hi', 'lo']);
      expect(answered).to.deep.equal(['hi', 'lo']);
    });

    it('without priorities the same race is served in arrival order (the control)', async function () {
      const { answered, started, queued } = await raceBehindBusy(null);
      expect(queued).to.deep.equal(['lo', 'hi']);
      expect(started).to.deep.equal(['lo', 'hi']);
      expect(answered).to.deep.equal(['lo', 'hi']);
    });
  });
});

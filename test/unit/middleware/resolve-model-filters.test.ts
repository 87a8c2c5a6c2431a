/**
 * What resolve-model forwards once a name is routed: `applyFilters` / `rewriteBody` as tables
 * (llama-swap's internal/server/filters_test.go: useModelName, stripParams, setParams,
 * setParamsByID by the requested name), then the middleware over a real `NameRouter`: the body a
 * local model or a peer would receive after profile pins and selectors, the errors of each route
 * kind, and the release of a spillover reservation when the response closes.
 */
import { expect } from 'chai';
import express, { type Express } from 'express';
import request from 'supertest';
import type { Filters, GatewayConfig, ModelConfig } from '../../../lib/config/types.js';
import { loadConfigText } from '../../../lib/config/index.js';
import { NameRouter, ProfileSwitch } from '../../../lib/gateway/name-router.js';
import type { Route } from '../../../lib/gateway/name-routing.js';
import { peerRequestContext, requestContext } from '../../../lib/gateway/types.js';
import type { ModelState } from '../../../lib/process/states.js';
import { createErrorHandler } from '../../../middleware/error-handler.js';
import { applyFilters, createResolveModelMiddleware, rewriteBody, type NameRouting } from '../../../middleware/resolve-model.js';
import { makeModel } from '../../helpers/model-config.js';

const NO_FILTERS: Filters = { stripParams: [], setParams: {}, setParamsByID: {} };
const filters = (overrides: Partial<Filters>): Filters => ({ ...NO_FILTERS, ...overrides });

const silent = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

describe('resolve-model: filters and the forwarded body', function () {
  describe('applyFilters (filters_test.go TestServer_ApplyFilters)', function () {
    const cases: [what: string, body: Record<string, unknown>, f: Filters, name: string, forwardName: string | null, expected: Record<string, unknown>][] = [
      ['a forward name replaces the model', { model: 'alias', temp: 1 }, NO_FILTERS, 'alias', 'real-model', { model: 'real-model', temp: 1 }],
      ['no forward name keeps the client’s model', { model: 'alias', temp: 1 }, NO_FILTERS, 'alias', null, { model: 'alias', temp: 1 }],
      ['strip and set params', { model: 'm', temperature: 0.7 }, filters({ stripParams: ['temperature'], setParams: { top_p: 0.9 } }), 'm', null, { model: 'm', top_p: 0.9 }],
      ['setParamsByID overrides setParams', { model: 'alias' }, filters({ setParams: { top_p: 0.5 }, setParamsByID: { alias: { top_p: 0.1 } } }), 'alias', null, { model: 'alias', top_p: 0.1 }],
      ['setParamsByID only for the name it is keyed by', { model: 'm' }, filters({ setParams: { top_p: 0.5 }, setParamsByID: { alias: { top_p: 0.1 } } }), 'm', null, { model: 'm', top_p: 0.5 }],
      ['model is never stripped', { model: 'm', a: 1 }, filters({ stripParams: ['model', 'a'] }), 'm', null, { model: 'm' }],
      ['setParams overrides what the client sent', { model: 'm', temperature: 2 }, filters({ setParams: { temperature: 0.2 } }), 'm', null, { model: 'm', temperature: 0.2 }],
      // TestServer_ResolveFilters_QualifiedPeer: a peer's filters under its qualified name, the model renamed to the peer's id.
      ['a peer: renamed to its own id, its filters applied', { model: 'remote/org/model', temperature: 1 }, filters({ stripParams: ['temperature'] }), 'remote/org/model', 'org/model', { model: 'org/model' }],
      ['a peer: setParamsByID by the routed (qualified) name', { model: 'remote/m' }, filters({ setParamsByID: { 'remote/m': { x: 1 }, m: { y: 2 } } }), 'remote/m', 'm', { model: 'm', x: 1 }],
      // sjson paths, as llama-swap: a dotted key reaches inside an object, creating it when missing.
      ['a dotted setParams key sets a nested value', { model: 'm', chat_template_kwargs: { keep: 1 } }, filters({ setParams: { 'chat_template_kwargs.enable_thinking': false } }), 'm', null, { model: 'm', chat_template_kwargs: { keep: 1, enable_thinking: false } }],
      ['a dotted setParams key creates the object', { model: 'm' }, filters({ setParams: { 'provider.zdr': true } }), 'm', null, { model: 'm', provider: { zdr: true } }],
      ['a dotted stripParams key removes a nested value', { model: 'm', a: { b: 1, c: 2 } }, filters({ stripParams: ['a.b'] }), 'm', null, { model: 'm', a: { c: 2 } }],
    ];
    for (const [what, body, f, name, forwardName, expected] of cases) {
      it(what, function () {
        const frozen = Object.freeze({ ...body });
        expect(applyFilters(frozen, f, name, forwardName)).to.deep.equal(expected);
        expect(frozen, 'the parsed body is not mutated').to.deep.equal(body);
      });
    }
  });

  describe('rewriteBody for a local model', function () {
    const model = makeModel({
      id: 'real',
      cmd: ['x'],
      aliases: ['variant', 'real:fast'],
      filters: filters({ setParamsByID: { variant: { thinking: true }, 'real:fast': { speed: 2 } } }),
    });
    const cases: [what: string, m: ModelConfig, name: string, requested: string, expected: Record<string, unknown>][] = [
      ['asked by the alias key: its params, the model kept', model, 'variant', 'variant', { model: 'variant', thinking: true }],
      ['asked by the id: not the alias’s params', model, 'real', 'real', { model: 'real' }],
      ['a ${MODEL_ID} key, expanded', model, 'real:fast', 'real:fast', { model: 'real:fast', speed: 2 }],
      ['routed to another name (pin or selector): the body carries the routed name', model, 'variant', 'public', { model: 'variant', thinking: true }],
      ['useModelName wins over the routed name', { ...model, useModelName: 'upstream-name' }, 'variant', 'public', { model: 'upstream-name', thinking: true }],
    ];
    for (const [what, m, name, requested, expected] of cases) {
      it(what, function () {
        expect(rewriteBody({ model: requested }, m, name, requested)).to.deep.equal(expected);
      });
    }
  });

  describe('the middleware over a NameRouter', function () {
    // llama-swap's selectorTestConfig and profileTestConfig, merged, plus a peer with filters.
    const config: GatewayConfig = loadConfigText(
      `
models:
  a:
    cmd: echo \${PORT}
    filters:
      stripParams: "temperature, seed"
      setParams:
        top_p: 0.5
      setParamsByID:
        variant:
          thinking: true
          top_p: 0.1
        "\${MODEL_ID}:fast":
          speed: 2
  b:
    cmd: echo \${PORT}
  whisper:
    cmd: echo \${PORT}
    useModelName: whisper-large-v3
groups:
  all:
    swap: false
    members: [a, b, whisper]
peers:
  remote:
    proxy: http://127.0.0.1:9/prefix
    apiKey: secret
    models: [org/model, b, whisper-remote]
    filters:
      stripParams: temperature
      setParams:
        top_k: 5
      setParamsByID:
        remote/org/model:
          qualified: true
selectors:
  public:
    strategy: pin
    targets: [variant, remote/org/model]
  pool:
    strategy: spillover
    targets: [a, b]
profiles:
  coding:
    pins:
      llm-code: public
      disabled: ~
      b: a
      speech: whisper-remote
      dictation: whisper
`,
      { env: {}, baseDir: '/srv/siesta' },
    ).config;

    function harness(states: Record<string, ModelState> = {}): { app: Express; profiles: ProfileSwitch; released: Route[] } {
      const names = new Map<string, ModelConfig>();
      for (const model of Object.values(config.models)) names.set(model.id, model);
      for (const model of Object.values(config.models)) for (const alias of model.aliases) if (!names.has(alias)) names.set(alias, model);
      const models = { resolve: (name: string) => names.get(name), state: (id: string) => states[id] ?? 'stopped' };
      const profiles = new ProfileSwitch();
      const router = new NameRouter({ config, profiles, models });
      const released: Route[] = [];
      const routing: NameRouting = {
        route: (name) => router.route(name),
        release: (route) => {
          released.push(route);
          router.release(route);
        },
      };
      const app = express();
      app.post('/v1/*path', express.raw({ type: () => true }), createResolveModelMiddleware({ models, routing }), function report(_req, res) {
        const peer = peerRequestContext(res);
        if (peer) {
          res.json({ peer: peer.peer.id, model: peer.model, body: Buffer.isBuffer(peer.body) ? peer.body.toString('utf8') : null });
          return;
        }
        const context = requestContext(res);
        res.json({ local: context.model.id, requestedName: context.requestedName, body: Buffer.isBuffer(context.body) ? context.body.toString('utf8') : null, stream: context.stream });
      });
      app.use(createErrorHandler({ log: silent }));
      return { app, profiles, released };
    }

    /** What the chain would forward for a chat request with this body. */
    async function forwarded(app: Express, body: Record<string, unknown>): Promise<{ local?: string; peer?: string; model?: string; requestedName?: string; body: Record<string, unknown> | null }> {
      const response = await request(app).post('/v1/chat/completions').send(body).expect(200);
      const report = response.body as { local?: string; peer?: string; model?: string; requestedName?: string; body: string | null };
      return { ...report, body: report.body === null ? null : (JSON.parse(report.body) as Record<string, unknown>) };
    }

    it('a local id: filters applied, no rename; setParamsByID of an alias not applied', async function () {
      const { app } = harness();
      const out = await forwarded(app, { model: 'a', temperature: 1, seed: 3, keep: true });
      expect(out).to.deep.include({ local: 'a', requestedName: 'a' });
      expect(out.body).to.deep.equal({ model: 'a', keep: true, top_p: 0.5 });
    });

    it('the alias key of setParamsByID: its params override setParams (what upstream receives)', async function () {
      const { app } = harness();
      const out = await forwarded(app, { model: 'variant', temperature: 1 });
      expect(out).to.deep.include({ local: 'a', requestedName: 'variant' });
      expect(out.body).to.deep.equal({ model: 'variant', top_p: 0.1, thinking: true });
    });

    it('a ${MODEL_ID} key: asked as a:fast', async function () {
      const { app } = harness();
      const out = await forwarded(app, { model: 'a:fast' });
      expect(out.body).to.deep.equal({ model: 'a:fast', top_p: 0.5, speed: 2 });
    });

    it('a pin selector: rewritten before the filters (RewritesBeforeFiltersAndRecordsActivity)', async function () {
      const { app } = harness();
      const out = await forwarded(app, { model: 'public' });
      expect(out).to.deep.include({ local: 'a', requestedName: 'variant' });
      expect(out.body).to.deep.equal({ model: 'variant', top_p: 0.1, thinking: true });
    });

    it('the profile runs first: llm-code → public → variant (ProfileRunsFirst); b pinned to a', async function () {
      const { app, profiles } = harness();
      profiles.set('coding', config);
      expect((await forwarded(app, { model: 'llm-code' })).body).to.deep.equal({ model: 'variant', top_p: 0.1, thinking: true });
      const pinned = await forwarded(app, { model: 'b' });
      expect(pinned).to.deep.include({ local: 'a', requestedName: 'a' });
      expect(pinned.body).to.deep.equal({ model: 'a', top_p: 0.5 });
    });

    it('a peer model: renamed to the peer’s id, the peer’s filters and its setParamsByID by the qualified name', async function () {
      const { app } = harness();
      const out = await forwarded(app, { model: 'remote/org/model', temperature: 1, stream: true });
      expect(out).to.deep.include({ peer: 'remote', model: 'org/model' });
      expect(out.body).to.deep.equal({ model: 'org/model', stream: true, top_k: 5, qualified: true });
    });

    it('a bare peer model name: renamed, no qualified setParamsByID', async function () {
      const { app } = harness();
      const out = await forwarded(app, { model: 'org/model' });
      expect(out).to.deep.include({ peer: 'remote', model: 'org/model' });
      expect(out.body).to.deep.equal({ model: 'org/model', top_k: 5 });
    });

    it('a bare name served both locally and by a peer stays local; the qualified name reaches the peer', async function () {
      const { app } = harness();
      expect(await forwarded(app, { model: 'b' })).to.deep.include({ local: 'b' });
      expect(await forwarded(app, { model: 'remote/b' })).to.deep.include({ peer: 'remote', model: 'b' });
    });

    it('errors: unknown name 404, a pin to nothing 404 naming the target, disabled by the profile 404, no spillover target 503', async function () {
      const { app, profiles } = harness({ a: 'stopping', b: 'shutdown' });
      const unknown = await request(app).post('/v1/chat/completions').send({ model: 'nope' }).expect(404);
      expect(unknown.body.error.message).to.equal('Model "nope" is not configured');
      profiles.set('coding', config);
      const disabled = await request(app).post('/v1/chat/completions').send({ model: 'disabled' }).expect(404);
      expect(disabled.body.error).to.deep.include({ type: 'invalid_request_error', message: 'Model "disabled" is disabled by the active profile "coding"' });
      const none = await request(app).post('/v1/chat/completions').send({ model: 'pool' }).expect(503);
      expect(none.body.error.message).to.match(/selector "pool" has no available/);
    });

    it('a spillover reservation is released once the response closes, a pin selector’s is not taken', async function () {
      const { app, released } = harness();
      await forwarded(app, { model: 'pool' });
      expect(released.map((route) => route.kind === 'local' && `${route.selector}:${route.model.id}`)).to.deep.equal(['pool:a']);
      await forwarded(app, { model: 'pool' });
      expect(released, 'released after each request: a again, not b').to.have.length(2);
      expect(released.map((route) => route.kind === 'local' && route.model.id)).to.deep.equal(['a', 'a']);
    });

    describe('multipart bodies (llama-swap rewrites the form’s model field: swaputil.ReplaceRequestModel)', function () {
      async function multipartModel(app: Express, model: string): Promise<{ report: Record<string, unknown>; model: string | undefined }> {
        const response = await request(app).post('/v1/audio/transcriptions').field('model', model).attach('file', Buffer.from('xx'), 'a.wav').expect(200);
        const report = response.body as Record<string, unknown> & { body: string | null };
        const sent = report.body === null ? undefined : /name="model"\r\n\r\n([^\r]*)\r\n/.exec(report.body)?.[1];
        return { report, model: sent };
      }

      it('a local model asked for by its id: routed, the form forwarded as sent', async function () {
        const { app } = harness();
        const { report } = await multipartModel(app, 'b');
        expect(report).to.deep.include({ local: 'b', requestedName: 'b' });
      });

      it('a peer model: the form’s model field is the peer’s id (llama-swap’s peer proxy rewrites it)', async function () {
        const { app } = harness();
        const { report, model } = await multipartModel(app, 'remote/whisper-remote');
        expect(report).to.deep.include({ peer: 'remote', model: 'whisper-remote' });
        expect(model, 'the model field the peer receives').to.equal('whisper-remote');
      });

      it('a profile pin to a local model: the form carries the pinned name (llama-swap’s profile middleware rewrites it)', async function () {
        const { app, profiles } = harness();
        profiles.set('coding', config);
        const { report, model } = await multipartModel(app, 'b');
        expect(report).to.deep.include({ local: 'a', requestedName: 'a' });
        expect(model, 'the model field upstream receives').to.equal('a');
      });

      it('a profile pin to a model with useModelName: the form carries useModelName (CreateFormFilterMiddleware)', async function () {
        const { app, profiles } = harness();
        profiles.set('coding', config);
        const { report, model } = await multipartModel(app, 'dictation');
        expect(report).to.deep.include({ local: 'whisper' });
        // useModelName applies to forms too (CreateFormFilterMiddleware); the routed name otherwise.
        expect(model, 'the model field upstream receives').to.equal('whisper-large-v3');
      });
    });
  });
});

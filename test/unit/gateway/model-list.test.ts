/**
 * The `/v1/models` builder against llama-swap's handleListModels (internal/server/api.go and the
 * cases of its api_test.go): capabilities, metadata under meta.llamaswap, status, aliases, peers,
 * selectors, the active profile's pins, the order.
 */
import { expect } from 'chai';
import type { GatewayConfig, ModelCapabilities, PeerConfig, SelectorConfig } from '../../../lib/config/types.js';
import { PEER_TIMEOUTS } from '../../../lib/config/routing.js';
import { buildModelList, renderCapabilities, selectorStatus, type ModelRecord } from '../../../lib/gateway/model-list.js';
import type { ModelState } from '../../../lib/process/states.js';
import { makeModel } from '../../helpers/model-config.js';

type ListConfig = Pick<GatewayConfig, 'models' | 'peers' | 'selectors' | 'profiles' | 'includeAliasesInList'>;

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}

const caps = (overrides: Partial<ModelCapabilities>): ModelCapabilities => ({ in: [], out: [], tools: false, reranker: false, context: 0, ...overrides });
const peer = (id: string, models: string[]): PeerConfig => ({ id, proxy: `http://${id}.lan:8080`, apiKey: '', models, filters: { stripParams: [], setParams: {}, setParamsByID: {} }, timeouts: PEER_TIMEOUTS });
const selector = (id: string, overrides: Partial<SelectorConfig>): SelectorConfig => ({
  id,
  strategy: 'warm',
  targets: [],
  spillover: 0,
  name: '',
  description: '',
  unlisted: false,
  metadata: {},
  ...overrides,
});

function list(config: Partial<ListConfig>, states: Record<string, ModelState> = {}, activeProfile: string | null = null): ModelRecord[] {
  const full: ListConfig = deepFreeze({ models: {}, peers: {}, selectors: {}, profiles: {}, includeAliasesInList: false, ...config });
  return buildModelList({ config: full, state: (id) => states[id] ?? 'stopped', activeProfile, createdSec: 1700000000 }).data;
}

const byId = (records: readonly ModelRecord[]): Map<string, ModelRecord> => new Map(records.map((record) => [record.id, record]));

describe('model-list: /v1/models as llama-swap builds it', function () {
  it('a plain model: OpenAI fields, llama-swap status and meta.llamaswap, siesta’s state and backend', function () {
    const [record] = list({ models: { visible: makeModel({ id: 'visible', cmd: ['x'], name: 'Visible', description: ' a model ' }) } });
    expect(record).to.deep.equal({
      id: 'visible',
      object: 'model',
      created: 1700000000,
      owned_by: 'siesta',
      name: 'Visible',
      description: 'a model',
      meta: { llamaswap: { type: 'model' } },
      status: { value: 'unloaded' },
      state: 'stopped',
      backend: 'generic',
    });
  });

  it('unlisted models are left out; no name when it is only the id', function () {
    const records = list({ models: { visible: makeModel({ id: 'visible', cmd: ['x'] }), hidden: makeModel({ id: 'hidden', cmd: ['x'], unlisted: true }) } });
    expect(records.map((record) => record.id)).to.deep.equal(['visible']);
    expect(records[0]).to.not.have.property('name');
  });

  it('status: loaded for any running process (asleep included), unloaded when stopped; aliases share it', function () {
    const models = {
      a: makeModel({ id: 'a', cmd: ['x'], aliases: ['a-alias'] }),
      b: makeModel({ id: 'b', cmd: ['x'] }),
      c: makeModel({ id: 'c', cmd: ['x'] }),
      d: makeModel({ id: 'd', cmd: ['x'] }),
    };
    const records = byId(list({ models, includeAliasesInList: true }, { a: 'ready', b: 'asleep', c: 'starting', d: 'stopped' }));
    expect(records.get('a')!.status.value).to.equal('loaded');
    expect(records.get('a-alias')!.status.value).to.equal('loaded');
    expect(records.get('b')).to.deep.include({ status: { value: 'loaded' }, state: 'asleep' });
    expect(records.get('c')!.status.value).to.equal('loaded');
    expect(records.get('d')!.status.value).to.equal('unloaded');
  });

  it('aliases: listed in meta.llamaswap.aliases; as entries of their own only with includeAliasesInList', function () {
    const models = { real: makeModel({ id: 'real', cmd: ['x'], name: 'Real', aliases: ['nick', 'other'], metadata: { family: 'qwen' } }) };
    const without = list({ models });
    expect(without.map((record) => record.id)).to.deep.equal(['real']);
    expect(without[0]!.meta).to.deep.equal({ llamaswap: { family: 'qwen', type: 'model', aliases: ['nick', 'other'] } });
    const records = byId(list({ models, includeAliasesInList: true }));
    expect([...records.keys()]).to.deep.equal(['nick', 'other', 'real']);
    expect(records.get('nick')).to.deep.include({ name: 'Real', meta: { llamaswap: { family: 'qwen', type: 'alias', modelID: 'real' } }, state: 'stopped' });
  });

  it('internal metadata wins over configured keys of the same name', function () {
    const [record] = list({ models: { m: makeModel({ id: 'm', cmd: ['x'], metadata: { type: 'mine', note: 'kept' } }) } });
    expect(record!.meta).to.deep.equal({ llamaswap: { type: 'model', note: 'kept' } });
  });

  describe('capabilities (llama-swap TestServer_HandleListModels_Capabilities)', function () {
    const rendered = (capabilities: ModelCapabilities | null, metadata: Record<string, unknown> = {}): ModelRecord =>
      list({ models: { m: makeModel({ id: 'm', cmd: ['x'], capabilities, metadata }) } })[0]!;

    it('all fields', function () {
      const record = rendered(caps({ in: ['text', 'image'], out: ['text', 'audio'], tools: true, context: 100000 }));
      expect(record.architecture).to.deep.equal({ input_modalities: ['text', 'image'], output_modalities: ['text', 'audio'], modality: 'text+image->text+audio' });
      expect(record.capabilities).to.deep.equal({ vision: true, audio_speech: true, function_calling: true });
      expect(record.supported_parameters).to.deep.equal(['tools', 'tool_choice']);
      expect(record.context_length).to.equal(100000);
      expect(record.meta).to.deep.equal({ llamaswap: { type: 'model' }, n_ctx: 100000 });
    });

    const table: readonly (readonly [string, ModelCapabilities | null, ReturnType<typeof renderCapabilities>])[] = [
      ['in only', caps({ in: ['text', 'image'] }), { architecture: { input_modalities: ['text', 'image'] }, capabilities: { vision: true } }],
      // Go's omitempty drops the empty capabilities map.
      ['out only', caps({ out: ['audio'] }), { architecture: { output_modalities: ['audio'] } }],
      ['tools', caps({ tools: true }), { capabilities: { function_calling: true }, supported_parameters: ['tools', 'tool_choice'] }],
      ['reranker', caps({ reranker: true }), { capabilities: { reranker: true } }],
      ['context', caps({ context: 32768 }), { context_length: 32768 }],
      ['audio transcriptions', caps({ in: ['audio'], out: ['text'] }), { architecture: { input_modalities: ['audio'], output_modalities: ['text'], modality: 'audio->text' }, capabilities: { audio_transcriptions: true } }],
      ['image generation', caps({ in: ['text'], out: ['image'] }), { architecture: { input_modalities: ['text'], output_modalities: ['image'], modality: 'text->image' }, capabilities: { image_generation: true } }],
      ['image to image', caps({ in: ['image'], out: ['image'] }), { architecture: { input_modalities: ['image'], output_modalities: ['image'], modality: 'image->image' }, capabilities: { vision: true, image_to_image: true } }],
      ['audio in, image out: no flags', caps({ in: ['audio'], out: ['image'] }), { architecture: { input_modalities: ['audio'], output_modalities: ['image'], modality: 'audio->image' } }],
      ['none', null, {}],
    ];
    for (const [what, capabilities, expected] of table) {
      it(what, function () {
        expect(renderCapabilities(capabilities)).to.deep.equal(expected);
      });
    }

    it('with capabilities, metadata keys the renderer owns are dropped, others kept', function () {
      const record = rendered(caps({ in: ['text'] }), { architecture: 'dropped', capabilities: 'dropped', supported_parameters: 'dropped', context_length: 1, custom_field: 'kept' });
      expect(record.architecture).to.deep.equal({ input_modalities: ['text'] });
      expect(record.meta).to.deep.equal({ llamaswap: { custom_field: 'kept', type: 'model' } });
    });

    it('without capabilities, the same metadata keys pass through', function () {
      const record = rendered(null, { architecture: 'preserved', context_length: 4096 });
      expect(record).to.not.have.property('architecture');
      expect(record).to.not.have.property('context_length');
      expect(record.meta).to.deep.equal({ llamaswap: { architecture: 'preserved', context_length: 4096, type: 'model' } });
    });
  });

  it('peers: every model as <peer>/<model>, named "<peer>: <model>", unloaded, type peer', function () {
    const records = list({ models: { visible: makeModel({ id: 'visible', cmd: ['x'] }) }, peers: { peer1: peer('peer1', ['remote-model', 'org/m']) } });
    expect(records.map((record) => record.id)).to.deep.equal(['peer1/org/m', 'peer1/remote-model', 'visible']);
    expect(byId(records).get('peer1/remote-model')).to.deep.equal({
      id: 'peer1/remote-model',
      object: 'model',
      created: 1700000000,
      owned_by: 'siesta',
      name: 'peer1: remote-model',
      meta: { llamaswap: { type: 'peer', peerID: 'peer1' } },
      status: { value: 'unloaded' },
    });
  });

  it('a local model and two peers with the same model: three entries (llama-swap PeerNamespaces)', function () {
    const records = list({ models: { shared: makeModel({ id: 'shared', cmd: ['x'] }) }, peers: { cuda: peer('cuda', ['shared']), strix: peer('strix', ['shared']) } });
    expect(records.map((record) => record.id)).to.deep.equal(['cuda/shared', 'shared', 'strix/shared']);
  });

  describe('selectors', function () {
    const models = {
      a: makeModel({ id: 'a', cmd: ['x'], aliases: ['a-alias'] }),
      b: makeModel({ id: 'b', cmd: ['x'] }),
    };

    it('listed with their name, description, metadata and strategy; unlisted ones left out', function () {
      const records = byId(
        list({
          models,
          peers: { p: peer('p', ['r']) },
          selectors: {
            chat: selector('chat', { strategy: 'warm', targets: ['a-alias', 'p/r'], name: 'Chat', description: 'any chat model', metadata: { tier: 1 } }),
            fast: selector('fast', { strategy: 'spillover', targets: ['a', 'b'], spillover: 4 }),
            secret: selector('secret', { strategy: 'pin', targets: ['b'], unlisted: true }),
          },
        }),
      );
      expect(records.has('secret')).to.equal(false);
      expect(records.get('chat')).to.deep.equal({
        id: 'chat',
        object: 'model',
        created: 1700000000,
        owned_by: 'siesta',
        name: 'Chat',
        description: 'any chat model',
        meta: { llamaswap: { tier: 1, type: 'selector', strategy: 'warm', targets: ['a-alias', 'p/r'] } },
        status: { value: 'unloaded' },
      });
      expect(records.get('fast')!.meta).to.deep.equal({ llamaswap: { type: 'selector', strategy: 'spillover', targets: ['a', 'b'], spillover: 4 } });
    });

    it('status: loaded when a local target (id or alias) is ready, starting or waking; pin looks at its first target only', function () {
      const localId = (name: string): string | undefined => ({ a: 'a', 'a-alias': 'a', b: 'b' })[name];
      const table: readonly (readonly [SelectorConfig['strategy'], string[], Record<string, ModelState>, 'loaded' | 'unloaded'])[] = [
        ['warm', ['a', 'b'], { b: 'ready' }, 'loaded'],
        ['warm', ['a-alias'], { a: 'starting' }, 'loaded'],
        ['warm', ['a'], { a: 'waking' }, 'loaded'],
        ['warm', ['a', 'b'], { a: 'asleep', b: 'stopped' }, 'unloaded'],
        ['warm', ['p/r', 'b'], { b: 'ready' }, 'loaded'],
        ['pin', ['a', 'b'], { b: 'ready' }, 'unloaded'],
        ['pin', ['a', 'b'], { a: 'ready' }, 'loaded'],
        ['spillover', ['a', 'b'], { b: 'ready' }, 'loaded'],
      ];
      for (const [strategy, targets, states, expected] of table) {
        expect(selectorStatus({ strategy, targets }, localId, (id) => states[id] ?? 'stopped'), `${strategy} ${targets.join(',')} ${JSON.stringify(states)}`).to.equal(expected);
      }
    });
  });

  describe('the active profile', function () {
    const config: Partial<ListConfig> = {
      models: { a: makeModel({ id: 'a', cmd: ['x'], aliases: ['a-alias'] }) },
      peers: { p: peer('p', ['r']) },
      selectors: { sel: selector('sel', { targets: ['a'], unlisted: true }) },
      profiles: {
        work: { id: 'work', description: '', pins: { 'gpt-4o': 'a', a: 'p/r', 'a-alias': 'a', r: 'a', 'p/r': 'a', sel: 'a', off: '' } },
        other: { id: 'other', description: '', pins: { 'claude-3': 'a' } },
      },
    };

    it('lists its pins that name nothing else and are not disabled, as type profile', function () {
      const records = byId(list(config, {}, 'work'));
      expect([...records.keys()]).to.deep.equal(['a', 'gpt-4o', 'p/r']);
      expect(records.get('gpt-4o')).to.deep.equal({ id: 'gpt-4o', object: 'model', created: 1700000000, owned_by: 'siesta', meta: { llamaswap: { type: 'profile' } }, status: { value: 'unloaded' } });
    });

    it('no active profile, no pins listed', function () {
      expect(list(config).map((record) => record.id)).to.deep.equal(['a', 'p/r']);
    });
  });

  it('sorted by id, whatever the config order', function () {
    const records = list({
      models: { zeta: makeModel({ id: 'zeta', cmd: ['x'] }), Alpha: makeModel({ id: 'Alpha', cmd: ['x'] }), beta: makeModel({ id: 'beta', cmd: ['x'] }) },
      peers: { m: peer('m', ['x']) },
      selectors: { c: selector('c', { targets: ['beta'] }) },
    });
    expect(records.map((record) => record.id)).to.deep.equal(['Alpha', 'beta', 'c', 'm/x', 'zeta']);
  });

  it('never changes the configuration (deep-frozen input: a write would throw)', function () {
    const config = deepFreeze({
      models: { a: makeModel({ id: 'a', cmd: ['x'], aliases: ['b'], capabilities: caps({ in: ['text'], out: ['text'], tools: true }), metadata: { x: [1] } }) },
      peers: { p: peer('p', ['r']) },
      selectors: { s: selector('s', { targets: ['a'] }) },
      profiles: {},
      includeAliasesInList: true,
    });
    const records = buildModelList({ config, state: () => 'ready', activeProfile: null, createdSec: 1 }).data;
    expect(records).to.have.length(4);
  });
});

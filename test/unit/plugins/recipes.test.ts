import { expect } from 'chai';
import type { HttpStep, ModelConfig } from '../../../lib/config/types.js';
import { recipeName, resolveRecipe } from '../../../lib/plugins/recipes.js';
import type { BackendPlugin, ResolvedRecipe } from '../../../lib/plugins/types.js';
import { genericPlugin } from '../../../plugins/generic.js';
import { llamaServerPlugin } from '../../../plugins/llama-server.js';
import { sglangPlugin } from '../../../plugins/sglang.js';
import { vllmPlugin } from '../../../plugins/vllm.js';
import { makeModel } from '../../helpers/model-config.js';

const timeouts = { sleepTimeoutMs: 11_000, wakeTimeoutMs: 22_000 };

const model = (overrides: Partial<ModelConfig> = {}): ModelConfig => makeModel({ id: 'm', cmd: ['server'], port: 5800, ...overrides });

const post = (endpoint: string, timeoutMs: number, body?: string): HttpStep => ({ endpoint, method: 'POST', ...(body === undefined ? {} : { body }), timeoutMs });

const explicitSleep: HttpStep[] = [{ endpoint: '/pause', method: 'PUT', body: '{"deep":true}', timeoutMs: 1234 }];
const explicitWake: HttpStep[] = [
  { endpoint: '/resume', method: 'POST', timeoutMs: 5000 },
  { endpoint: '/warm', method: 'GET', timeoutMs: 600 },
];

const vllmLevel1: ResolvedRecipe = {
  name: 'vllm level 1',
  level: 1,
  sleep: [post('/sleep?level=1', 11_000)],
  wake: [post('/wake_up', 22_000)],
};
const vllmLevel2: ResolvedRecipe = {
  name: 'vllm level 2',
  level: 2,
  sleep: [post('/sleep?level=2', 11_000)],
  wake: [
    post('/wake_up?tags=weights', 22_000),
    post('/collective_rpc', 22_000, '{"method":"reload_weights"}'),
    post('/wake_up?tags=kv_cache', 22_000),
    post('/reset_prefix_cache', 22_000),
  ],
};

interface Row {
  readonly name: string;
  readonly model: ModelConfig;
  readonly plugin: BackendPlugin;
  readonly level?: number;
  readonly recipe: ResolvedRecipe | null;
  readonly label: string;
}

const rows: readonly Row[] = [
  { name: 'vllm level 1 (configured level)', model: model(), plugin: vllmPlugin, recipe: vllmLevel1, label: 'vllm level 1' },
  { name: 'vllm level 2 (configured level)', model: model({ sleep: { enabled: true, level: 2 } }), plugin: vllmPlugin, recipe: vllmLevel2, label: 'vllm level 2' },
  { name: 'vllm level 2 asked explicitly for a level-1 model', model: model(), plugin: vllmPlugin, level: 2, recipe: vllmLevel2, label: 'vllm level 1' },
  { name: 'vllm level 3 does not exist → stop', model: model(), plugin: vllmPlugin, level: 3, recipe: null, label: 'vllm level 1' },
  { name: 'vllm with sleepMode disabled → stop', model: model({ sleep: { enabled: false, level: 1 } }), plugin: vllmPlugin, recipe: null, label: 'stop/start' },
  {
    name: 'vllm with explicit endpoints → the endpoints win',
    model: model({ sleepEndpoints: explicitSleep, wakeEndpoints: explicitWake }),
    plugin: vllmPlugin,
    recipe: { name: 'sleepEndpoints', level: 1, sleep: explicitSleep, wake: explicitWake },
    label: 'endpoints (1 sleep / 2 wake steps)',
  },
  {
    name: 'explicit endpoints keep their own methods and timeouts at any level',
    model: model({ sleepEndpoints: explicitSleep, wakeEndpoints: explicitWake }),
    plugin: vllmPlugin,
    level: 2,
    recipe: { name: 'sleepEndpoints', level: 2, sleep: explicitSleep, wake: explicitWake },
    label: 'endpoints (1 sleep / 2 wake steps)',
  },
  {
    name: 'explicit sleep endpoints without wake endpoints → empty wake',
    model: model({ sleepEndpoints: explicitSleep }),
    plugin: genericPlugin,
    recipe: { name: 'sleepEndpoints', level: 1, sleep: explicitSleep, wake: [] },
    label: 'endpoints (1 sleep / 0 wake steps)',
  },
  { name: 'explicit endpoints with sleepMode disabled → stop', model: model({ sleep: { enabled: false, level: 1 }, sleepEndpoints: explicitSleep, wakeEndpoints: explicitWake }), plugin: genericPlugin, recipe: null, label: 'stop/start' },
  { name: 'empty sleepEndpoints list falls back to the plugin', model: model({ sleepEndpoints: [], wakeEndpoints: [] }), plugin: vllmPlugin, recipe: vllmLevel1, label: 'vllm level 1' },
  { name: 'generic without endpoints → stop', model: model(), plugin: genericPlugin, recipe: null, label: 'stop/start' },
  { name: 'llama-server → stop (it sleeps by itself)', model: model(), plugin: llamaServerPlugin, recipe: null, label: 'stop/start (sleeps by itself)' },
  {
    name: 'sglang level 1 → release/resume',
    model: model(),
    plugin: sglangPlugin,
    recipe: { name: 'sglang release/resume', level: 1, sleep: [post('/release_memory_occupation', 11_000, '{}')], wake: [post('/resume_memory_occupation', 22_000, '{}')] },
    label: 'sglang release/resume',
  },
  { name: 'sglang level 2 does not exist → stop', model: model({ sleep: { enabled: true, level: 2 } }), plugin: sglangPlugin, recipe: null, label: 'stop/start' },
  {
    name: 'plugin step method and timeout override the defaults; method upper-cased',
    model: model(),
    plugin: { name: 'custom', apiVersion: 1, sleepLevels: { 1: { name: 'custom', sleep: [{ endpoint: '/zz', method: 'put', timeoutMs: 7 }], wake: [] } } },
    recipe: { name: 'custom', level: 1, sleep: [{ endpoint: '/zz', method: 'PUT', timeoutMs: 7 }], wake: [] },
    label: 'custom',
  },
];

describe('resolveRecipe and recipeName', function () {
  for (const row of rows) {
    it(row.name, function () {
      expect(resolveRecipe(row.model, row.plugin, timeouts, row.level)).to.deep.equal(row.recipe);
      expect(recipeName(row.model, row.plugin, timeouts)).to.equal(row.label);
    });
  }

  it('names an unknown plugin stop/start', function () {
    expect(recipeName(model(), undefined, timeouts)).to.equal('stop/start');
  });

  it('does not mutate the model or the plugin', function () {
    const frozen = deepFreeze(model({ sleepEndpoints: explicitSleep, wakeEndpoints: explicitWake }));
    expect(() => resolveRecipe(frozen, vllmPlugin, timeouts, 2)).not.to.throw();
    expect(() => resolveRecipe(deepFreeze(model()), deepFreeze({ ...vllmPlugin }), timeouts, 2)).not.to.throw();
  });
});

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}

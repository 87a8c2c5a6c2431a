import { expect } from 'chai';
import type { GatewayConfig, ModelConfig } from '../../../lib/config/index.js';
import { load, oneModel } from './helpers.js';

const MINIMAL = 'models:\n  m:\n    cmd: server --port ${PORT}\n';

describe('config defaults', () => {
  const loaded = load(MINIMAL);
  const config = loaded.config;
  const model = config.models.m as ModelConfig;

  const globalDefaults: [keyof GatewayConfig, unknown][] = [
    ['configPath', null],
    ['logLevel', 'info'],
    ['logFormat', 'text'],
    ['healthCheckTimeoutMs', 120_000],
    ['startPort', 5800],
    ['sendLoadingState', false],
    ['includeAliasesInList', false],
    ['apiKeys', []],
    ['adminKeys', []],
    ['preload', []],
    ['resources', {}],
    ['pluginDir', '/srv/siesta/plugins'],
    ['stateDir', '/srv/siesta/.siesta-state'],
    ['maxBodyBytes', 32 * 1024 * 1024],
    ['sleepRequestTimeoutMs', 10_000],
    ['wakeRequestTimeoutMs', 10_000],
    ['groups', [{ id: '(default)', swap: true, exclusive: true, persistent: false, members: ['m'] }]],
  ];
  for (const [key, expected] of globalDefaults) {
    it(`global ${key} defaults to ${JSON.stringify(expected)}`, () => {
      expect(config[key]).to.deep.equal(expected);
    });
  }

  const modelDefaults: [keyof ModelConfig, unknown][] = [
    ['id', 'm'],
    ['name', 'm'],
    ['description', ''],
    ['cmd', ['server', '--port', '5800']],
    ['cmdStop', null],
    ['proxy', 'http://localhost:5800'],
    ['port', 5800],
    ['aliases', []],
    ['env', {}],
    // Unset: the model's plugin decides (its defaults.checkEndpoint, else /health; lib/plugins/defaults.ts).
    ['checkEndpoint', undefined],
    ['unlisted', false],
    ['useModelName', null],
    ['concurrencyLimit', 10],
    ['filters', { stripParams: [], setParams: {}, setParamsByID: {} }],
    ['metadata', {}],
    ['sendLoadingState', false],
    ['backend', 'generic'],
    // llmsnap's default (disable) for a model without a siesta backend; see the backend case below.
    ['sleep', { enabled: false, level: 1 }],
    ['sleepEndpoints', null],
    ['wakeEndpoints', null],
    ['idle', []],
    ['resources', {}],
    ['unloadTimeoutMs', 10_000],
    ['healthCheckTimeoutMs', 120_000],
    ['priority', 0],
    ['options', {}],
    ['timeouts', { connectMs: 30_000, keepAliveMs: 30_000, responseHeaderMs: 0, tlsHandshakeMs: 10_000, expectContinueMs: 1_000, idleConnMs: 90_000, idleMs: 0 }],
    ['capabilities', null],
    ['ignoreWebsockets', false],
  ];
  for (const [key, expected] of modelDefaults) {
    it(`model ${key} defaults to ${JSON.stringify(expected)}`, () => {
      expect(model[key]).to.deep.equal(expected);
    });
  }

  it('has no warnings', () => {
    expect(loaded.warnings).to.deep.equal([]);
  });

  describe('overrides and llama-swap rules', () => {
    const cases: [string, string, string, (config: GatewayConfig, model: ModelConfig) => unknown, unknown][] = [
      ['healthCheckTimeout below 15 s is raised to 15 s', 'cmd: s --port ${PORT}', 'healthCheckTimeout: 5', (c) => c.healthCheckTimeoutMs, 15_000],
      ['healthCheckTimeout in seconds', 'cmd: s --port ${PORT}', 'healthCheckTimeout: 300', (c, m) => [c.healthCheckTimeoutMs, m.healthCheckTimeoutMs], [300_000, 300_000]],
      ['healthCheckTimeout as a duration string', 'cmd: s --port ${PORT}', 'healthCheckTimeout: 2m', (c) => c.healthCheckTimeoutMs, 120_000],
      ['startPort moves ${PORT}', 'cmd: s --port ${PORT}', 'startPort: 9000', (_c, m) => [m.port, m.proxy], [9000, 'http://localhost:9000']],
      ['concurrencyLimit 0 means 10', 'cmd: s --port ${PORT}\nconcurrencyLimit: 0', '', (_c, m) => m.concurrencyLimit, 10],
      ['concurrencyLimit set', 'cmd: s --port ${PORT}\nconcurrencyLimit: 3', '', (_c, m) => m.concurrencyLimit, 3],
      ['global sendLoadingState reaches models', 'cmd: s --port ${PORT}', 'sendLoadingState: true', (c, m) => [c.sendLoadingState, m.sendLoadingState], [true, true]],
      ['model sendLoadingState overrides the global one', 'cmd: s --port ${PORT}\nsendLoadingState: false', 'sendLoadingState: true', (_c, m) => m.sendLoadingState, false],
      ['global unloadTimeout', 'cmd: s --port ${PORT}', 'unloadTimeout: 30', (_c, m) => m.unloadTimeoutMs, 30_000],
      ['model unloadTimeout wins', 'cmd: s --port ${PORT}\nunloadTimeout: 2s', 'unloadTimeout: 30', (_c, m) => m.unloadTimeoutMs, 2000],
      ['llmsnap: sleepMode enable with endpoints sleeps', 'cmd: s --port ${PORT}\nsleepMode: enable\nsleepEndpoints: [{ endpoint: /s }]\nwakeEndpoints: [{ endpoint: /w }]', '', (_c, m) => m.sleep.enabled, true],
      ['a siesta backend sleeps by default (when the plugin can)', 'cmd: s --port ${PORT}\nbackend: vllm', '', (_c, m) => m.sleep.enabled, true],
      ['a sleep block is siesta style: sleeps by default', 'cmd: s --port ${PORT}\nsleep: { level: 2 }', '', (_c, m) => m.sleep, { enabled: true, level: 2 }],
      ['sleepMode disable wins over a backend', 'cmd: s --port ${PORT}\nbackend: vllm\nsleepMode: disable', '', (_c, m) => m.sleep.enabled, false],
      ['unloadTimeout 0 means the default (llama-swap)', 'cmd: s --port ${PORT}\nunloadTimeout: 0', 'unloadTimeout: 0', (_c, m) => m.unloadTimeoutMs, 10_000],
      ['logLevel is case-insensitive', 'cmd: s --port ${PORT}', 'logLevel: DEBUG', (c) => c.logLevel, 'debug'],
      ['macros in startPort, globalTTL, sendLoadingState (typed)', 'cmd: s --port ${PORT}', 'macros: { base: 9100, ttl: 60, loading: true }\nstartPort: ${base}\nglobalTTL: ${ttl}\nsendLoadingState: ${loading}', (c, m) => [m.port, m.idle, c.sendLoadingState], [9100, [{ afterMs: 60_000, action: 'stop' }], true]],
      ['macros in preload', 'cmd: s --port ${PORT}', 'macros: { main: m }\nhooks: { on_startup: { preload: ["${main}"] } }', (c) => c.preload, ['m']],
      ['model macros in any model field, typed', 'cmd: s --port ${PORT}\nmacros: { t: 90, lim: 3 }\nttl: ${t}\nconcurrencyLimit: ${lim}\ndescription: "${MODEL_ID} model"', '', (_c, m) => [m.idle, m.concurrencyLimit, m.description], [[{ afterMs: 90_000, action: 'stop' }], 3, 'm model']],
      ['routing.router.settings.groups are the groups', 'cmd: s --port ${PORT}', 'routing: { router: { settings: { groups: { g: { swap: false, members: [m] } } } } }', (c) => c.groups.map((g) => [g.id, g.swap, g.members]), [['g', false, ['m']], ['(default)', true, []]]],
      ['fifo priority by alias', 'cmd: s --port ${PORT}\naliases: [mm]', 'routing: { scheduler: { settings: { fifo: { priority: { mm: 7 } } } } }', (_c, m) => m.priority, 7],
      ['metricsMaxInMemory and captureBuffer (MB) as llama-swap', 'cmd: s --port ${PORT}', 'metricsMaxInMemory: 50\ncaptureBuffer: 15', (c) => [c.metricsMaxInMemory, c.captureBufferBytes], [50, 15 * 1024 * 1024]],
      ['metricsMaxInMemory and captureBuffer defaults', 'cmd: s --port ${PORT}', '', (c) => [c.metricsMaxInMemory, c.captureBufferBytes], [1000, 5 * 1024 * 1024]],
      ['cors origins: every origin by default, as llama-swap', 'cmd: s --port ${PORT}', '', (c) => c.corsOrigins, ['*']],
      ['cors origins restricted', 'cmd: s --port ${PORT}', 'cors: { origins: ["https://app.example"] }', (c) => c.corsOrigins, ['https://app.example']],
      ['maxUploadSize: 2 GiB by default, sizes accepted', 'cmd: s --port ${PORT}', 'maxUploadSize: 500MiB', (c) => c.maxUploadBytes, 500 * 1024 * 1024],
      ['trustedProxies: addresses and CIDR ranges', 'cmd: s --port ${PORT}', 'trustedProxies: [127.0.0.1, 10.0.0.0/8, "fd00::/8"]', (c) => c.trustedProxies, ['127.0.0.1', '10.0.0.0/8', 'fd00::/8']],
      ['timeouts.idle (siesta)', 'cmd: s --port ${PORT}\ntimeouts: { idle: 2m }', '', (_c, m) => m.timeouts.idleMs, 120_000],
      ['allowedHosts (trimmed, lower case)', 'cmd: s --port ${PORT}', 'allowedHosts: [" GPU-Box.lan "]', (c) => c.allowedHosts, ['gpu-box.lan']],
      ['shutdownTimeout: 30 s by default (llama-swap), durations accepted', 'cmd: s --port ${PORT}', 'shutdownTimeout: 2m', (c) => c.shutdownTimeoutMs, 120_000],
      ['checkEndpoint none → null', 'cmd: s --port ${PORT}\ncheckEndpoint: none', '', (_c, m) => m.checkEndpoint, null],
      ['checkEndpoint custom', 'cmd: s --port ${PORT}\ncheckEndpoint: /v1/models', '', (_c, m) => m.checkEndpoint, '/v1/models'],
      ['proxy loses its trailing slash', 'cmd: s --port 8999\nproxy: http://127.0.0.1:8999/', '', (_c, m) => [m.proxy, m.port], ['http://127.0.0.1:8999', null]],
      ['useModelName empty → null', 'cmd: s --port ${PORT}\nuseModelName: ""', '', (_c, m) => m.useModelName, null],
      ['useModelName set', 'cmd: s --port ${PORT}\nuseModelName: org/model', '', (_c, m) => m.useModelName, 'org/model'],
      ['name falls back to the id, set name wins', 'cmd: s --port ${PORT}\nname: Nice', '', (_c, m) => m.name, 'Nice'],
      ['cmdStop is split; ${PID} stays literal', 'cmd: s --port ${PORT}\ncmdStop: docker stop ${MODEL_ID} --pid ${PID}', '', (_c, m) => m.cmdStop, ['docker', 'stop', 'm', '--pid', '${PID}']],
      ['env as llama-swap list', 'cmd: s --port ${PORT}\nenv: ["A=1", "B=x=y", "C="]', '', (_c, m) => m.env, { A: '1', B: 'x=y', C: '' }],
      ['env as a map', 'cmd: s --port ${PORT}\nenv: { A: 1, B: true, C: text }', '', (_c, m) => m.env, { A: '1', B: 'true', C: 'text' }],
      ['stripParams: comma list, trimmed, deduped, sorted, never model', 'cmd: s --port ${PORT}\nfilters: { stripParams: "top_p, model, temperature ,top_p," }', '', (_c, m) => m.filters.stripParams, ['temperature', 'top_p']],
      ['legacy strip_params', 'cmd: s --port ${PORT}\nfilters: { strip_params: "top_k" }', '', (_c, m) => m.filters.stripParams, ['top_k']],
      ['setParams kept with types', 'cmd: s --port ${PORT}\nfilters: { setParams: { temperature: 0.7, stop: ["a"] } }', '', (_c, m) => m.filters.setParams, { temperature: 0.7, stop: ['a'] }],
      ['sleepMode disable → sleep.enabled false', 'cmd: s --port ${PORT}\nsleepMode: disable', '', (_c, m) => m.sleep, { enabled: false, level: 1 }],
      ['sleep.level 2', 'cmd: s --port ${PORT}\nsleep: { level: 2 }', '', (_c, m) => m.sleep, { enabled: true, level: 2 }],
      ['ttl -1 uses globalTTL', 'cmd: s --port ${PORT}\nttl: -1', 'globalTTL: 300', (_c, m) => m.idle, [{ afterMs: 300_000, action: 'stop' }]],
      ['no ttl uses globalTTL', 'cmd: s --port ${PORT}', 'globalTTL: 5m', (_c, m) => m.idle, [{ afterMs: 300_000, action: 'stop' }]],
      ['ttl 0 means never, even with globalTTL', 'cmd: s --port ${PORT}\nttl: 0', 'globalTTL: 300', (_c, m) => m.idle, []],
      ['ttl becomes a final stop after the idle steps', 'cmd: s --port ${PORT}\nttl: 2h\nidle: [{after: 5m, do: sleep}, {after: 30m, do: sleep, level: 2}]', '', (_c, m) => m.idle, [
        { afterMs: 300_000, action: 'sleep' },
        { afterMs: 1_800_000, action: 'sleep', level: 2 },
        { afterMs: 7_200_000, action: 'stop' },
      ]],
      ['an idle stop step wins over globalTTL', 'cmd: s --port ${PORT}\nidle: [{after: 1m, do: sleep}, {after: 1h, do: stop}]', 'globalTTL: 10m', (_c, m) => m.idle, [
        { afterMs: 60_000, action: 'sleep' },
        { afterMs: 3_600_000, action: 'stop' },
      ]],
      ['sleep endpoints: POST default, timeouts from the globals', 'cmd: s --port ${PORT}\nsleepEndpoints: [{endpoint: /sleep?level=1}]\nwakeEndpoints: [{endpoint: /wake_up, method: put, timeout: 3}]', 'sleepRequestTimeout: 20', (_c, m) => [m.sleepEndpoints, m.wakeEndpoints], [
        [{ endpoint: '/sleep?level=1', method: 'POST', timeoutMs: 20_000 }],
        [{ endpoint: '/wake_up', method: 'PUT', timeoutMs: 3000 }],
      ]],
      ['endpoint body: string kept, object serialised', 'cmd: s --port ${PORT}\nsleepEndpoints: [{endpoint: /a, body: \'{"x": 1}\'}]\nwakeEndpoints: [{endpoint: /b, body: {method: reload_weights}}]', '', (_c, m) => [m.sleepEndpoints?.[0]?.body, m.wakeEndpoints?.[0]?.body], ['{"x": 1}', '{"method":"reload_weights"}']],
      ['resources converted to bytes', 'cmd: s --port ${PORT}\nresources: { vram: 18GiB, asleep: { vram: 1.5GiB, ram: 16GiB } }', 'resources: { vram: 80GiB, ram: 200GiB }', (c, m) => [c.resources, m.resources], [
        { vram: 80 * 1024 ** 3, ram: 200 * 1024 ** 3 },
        { vram: 18 * 1024 ** 3, asleep: { vram: 1.5 * 1024 ** 3, ram: 16 * 1024 ** 3 } },
      ]],
      ['pluginDir and stateDir resolve against the base directory', 'cmd: s --port ${PORT}', 'pluginDir: my-plugins\nstateDir: /var/lib/siesta', (c) => [c.pluginDir, c.stateDir], ['/srv/siesta/my-plugins', '/var/lib/siesta']],
      ['maxBodySize', 'cmd: s --port ${PORT}', 'maxBodySize: 1MiB', (c) => c.maxBodyBytes, 1024 * 1024],
      ['logLevel, logFormat, keys', 'cmd: s --port ${PORT}', 'logLevel: debug\nlogFormat: json\napiKeys: [sk-1]\nadminKeys: [adm]', (c) => [c.logLevel, c.logFormat, c.apiKeys, c.adminKeys], ['debug', 'json', ['sk-1'], ['adm']]],
      ['priority, backend, options, unlisted, description', 'cmd: s --port ${PORT}\npriority: 5\nbackend: vllm\noptions: { warmup: false }\nunlisted: true\ndescription: d', '', (_c, m) => [m.priority, m.backend, m.options, m.unlisted, m.description], [5, 'vllm', { warmup: false }, true, 'd']],
      ['aliases (strings and llama-swap objects)', 'cmd: s --port ${PORT}\naliases: [a, {id: b}]', '', (_c, m) => m.aliases, ['a', 'b']],
      ['includeAliasesInList', 'cmd: s --port ${PORT}', 'includeAliasesInList: true', (c) => c.includeAliasesInList, true],
      ['null values count as unset', 'cmd: s --port ${PORT}\naliases:\nenv:\nproxy:', 'groups:\nmacros:', (_c, m) => [m.aliases, m.env, m.proxy], [[], {}, 'http://localhost:5800']],
    ];
    for (const [name, body, globals, pick, expected] of cases) {
      it(name, () => {
        const { config: c } = load(oneModel(body, globals));
        expect(pick(c, c.models.m as ModelConfig)).to.deep.equal(expected);
      });
    }
  });

  it('configPath and baseDir come from the file path', () => {
    const { config: c } = load(MINIMAL, { configPath: '/etc/siesta/config.yaml', baseDir: undefined });
    expect([c.configPath, c.pluginDir]).to.deep.equal(['/etc/siesta/config.yaml', '/etc/siesta/plugins']);
    // One state directory per config file (lib/config/state-dir.ts).
    expect(c.stateDir).to.match(/^\/etc\/siesta\/\.siesta-state\/config\.yaml-[0-9a-f]{8}$/);
  });

  it('deep-freezes the result: every mutation throws', () => {
    const { config: c } = load(oneModel('cmd: s --port ${PORT}\nmetadata: { nested: { list: [1] } }\nidle: [{after: 1m, do: sleep}]'));
    const m = c.models.m as ModelConfig;
    const attempts: [string, () => void][] = [
      ['top-level field', () => ((c as { logLevel: string }).logLevel = 'debug')],
      ['models map', () => ((c.models as Record<string, unknown>).x = {})],
      ['model field', () => ((m as { proxy: string }).proxy = 'x')],
      ['argv array', () => (m.cmd as string[]).push('x')],
      ['nested metadata', () => (((m.metadata.nested as { list: number[] }).list)[0] = 2)],
      ['idle step', () => ((m.idle[0] as { afterMs: number }).afterMs = 1)],
      ['groups', () => (c.groups as unknown[]).pop()],
      ['warnings', () => (load(MINIMAL).warnings as unknown[]).push({})],
    ];
    for (const [what, mutate] of attempts) {
      expect(mutate, what).to.throw(TypeError);
    }
  });
});

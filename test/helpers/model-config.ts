/**
 * Build a resolved ModelConfig for tests without going through the config loader. Defaults follow
 * the loader's: proxy from the port, `/health`, concurrency 10, sleep enabled at level 1, no idle
 * ladder, short unload and health-check timeouts suited to tests.
 */
import type { ModelConfig } from '../../lib/config/types.js';
import { MODEL_TIMEOUTS } from '../../lib/config/routing.js';

export function makeModel(overrides: Partial<ModelConfig> & { id: string; cmd: readonly string[] }): ModelConfig {
  const port = overrides.port ?? null;
  return {
    name: overrides.id,
    description: '',
    cmdStop: null,
    proxy: port === null ? 'http://127.0.0.1:1' : `http://127.0.0.1:${port}`,
    port,
    aliases: [],
    env: {},
    checkEndpoint: '/health',
    unlisted: false,
    useModelName: null,
    concurrencyLimit: 10,
    filters: { stripParams: [], setParams: {}, setParamsByID: {} },
    timeouts: MODEL_TIMEOUTS,
    capabilities: null,
    ignoreWebsockets: false,
    metadata: {},
    sendLoadingState: false,
    backend: 'generic',
    sleep: { enabled: true, level: 1 },
    sleepEndpoints: null,
    wakeEndpoints: null,
    idle: [],
    resources: {},
    unloadTimeoutMs: 2000,
    healthCheckTimeoutMs: 15_000,
    priority: 0,
    options: {},
    ...overrides,
  };
}

import { expect } from 'chai';
import path from 'node:path';
import { loadConfigFile } from '../../../lib/config/index.js';
import type { ModelConfig } from '../../../lib/config/index.js';

const ROOT = path.resolve(import.meta.dirname, '../../..');
const FIXTURES = path.join(ROOT, 'test/fixtures/config');

describe('config files', () => {
  describe('config.example.yaml (the demo)', () => {
    it('loads with zero errors and zero warnings', async () => {
      const loaded = await loadConfigFile(path.join(ROOT, 'config.example.yaml'), { env: {} });
      expect(loaded.warnings).to.deep.equal([]);
      const { config } = loaded;
      expect(Object.keys(config.models).sort()).to.deep.equal(['qwen-large', 'qwen-small', 'tiny-echo']);
      expect(config.pluginDir).to.equal(path.join(ROOT, 'plugins'));
      expect(path.relative(ROOT, config.stateDir)).to.match(/^\.siesta-state\/config\.example\.yaml-[0-9a-f]{8}$/);
    });

    it('runs the fake upstream: one generic model, two vLLM models with sleep mode in one swap group', async () => {
      const { config } = await loadConfigFile(path.join(ROOT, 'config.example.yaml'), { env: {} });
      const small = config.models['qwen-small'] as ModelConfig;
      const large = config.models['qwen-large'] as ModelConfig;
      const echo = config.models['tiny-echo'] as ModelConfig;
      for (const model of [small, large, echo]) {
        expect(model.cmd.slice(0, 2)).to.deep.equal(['node', 'fake-upstream/bin/fake-upstream.js']);
        expect(model.cmd).to.include('--port').and.to.include(String(model.port));
        expect(model.checkEndpoint, 'unset: the plugin default (/health for these) applies at run time').to.equal(undefined);
      }
      expect([small.backend, large.backend, echo.backend]).to.deep.equal(['vllm', 'vllm', 'generic']);
      expect(small.cmd).to.include('--enable-sleep-mode');
      expect(large.cmd).to.include('--enable-sleep-mode');
      expect([small.sleep, large.sleep]).to.deep.equal([{ enabled: true, level: 1 }, { enabled: true, level: 2 }]);
      // per-model macro overriding a global one used inside another global macro
      expect(large.cmd.join(' ')).to.contain('--start-delay 4s');
      expect(small.cmd.join(' ')).to.contain('--start-delay 3s');
      expect(small.idle.length).to.be.greaterThan(0);
      expect(echo.aliases).to.include('echo');
      const gpu = config.groups.find((group) => group.members.includes('qwen-small'));
      expect(gpu?.members).to.have.members(['qwen-small', 'qwen-large']);
      expect(gpu?.swap).to.equal(true);
    });
  });

  describe('a realistic llama-swap config with the sleep fork', () => {
    const env = { HOME: '/home/ai', API_KEY_1: 'sk-from-env' };

    it('loads without errors or warnings, with llama-swap semantics', async () => {
      const loaded = await loadConfigFile(path.join(FIXTURES, 'llama-swap.yaml'), { env });
      expect(loaded.warnings).to.deep.equal([]);
      const { config } = loaded;
      expect(config.healthCheckTimeoutMs).to.equal(300_000);
      expect(config.apiKeys).to.deep.equal(['sk-hunter2', 'sk-from-env']);
      expect(config.preload).to.deep.equal(['llama-8b', 'embedder']);
      expect(config.sleepRequestTimeoutMs).to.equal(20_000);

      // ports in sorted id order from startPort, for models whose cmd uses ${PORT}
      const ports = Object.fromEntries(Object.values(config.models).map((model) => [model.id, model.port]));
      expect(ports).to.deep.equal({
        'docker-llama': 10001,
        embedder: 10002,
        'llama-8b': 10003,
        'qwen-unlisted': 10004,
        'vllm-sleep-level1': 10005,
        'vllm-sleep-level2': 10006,
      });

      const llama = config.models['llama-8b'] as ModelConfig;
      expect(llama.cmd).to.deep.equal([
        '/opt/llama.cpp/llama-server', '--port', '10003',
        '--ctx-size', '16384', '-ngl', '99',
        '--model', '/home/ai/models/llama-8B-Q4_K_M.gguf',
        '--temperature', '0.7',
      ]);
      expect(llama.name).to.equal('llama 3.1 8B');
      expect(llama.env).to.deep.equal({ CUDA_VISIBLE_DEVICES: '0' });
      expect(llama.aliases).to.deep.equal(['gpt-4o-mini', 'gpt-3.5-turbo']);
      expect(llama.idle).to.deep.equal([{ afterMs: 60_000, action: 'stop' }]);
      expect(llama.useModelName).to.equal('llama');
      expect(llama.filters).to.deep.equal({
        stripParams: ['temperature', 'top_k', 'top_p'],
        setParams: { temperature: 0.7, chat_template_kwargs: { enable_thinking: false } },
        setParamsByID: {},
      });
      expect(llama.metadata).to.deep.equal({
        port: 10003,
        temperature: 0.7,
        note: 'The llama-8b is running on port 10003 temp=0.7, context=16384',
      });
      expect(llama.concurrencyLimit).to.equal(4);
      expect(llama.sendLoadingState).to.equal(false);
      expect(llama.unloadTimeoutMs).to.equal(15_000);

      const docker = config.models['docker-llama'] as ModelConfig;
      expect(docker.cmd.slice(0, 4)).to.deep.equal(['docker', 'run', '--name', 'docker-llama']);
      expect(docker.cmd.at(-1)).to.equal('/models/Qwen2.5-Coder-0.5B-Instruct-Q4_K_M.gguf');
      expect(docker.cmdStop).to.deep.equal(['docker', 'stop', 'docker-llama']);
      expect(docker.proxy).to.equal('http://127.0.0.1:10001');
      expect(docker.checkEndpoint).to.equal(null);
      expect(docker.idle).to.deep.equal([{ afterMs: 900_000, action: 'stop' }]); // globalTTL

      const level2 = config.models['vllm-sleep-level2'] as ModelConfig;
      expect(level2.sleepEndpoints).to.deep.equal([{ endpoint: '/sleep?level=2', method: 'POST', timeoutMs: 15_000 }]);
      expect(level2.wakeEndpoints).to.deep.equal([
        { endpoint: '/wake_up', method: 'POST', timeoutMs: 30_000 },
        { endpoint: '/collective_rpc', method: 'POST', body: '{"method": "reload_weights"}', timeoutMs: 12_000 },
        { endpoint: '/reset_prefix_cache', method: 'POST', timeoutMs: 30_000 },
      ]);
      expect(level2.env).to.deep.equal({ VLLM_SERVER_DEV_MODE: '1' });

      const embedder = config.models.embedder as ModelConfig;
      expect(embedder.cmd).to.deep.equal(['llama-server', '--port', '10002', '--embeddings', '-m', '/models/nomic embed.gguf']);
      expect(embedder.filters.stripParams).to.deep.equal(['dimensions']);
      expect(embedder.idle).to.deep.equal([]); // ttl 0 = never, despite globalTTL

      expect(config.groups).to.deep.equal([
        { id: 'gpu', swap: true, exclusive: true, persistent: false, members: ['llama-8b', 'vllm-sleep-level1', 'vllm-sleep-level2'] },
        { id: 'side', swap: false, exclusive: false, persistent: false, members: ['docker-llama', 'qwen-unlisted'] },
        { id: 'forever', swap: false, exclusive: false, persistent: true, members: ['embedder'] },
        { id: '(default)', swap: true, exclusive: true, persistent: false, members: [] },
      ]);
    });

    it('fails, naming the variable, when an ${env.NAME} it uses is unset', async () => {
      const error = await loadConfigFile(path.join(FIXTURES, 'llama-swap.yaml'), { env: { HOME: '/h' } }).catch((e: unknown) => e);
      expect((error as Error).message).to.contain('apiKeys[1]: environment variable API_KEY_1 is not set');
    });
  });
});

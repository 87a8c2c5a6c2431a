/**
 * createGateway({ config }): a configuration loaded without the plugins gets the loader's plugin
 * checks (checkPlugins), with the loader's messages, before anything starts.
 */
import { expect } from 'chai';
import { ConfigError, loadConfigText } from '../../../lib/config/index.js';
import { createGateway } from '../../../lib/gateway/create-gateway.js';

const silent = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

async function refusal(yaml: string): Promise<string> {
  const loaded = loadConfigText(yaml, { env: {}, baseDir: '/nonexistent-siesta-dir' });
  try {
    await createGateway({ config: loaded, logger: silent });
  } catch (error) {
    expect(error).to.be.instanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error('createGateway accepted the configuration');
}

describe('createGateway({ config }): plugin checks', function () {
  it('an unknown backend: the loader\'s message, with did-you-mean', async function () {
    const message = await refusal('models:\n  m:\n    cmd: x\n    proxy: http://127.0.0.1:9\n    backend: vlm\n');
    expect(message).to.include('models.m.backend: unknown backend "vlm" (did you mean `vllm`?); known: generic, vllm, llama-server, sglang');
  });

  it('options for a backend that takes none', async function () {
    const message = await refusal('models:\n  m:\n    cmd: x\n    proxy: http://127.0.0.1:9\n    backend: vllm\n    options:\n      x: 1\n');
    expect(message).to.include('models.m.options: backend "vllm" takes no options');
  });
});

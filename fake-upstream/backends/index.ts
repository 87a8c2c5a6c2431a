import type { Backend, FakeContext } from '../context.js';
import type { BackendName } from '../options.js';
import { createGenericBackend } from './generic.js';
import { createLlamaServerBackend } from './llama-server.js';
import { createSglangBackend } from './sglang.js';
import { createVllmBackend } from './vllm.js';

const FACTORIES: Readonly<Record<BackendName, (ctx: FakeContext) => Backend>> = {
  generic: createGenericBackend,
  vllm: createVllmBackend,
  'llama-server': createLlamaServerBackend,
  sglang: createSglangBackend,
};

export function createBackend(ctx: FakeContext): Backend {
  return FACTORIES[ctx.options.backend](ctx);
}

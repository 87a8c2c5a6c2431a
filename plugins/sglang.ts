/**
 * SGLang started with `--enable-memory-saver`: release and resume GPU memory. The engine must be
 * idle before a release, which the model owner guarantees by draining in-flight requests first.
 */
import type { BackendPlugin } from '../lib/plugins/types.js';

export const sglangPlugin: BackendPlugin = {
  name: 'sglang',
  apiVersion: 1,
  description: 'SGLang with --enable-memory-saver',
  defaults: { checkEndpoint: '/health' },
  sleepLevels: {
    1: {
      name: 'sglang release/resume',
      sleep: [{ endpoint: '/release_memory_occupation', body: '{}' }],
      wake: [{ endpoint: '/resume_memory_occupation', body: '{}' }],
    },
  },
};

export default sglangPlugin;

/**
 * Every default of the configuration, in one place (llama-swap's where llama-swap has the key), and
 * the two small readers that fall back to them. `resolve.ts` re-exports `DEFAULTS`; it lives here so
 * that the model resolver and the cross-model checks can read it without importing their caller.
 */

/** Every default, in one place (llama-swap's where llama-swap has the key). */
export const DEFAULTS = Object.freeze({
  healthCheckTimeoutMs: 120_000,
  /** llama-swap raises a smaller healthCheckTimeout to 15 s. */
  minHealthCheckTimeoutMs: 15_000,
  logLevel: 'info',
  logFormat: 'text',
  startPort: 5800,
  unloadTimeoutMs: 10_000,
  sleepRequestTimeoutMs: 10_000,
  /** NVIDIA's binary, looked up on PATH unless `cudaCheckpoint.path` names it. */
  cudaCheckpointPath: 'cuda-checkpoint',
  wakeRequestTimeoutMs: 10_000,
  globalTTLMs: 0,
  /** llama-swap: a concurrencyLimit of 0 (its default) means the internal default of 10. */
  concurrencyLimit: 10,
  maxBodyBytes: 32 * 1024 * 1024,
  /** llama-swap's shutdownTimeout: requests in flight get this long to finish on SIGTERM. */
  shutdownTimeoutMs: 30_000,
  maxUploadBytes: 2 * 1024 * 1024 * 1024,
  metricsMaxInMemory: 1000,
  /** llama-swap's default captureBuffer: 5 MB. */
  captureBufferMB: 5,
  proxy: 'http://localhost:${PORT}',
  backend: 'generic',
  sleepLevel: 1,
  priority: 0,
  httpMethod: 'POST',
  pluginDir: 'plugins',
  stateDir: '.siesta-state',
  defaultGroupId: '(default)',
  logToStdout: 'proxy',
  /** llama-swap's default for `upstream.ignorePaths`: static assets never load a model. */
  upstreamIgnorePath: '.*\\.(js|json|css|png|gif|jpg|jpeg|ico|txt)$',
} as const);

/** `Array.isArray` narrows readonly arrays to `any[]`; this keeps the element type. */
export function list<T>(value: readonly T[] | undefined | null): readonly T[] {
  return Array.isArray(value) ? (value as readonly T[]) : [];
}

/** The value when it is a finite number, else the fallback. */
export const num = (value: unknown, fallback: number): number => (typeof value === 'number' && Number.isFinite(value) ? value : fallback);

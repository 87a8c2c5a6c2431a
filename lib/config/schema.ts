/**
 * The joi schemas of the file as users write it (after unknown keys were removed by `keys.ts`).
 * Durations and sizes are converted here (to ms / bytes); defaults and cross-field rules are
 * applied later by `resolve.ts`, which needs to know what was set and what was not.
 */
import joi from 'joi';
import type { CustomHelpers } from 'joi';
import { DURATION_HINT, SIZE_HINT, parseDuration, parseSize } from './units.js';

export const TTL_HINT = 'must be -1 (use globalTTL), 0 (never) or a duration such as 300, "5m", "2h"';

function convert(parse: (value: unknown) => number, hint: string) {
  return (value: unknown, helpers: CustomHelpers) => {
    try {
      return parse(value);
    } catch (error) {
      return helpers.message({ custom: error instanceof RangeError ? error.message : hint });
    }
  };
}

/** A duration converted to ms. */
export const duration = () => joi.any().custom(convert(parseDuration, DURATION_HINT), 'duration');
/** A duration that must be more than zero. */
export const positiveDuration = () =>
  joi.any().custom(
    convert((value) => {
      const ms = parseDuration(value);
      if (ms <= 0) throw new RangeError('must be more than zero');
      return ms;
    }, DURATION_HINT),
    'positive duration',
  );
/** A size converted to bytes. */
export const size = () => joi.any().custom(convert(parseSize, SIZE_HINT), 'size');
/** llama-swap's ttl: -1 = use globalTTL, 0 = never, else a duration (ms). */
export const ttl = () =>
  joi.any().custom(
    convert((value) => {
      if (value === -1 || value === '-1') return -1;
      try {
        return parseDuration(value);
      } catch {
        throw new RangeError(TTL_HINT);
      }
    }, TTL_HINT),
    'ttl',
  );

const level = () => joi.valid(1, 2).messages({ 'any.only': 'must be 1 or 2' });
const stringMap = () => joi.object().unknown(true);
const keyList = () => joi.array().items(joi.string());

const amounts = joi.object({ vram: size(), ram: size() });

const httpStep = joi.object({
  endpoint: joi.string().required(),
  method: joi
    .string()
    .uppercase()
    .valid('GET', 'POST', 'PUT', 'PATCH', 'DELETE')
    .messages({ 'any.only': 'must be GET, POST, PUT, PATCH or DELETE' }),
  body: joi.alternatives(joi.string().allow(''), joi.object().unknown(true), joi.array()),
  timeout: positiveDuration(),
});

const stripParams = () => joi.alternatives(joi.string().allow(''), joi.array().items(joi.string()));

const filters = () =>
  joi.object({
    stripParams: stripParams(),
    strip_params: stripParams(),
    setParams: stringMap(),
    setParamsByID: joi.object().pattern(/.*/, stringMap().allow(null)),
  });

/** llama-swap's per-model and per-peer proxy timeouts: seconds (or a duration string); 0 = none. */
const timeouts = () =>
  joi.object({
    connect: duration(),
    keepalive: duration(),
    responseHeader: duration(),
    tlsHandshake: duration(),
    expectContinue: duration(),
    idleConn: duration(),
    idle: duration(),
  });

const modality = () => joi.valid('text', 'audio', 'image').messages({ 'any.only': 'invalid modality "{#value}", must be one of: text, audio, image' });

export const modelSchema = joi.object({
  // llama-swap loads a model without cmd (it fails when started): resolve.ts warns.
  cmd: joi.string().allow(''),
  cmdStop: joi.string().allow(''),
  proxy: joi.string(),
  aliases: joi.array().items(joi.alternatives(joi.string(), joi.object({ id: joi.string().required() }))),
  env: joi.alternatives(
    joi.array().items(joi.string()),
    joi.object().pattern(/.*/, joi.alternatives(joi.string().allow(''), joi.number(), joi.boolean())),
  ),
  checkEndpoint: joi.string().allow(''),
  ttl: ttl(),
  unloadTimeout: duration(),
  unlisted: joi.boolean(),
  useModelName: joi.string().allow(''),
  name: joi.string().allow(''),
  description: joi.string().allow(''),
  concurrencyLimit: joi.number().integer().min(0),
  filters: filters(),
  macros: stringMap(),
  metadata: stringMap(),
  sendLoadingState: joi.boolean(),
  timeouts: timeouts(),
  compat: joi.object({ ignoreWebsockets: joi.boolean() }),
  capabilities: joi.object({
    in: joi.array().items(modality()),
    out: joi.array().items(modality()),
    tools: joi.boolean(),
    reranker: joi.boolean(),
    context: joi.number().integer().min(0).messages({ 'number.min': 'must be >= 0' }),
  }),
  sleepMode: joi.valid('enable', 'disable', '').messages({ 'any.only': 'must be enable or disable' }),
  sleepEndpoints: joi.array().items(httpStep),
  wakeEndpoints: joi.array().items(httpStep),
  backend: joi.string(),
  sleep: joi.object({ level: level(), method: joi.valid('http', 'cuda-checkpoint').messages({ 'any.only': 'must be http or cuda-checkpoint' }) }),
  idle: joi.array().items(
    joi.object({
      after: positiveDuration().required(),
      do: joi.valid('sleep', 'stop').required().messages({ 'any.only': 'must be sleep or stop' }),
      level: level(),
    }),
  ),
  resources: joi.object({ vram: size(), ram: size(), asleep: amounts }),
  priority: joi.number().integer(),
  options: stringMap(),
});

export const groupSchema = joi.object({
  swap: joi.boolean(),
  exclusive: joi.boolean(),
  persistent: joi.boolean(),
  members: keyList(),
});

const peerSchema = joi.object({
  proxy: joi.string().required().messages({ 'any.required': 'is required', 'string.empty': 'is required' }),
  apiKey: joi.string().allow(''),
  models: joi.array().items(joi.string()).min(1).required().messages({ 'any.required': 'peer models can not be empty', 'array.min': 'peer models can not be empty' }),
  filters: filters(),
  timeouts: timeouts(),
});

const profileSchema = joi
  .object({
    description: joi.string().allow(''),
    pins: joi.object().pattern(/.*/, joi.string().allow('', null)),
  })
  .messages({ 'object.base': 'profile must be a mapping with description and pins; the legacy list syntax is no longer supported' });

const selectorSchema = joi.object({
  strategy: joi.string().allow(''),
  targets: keyList(),
  settings: joi.object({ spillover: joi.number().integer() }),
  name: joi.string().allow(''),
  description: joi.string().allow(''),
  unlisted: joi.boolean(),
  metadata: stringMap(),
});

/** The matrix's own shape is checked by its compiler (lib/scheduler/matrix). */
const matrixSchema = joi.object().unknown(true);

const routingSchema = joi.object({
  scheduler: joi.object({
    use: joi.string().allow(''),
    settings: joi.object({ fifo: joi.object({ priority: joi.object().pattern(/.*/, joi.number().integer()) }) }),
  }),
  router: joi.object({
    use: joi.string().allow(''),
    settings: joi.object({ groups: joi.object().pattern(/.*/, groupSchema), matrix: matrixSchema }),
  }),
});

export const rootSchema = joi
  .object({
    healthCheckTimeout: duration(),
    // llama-swap: case-insensitive, anything else means info (resolve.ts warns).
    logLevel: joi.string().allow(''),
    logTimeFormat: joi.string().allow(''),
    logToStdout: joi.valid('proxy', 'upstream', 'both', 'none').messages({ 'any.only': 'must be one of: proxy, upstream, both, none' }),
    startPort: joi.number().integer().min(1).max(65535),
    macros: stringMap(),
    groups: joi.object().pattern(/.*/, groupSchema),
    matrix: matrixSchema,
    routing: routingSchema,
    peers: joi.object().pattern(/.*/, peerSchema),
    profiles: joi.object().pattern(/.*/, profileSchema),
    selectors: joi.object().pattern(/.*/, selectorSchema),
    upstream: joi.object({ ignorePaths: joi.array().items(joi.string()) }),
    // Only llama-swap's own UI uses these; llama-swap refuses bad values, so they are checked (load.ts checks the path).
    store: joi.object({ path: joi.string().allow('') }),
    metricsMaxInMemory: joi.number().integer().min(0),
    // llama-swap: megabytes of request/response captures; 0 disables.
    captureBuffer: joi.number().integer().min(0),
    cors: joi.object({ origins: joi.array().items(joi.string().min(1)) }),
    maxUploadSize: size(),
    trustedProxies: keyList(),
    allowedHosts: keyList(),
    shutdownTimeout: duration(),
    performance: joi.object({
      disabled: joi.boolean(),
      every: joi.any().custom(
        convert((value) => {
          const ms = parseDuration(value);
          if (ms < 5000) throw new RangeError(`every must be at least 5s, got ${String(value)}`);
          return ms;
        }, DURATION_HINT),
        'performance interval',
      ),
    }),
    hooks: joi.object({ on_startup: joi.object({ preload: keyList() }) }),
    sendLoadingState: joi.boolean(),
    includeAliasesInList: joi.boolean(),
    globalTTL: duration(),
    unloadTimeout: duration(),
    apiKeys: keyList(),
    // No models is fine (llama-swap loads a peers-only file, or an empty one).
    models: joi.object().pattern(/.*/, modelSchema),
    sleepRequestTimeout: positiveDuration(),
    // NVIDIA's cuda-checkpoint binary for models with sleep.method: cuda-checkpoint (default: found on PATH).
    cudaCheckpoint: joi.object({ path: joi.string().min(1) }),
    wakeRequestTimeout: positiveDuration(),
    resources: amounts,
    pluginDir: joi.string(),
    stateDir: joi.string(),
    logFormat: joi.valid('text', 'json').messages({ 'any.only': 'must be text or json' }),
    adminKeys: keyList(),
    maxBodySize: size(),
    // siesta's cluster (lib/config/cluster.ts resolves it; docs/kubernetes.md "Cluster").
    cluster: joi.object({
      key: joi.string().allow(''),
      self: joi.string().allow(''),
      peers: keyList(),
      dns: joi.string().allow(''),
      port: joi.number().integer().min(1).max(65535),
      dnsRefresh: positiveDuration(),
      downAfter: positiveDuration(),
      heartbeat: positiveDuration(),
      connectTimeout: positiveDuration(),
    }),
  })
  .messages({ 'object.base': 'must be a mapping' });

export const VALIDATE_OPTIONS: joi.ValidationOptions = {
  abortEarly: false,
  convert: true,
  errors: { label: false },
  messages: { 'any.required': 'is required' },
};

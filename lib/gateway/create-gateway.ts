/**
 * `createGateway(options)`: build siesta as an Express router plus `start()` / `close()`, without
 * listening. The CLI mounts it at `/` and listens; an existing app can mount it under any prefix.
 *
 * Length (~320 lines, over the house rule's ~300): `build` registers every route in the order that
 * is the gateway's behaviour (the request log first, CORS before auth, the admin paths under their
 * key, the not-found and error handlers last), so it is kept as one list to read top to bottom; the
 * handlers themselves live in middleware/, the pieces it wires in lib/.
 */
import express, { type RequestHandler, type Router } from 'express';
import type { GatewayConfig, LoadedConfig } from '../config/types.js';
import { checkPlugins, ConfigError } from '../config/index.js';
import type { Clock } from '../clock.js';
import { createLogger, type Logger } from '../logger.js';
import type { PluginRegistry } from '../plugins/registry.js';
import { loadPlugins } from '../plugins/registry.js';
import { pluginChecksOf } from '../plugins/checks.js';
import type { HttpClient } from '../process/http.js';
import type { Spawner } from '../process/spawner.js';
import { createAuthMiddleware } from '../../middleware/auth.js';
import { createCorsMiddleware } from '../../middleware/cors.js';
import { createConcurrencyLimitMiddleware } from '../../middleware/concurrency-limit.js';
import { createErrorHandler, createNotFoundHandler } from '../../middleware/error-handler.js';
import { createHealthHandler } from '../../middleware/health.js';
import { createModelListHandler } from '../../middleware/model-list.js';
import { createRunningHandler, runningOfProcesses } from '../../middleware/running.js';
import { createUnloadAllHandler } from '../../middleware/unload.js';
import { createMakeReadyMiddleware } from '../../middleware/make-ready.js';
import { createForwarder, createModelProxyMiddleware, createPeerProxyMiddleware } from '../../middleware/proxy.js';
import { createProfilesApi } from '../../middleware/profiles-api.js';
import { NameRouter, ProfileSwitch } from './name-router.js';
import { trustedProxyCheck } from '../http/trusted-proxies.js';
import { createRequestLogMiddleware } from '../../middleware/request-log.js';
import { createResolveModelMiddleware } from '../../middleware/resolve-model.js';
import { createUpstreamMiddleware, upstreamIndexRedirect } from '../../middleware/upstream.js';
import { recipePathsOf } from '../../middleware/upstream-route.js';
import { createUpgradeHandler, type UpgradeHandler } from '../../middleware/upstream-upgrade.js';
import { loadGatewayConfig, pluginIssues } from './load-config.js';
import { changedModels, ModelManager, reloadPlan, type ReloadHandoff } from './model-manager.js';
import { Metrics } from '../metrics.js';
import { createAdminApi, type EventStreamOptions } from '../../middleware/admin-api.js';
import { createAdminAuthMiddleware } from '../../middleware/admin-auth.js';
import { createLogsRouter } from '../../middleware/logs.js';
import { createLlamaSwapApi } from '../../middleware/llama-swap-api.js';
import { createMetricsHandler } from '../../middleware/metrics.js';
import { createStatusPage } from '../../middleware/status-page.js';
import { createGatewayLogRing, GATEWAY_SOURCE, pipeModelOutput, stdoutPlan, teeLogger } from './gateway-log.js';
import { LiveFeed } from './live-feed.js';
import { bodyReaders, MODEL_ROUTE_TABLE, registerModelRoutes } from './routes.js';
import { createCluster } from '../cluster/index.js';

/** The paths of the model routes (lib/gateway/routes.ts has the table: method, model source, upstream path). */
export const MODEL_ROUTES: readonly string[] = [...new Set(MODEL_ROUTE_TABLE.map((route) => route.path))];

export interface GatewayOptions {
  /** A loaded configuration (from `loadConfigFile`/`loadConfigText`), or give `configPath` / `configText`. */
  readonly config?: GatewayConfig | LoadedConfig;
  readonly configPath?: string;
  /** `-config-dir`: every `*.yml` / `*.yaml` in it, merged after `configPath` (also on reload). */
  readonly configDir?: string;
  readonly configText?: string;
  /** Environment for `${env.NAME}` macros (default process.env). */
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly logger?: Logger;
  /** Test seams. */
  readonly clock?: Clock;
  readonly spawner?: Spawner;
  readonly http?: HttpClient;
  /** Seconds between loading-stream progress chunks (default 1). */
  readonly loadingTickMs?: number;
  /** `/api/events` and `/logs/stream` tuning (buffer bound per client, heartbeat and refresh periods). */
  readonly events?: EventStreamOptions;
  /** Register prom-client's default process metrics on the gateway's registry (default true). */
  readonly defaultMetrics?: boolean;
}

export interface Gateway {
  /** The gateway as an Express router, to mount in an app (`app.use('/llm', gateway.router)`). */
  readonly router: Router;
  /**
   * The same gateway as a plain middleware function, without the router layer around it: what
   * the CLI mounts (one Express router fewer per request). Mounts like `router`.
   */
  readonly handler: RequestHandler;
  readonly config: GatewayConfig;
  readonly warnings: LoadedConfig['warnings'];
  readonly manager: ModelManager;
  readonly log: Logger;
  /** State changes and log lines of the current models and the gateway (what `/api/events` sends). */
  readonly feed: LiveFeed;
  /** The gateway's Prometheus metrics (its own registry). */
  readonly metrics: Metrics;
  /** Reap children left by a crashed gateway and run the preload hook. */
  start(): Promise<void>;
  /**
   * Stop every child process; later requests get 503 and `/health` answers 503 `stopping`.
   * `drainMs` lets requests in flight finish first (at most that long). Idempotent.
   */
  close(options?: { readonly drainMs?: number }): Promise<void>;
  /**
   * Load the configuration again (from the same file, or the given source) and restart only the
   * models whose configuration changed. A bad configuration throws and the current one keeps serving.
   */
  reload(source?: { configPath?: string; configText?: string }): Promise<{ changed: string[] }>;
  /**
   * WebSockets through `/upstream/<model>/...`: give it the HTTP server's `upgrade` events
   * (`server.on('upgrade', gateway.handleUpgrade)`); `mountPath` is the prefix the router is
   * mounted under (`/llm`), if any. The CLI does this.
   */
  readonly handleUpgrade: UpgradeHandler;
}

async function resolveConfig(options: GatewayOptions & { config?: GatewayOptions['config'] | undefined }): Promise<{ loaded: LoadedConfig; plugins: PluginRegistry }> {
  if (options.config) {
    const given: LoadedConfig = 'config' in options.config && 'warnings' in options.config ? options.config : { config: options.config, warnings: [] };
    const plugins = await loadPlugins(given.config.pluginDir);
    // The loader's plugin checks (backend names, each plugin's options schema), as loadGatewayConfig runs them.
    const loaded = checkPlugins(given, pluginChecksOf(plugins));
    const issues = pluginIssues(loaded.config, plugins);
    if (issues.length > 0) throw new ConfigError(issues, loaded.config.configPath);
    return { loaded, plugins };
  }
  const { plugins, ...loaded } = await loadGatewayConfig({
    ...(options.configPath !== undefined ? { configPath: options.configPath } : {}),
    ...(options.configDir !== undefined ? { configDir: options.configDir } : {}),
    ...(options.configText !== undefined ? { configText: options.configText } : {}),
    ...(options.env ? { env: options.env } : {}),
  });
  return { loaded, plugins };
}

interface Built {
  readonly config: GatewayConfig;
  readonly warnings: LoadedConfig['warnings'];
  readonly manager: ModelManager;
  readonly router: Router;
  readonly handleUpgrade: UpgradeHandler;
}

/**
 * What outlives a config reload: the live feed (and the open streams it tracks), the metrics
 * registry, and the per-model request counts of the concurrency limit (a reload must not reset
 * them while requests are in progress).
 */
interface Lasting {
  readonly feed: LiveFeed;
  readonly metrics: Metrics;
  readonly concurrencyLimit: RequestHandler;
  /** The active profile survives a reload (unless the new file drops it). */
  readonly profiles: ProfileSwitch;
  /** Set by close(): /health answers 503 from then on. */
  readonly stopping: { value: boolean };
}

function build(
  loaded: LoadedConfig,
  plugins: PluginRegistry,
  log: Logger,
  options: GatewayOptions,
  lasting: Lasting,
  reload?: ReloadHandoff,
): Built {
  const { config } = loaded;
  const manager = new ModelManager({
    config,
    plugins,
    log,
    ...(options.clock ? { clock: options.clock } : {}),
    ...(options.spawner ? { spawner: options.spawner } : {}),
    ...(options.http ? { http: options.http } : {}),
    ...(reload ? { adopt: reload.adopt, retiring: reload.retiring } : {}),
  });

  const router = express.Router();
  const readBody = express.raw({ type: () => true, limit: config.maxBodyBytes });
  const routing = new NameRouter({ config, profiles: lasting.profiles, models: manager });
  const resolveModel = createResolveModelMiddleware({ models: manager, routing });
  const { concurrencyLimit } = lasting;
  const makeReady = createMakeReadyMiddleware({ models: manager, ...(options.loadingTickMs ? { tickMs: options.loadingTickMs } : {}) });
  const trusted = trustedProxyCheck(config.trustedProxies);
  const forward = createForwarder({ trusted });
  const proxy = createModelProxyMiddleware({ forward });
  const peerProxy = createPeerProxyMiddleware({ forward });
  const auth = createAuthMiddleware({ keys: config.apiKeys });
  const { feed, metrics } = lasting;
  // The admin API, the logs and the status page have their own keys (adminKeys, else apiKeys), so
  // they sit before the API-key check; without any key they are open to loopback clients only.
  const recipePaths = recipePathsOf(config.models, plugins); // refused on /upstream, as the fixed lifecycle paths
  const adminAuth = createAdminAuthMiddleware({
    adminKeys: config.adminKeys,
    apiKeys: config.apiKeys,
    allowedHosts: config.allowedHosts,
    allowedOrigins: config.corsOrigins.filter((origin) => origin !== '*'),
  });

  router.use(createRequestLogMiddleware({ log, onDone: (entry) => metrics.observeRequest(entry) }));
  router.use(createCorsMiddleware({ origins: config.corsOrigins })); // before auth, as llama-swap: preflights carry no key
  // The hot path first, so model requests do not walk the admin, logs and static layers.
  const cluster = createCluster({ config, manager, feed, metrics, log, adminAuth }); // lib/cluster: closes itself with its manager
  registerModelRoutes(router, { auth, ...bodyReaders(config), resolveModel, clusterRoute: cluster.route, peerProxy, concurrencyLimit, makeReady, proxy });
  router.get(['/health', '/wol-health'], createHealthHandler({ stopping: () => lasting.stopping.value }));
  router.get('/upstream', upstreamIndexRedirect); // no key, as llama-swap: the page it sends to asks for one
  router.use('/api', cluster.api); // peers' /api/events and /api/models (cluster key), /api/cluster
  router.use('/api', adminAuth, createProfilesApi({ config, profiles: lasting.profiles, log }));
  router.use('/api', adminAuth, createLlamaSwapApi({ manager, config, log })); // llama-swap's and llmsnap's paths, before siesta's
  router.use('/api', adminAuth, createAdminApi({ manager, feed, log, ...options.events }));
  // llama-swap's GET /unload stops every model: an admin action (issue 11 defect 5), not an API call.
  router.all('/unload', adminAuth, createUnloadAllHandler({ models: manager }));
  router.use('/logs', adminAuth);
  router.use(createLogsRouter({ feed, ...(options.events?.maxBufferedBytes ? { maxBufferedBytes: options.events.maxBufferedBytes } : {}) }));
  router.use(createStatusPage({ guard: adminAuth }));
  router.use(auth);
  // Under the API keys, not the admin keys: Prometheus scrapes it like any API client.
  router.get('/metrics', createMetricsHandler({ metrics }));
  router.get(['/v1/models', '/models'], createModelListHandler({ config, models: manager, activeProfile: () => lasting.profiles.active }));
  router.get('/running', createRunningHandler({ models: runningOfProcesses(manager) })); // until the manager offers running()
  // The active profile's pins: /upstream requests and WebSocket upgrades follow the same rules.
  const pins = (): Readonly<Record<string, string>> | undefined => (lasting.profiles.active === null ? undefined : config.profiles[lasting.profiles.active]?.pins);
  const upstream = createUpstreamMiddleware({ models: manager, ignorePaths: config.upstreamIgnorePaths, peers: config.peers, recipePaths, pins });
  router.all(['/upstream/*path'], readBody, upstream, peerProxy, concurrencyLimit, makeReady, proxy);
  router.use(createNotFoundHandler());
  router.use(createErrorHandler({ log }));
  const handleUpgrade = createUpgradeHandler({
    models: manager,
    apiKeys: config.apiKeys,
    ignorePaths: config.upstreamIgnorePaths,
    peers: config.peers,
    recipePaths,
    pins,
    trusted,
    log,
  });
  return { config, warnings: loaded.warnings, manager, router, handleUpgrade };
}

export async function createGateway(options: GatewayOptions = {}): Promise<Gateway> {
  const { loaded, plugins } = await resolveConfig(options);
  const gatewayLogs = createGatewayLogRing();
  const log = options.logger
    ? teeLogger(options.logger, gatewayLogs)
    : createLogger({
        level: loaded.config.logLevel,
        format: loaded.config.logFormat,
        timeFormat: loaded.config.logTimeFormat,
        output: stdoutPlan(loaded.config.logToStdout).gateway,
        onLine: (line) => gatewayLogs.push(GATEWAY_SOURCE, line),
      });
  for (const warning of loaded.warnings) log.warn('config warning', { path: warning.path, message: warning.message });
  const lasting: Lasting = {
    feed: new LiveFeed(gatewayLogs),
    metrics: new Metrics({ defaultMetrics: options.defaultMetrics ?? true }),
    concurrencyLimit: createConcurrencyLimitMiddleware(),
    profiles: new ProfileSwitch(),
    stopping: { value: false },
  };
  let current = build(loaded, plugins, log, options, lasting);
  lasting.feed.attach(current.manager);
  // logToStdout upstream|both: the model servers' output on the gateway's (decided once, as in llama-swap).
  pipeModelOutput(lasting.feed, loaded.config.logToStdout);
  lasting.metrics.attach(current.manager);
  let started = false;
  // The handler and the router stay the same objects across reloads; they delegate to the current build.
  const handler: RequestHandler = function gatewayRouter(req, res, next) {
    current.router(req, res, next);
  };
  const router = express.Router();
  router.use(handler);

  return {
    router,
    handler,
    get config() {
      return current.config;
    },
    get warnings() {
      return current.warnings;
    },
    get manager() {
      return current.manager;
    },
    log,
    feed: lasting.feed,
    metrics: lasting.metrics,
    handleUpgrade(req, socket, head, mountPath) {
      current.handleUpgrade(req, socket, head, mountPath);
    },
    async start() {
      if (started) return;
      started = true;
      await current.manager.start();
    },
    async reload(source: { configPath?: string; configText?: string } = {}) {
      const next = await resolveConfig({
        ...options,
        config: undefined,
        ...(options.configPath !== undefined ? { configPath: options.configPath } : {}),
        ...source,
      });
      for (const warning of next.loaded.warnings) log.warn('config warning', { path: warning.path, message: warning.message });
      // Nothing in flight is cut (issue 11 defect 7): models whose change does not touch the
      // process keep it (RELOAD_EFFECT in lib/process/model-process.ts); the others are drained,
      // and their new process starts once the old one has stopped (both would bind the same port).
      // The hand-over builds the new configuration and switches in the same tick, so that no
      // request meets a closed manager; requests queued in the old one move to the new one.
      const plan = reloadPlan(current.config, next.loaded.config);
      const changed = changedModels(plan);
      const { next: built, stopped } = current.manager.handOver(plan, (handoff) => build(next.loaded, next.plugins, log, options, lasting, handoff));
      current = built;
      lasting.profiles.revalidate(next.loaded.config);
      lasting.feed.attach(current.manager);
      lasting.metrics.attach(current.manager);
      await stopped;
      log.info('configuration reloaded', { restarted: changed.join(',') || 'none', updated: plan.updated.join(',') || 'none' });
      return { changed };
    },
    async close(options = {}) {
      lasting.stopping.value = true;
      // Stop the models first so that open event streams see them stop, then end the streams
      // (an open stream would keep the HTTP server from closing).
      await current.manager.close(options);
      lasting.feed.close();
      lasting.metrics.detach();
    },
  };
}

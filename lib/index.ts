/**
 * siesta's public API for embedding: `app.use('/llm', (await createGateway({ configPath })).router)`.
 *
 * Importing it changes nothing process-wide. The CLI's two process-wide switches stay in the CLI:
 * V8's young-generation flags (bin/siesta.js, lib/cli/young-generation.ts, not exported) and the
 * server whose requests are born with Express's prototypes, which an embedding app opts into by
 * calling `createExpressServer(app)` (it changes only the app it is given). A `.ts` user plugin
 * registers tsx for the whole process when siesta runs compiled (plugins/README.md).
 */
export { createGateway, MODEL_ROUTES, type Gateway, type GatewayOptions } from './gateway/create-gateway.js';
export { ModelManager } from './gateway/model-manager.js';
export { loadConfigFile, loadConfigText, ConfigError } from './config/index.js';
export type * from './config/types.js';
export { GatewayError, ERROR_TABLE, type ErrorCode } from './errors.js';
export { createLogger, type Logger } from './logger.js';
export { PLUGIN_API_VERSION, type BackendPlugin, type PluginContext, type PluginHttp, type RecipeStep, type SleepRecipe } from './plugins/types.js';
export { validatePlugin, PluginLoadError, PluginRegistry, loadPlugins } from './plugins/registry.js';
export type { LiveFeed } from './gateway/live-feed.js';
export type { Metrics } from './metrics.js';
export type { ModelState, StateChange } from './process/states.js';
export { createExpressServer } from './http/express-server.js';
export { limitBodyTime, DEFAULT_BODY_TIMEOUT_MS, type BodyDeadlineOptions } from './http/body-deadline.js';

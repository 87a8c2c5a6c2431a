/**
 * Configuration plus plugins, loaded together: the plugin directory comes from the config, and the
 * config's `backend` names and `options:` blocks are checked against the plugins found there.
 */
import { ConfigError, checkPlugins, loadConfigFile, loadConfigText, type LoadOptions } from '../config/index.js';
import type { ConfigIssue, GatewayConfig, LoadedConfig } from '../config/types.js';
import { loadPlugins, pluginConfigWarnings, type PluginRegistry } from '../plugins/registry.js';
import { pluginChecksOf } from '../plugins/checks.js';
import { readConfigSources } from '../config/merge.js';
import { checkCudaCheckpointBinaries } from '../process/cuda-checkpoint.js';

export interface ConfigSource {
  readonly configPath?: string;
  /** `-config-dir`: every `*.yml` / `*.yaml` in it, merged after `configPath` (lib/config/merge.ts). */
  readonly configDir?: string;
  readonly configText?: string;
  readonly env?: LoadOptions['env'];
  /** Every warning is a problem (`siesta check --strict`). */
  readonly strict?: boolean;
}

export interface LoadedGatewayConfig extends LoadedConfig {
  readonly plugins: PluginRegistry;
}

/** Problems only visible once the plugins are known: a configured sleep level the plugin lacks. */
export function pluginIssues(config: GatewayConfig, plugins: PluginRegistry): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  for (const model of Object.values(config.models)) {
    const plugin = plugins.get(model.backend);
    if (!plugin || !model.sleep.enabled || model.sleepEndpoints) continue;
    const levels = Object.keys(plugin.sleepLevels ?? {});
    if (levels.length > 0 && !levels.includes(String(model.sleep.level))) {
      issues.push({ path: `models.${model.id}.sleep.level`, message: `backend ${model.backend} has no level ${model.sleep.level} (it has ${levels.join(', ')})` });
    }
    for (const step of model.idle) {
      if (step.action === 'sleep' && step.level !== undefined && levels.length > 0 && !levels.includes(String(step.level))) {
        issues.push({ path: `models.${model.id}.idle`, message: `backend ${model.backend} has no sleep level ${step.level}` });
      }
    }
  }
  return issues;
}

/** A source read once: `-config` plus `-config-dir` become one merged text. */
interface ReadSource extends ConfigSource {
  readonly baseDir?: string;
}

async function read(source: ConfigSource): Promise<ReadSource> {
  if (source.configDir === undefined || source.configText !== undefined) return source;
  const merged = await readConfigSources({ configDir: source.configDir, ...(source.configPath !== undefined ? { configPath: source.configPath } : {}) });
  return { configText: merged.text, configPath: merged.configPath, baseDir: merged.baseDir };
}

function load(source: ReadSource, options: LoadOptions): Promise<LoadedConfig> {
  if (source.configText !== undefined) {
    return Promise.resolve(loadConfigText(source.configText, { ...options, ...(source.configPath ? { configPath: source.configPath } : {}), ...(source.baseDir ? { baseDir: source.baseDir } : {}) }));
  }
  if (source.configPath !== undefined) return loadConfigFile(source.configPath, options);
  throw new Error('createGateway needs config, configPath or configText');
}

export async function loadGatewayConfig(given: ConfigSource): Promise<LoadedGatewayConfig> {
  const env = { ...(given.env ? { env: given.env } : {}), ...(given.strict ? { strict: true } : {}) };
  // Parsed, validated and resolved once, without the plugins: they live in the pluginDir it names.
  // Any problem found so far is thrown before the plugins are loaded.
  const resolved = await load(await read(given), env);
  const plugins = await loadPlugins(resolved.config.pluginDir);
  // Then the plugin checks on the resolved config: backend names, each plugin's options schema.
  const loaded = checkPlugins(resolved, pluginChecksOf(plugins));
  const issues = pluginIssues(loaded.config, plugins);
  if (issues.length > 0) throw new ConfigError(issues, loaded.config.configPath);
  // Plugin warnings (llama-server saveSlots without --slot-save-path), then sleep.method:
  // cuda-checkpoint without its binary: stop/start, with one warning (siesta check names both).
  const warned = { ...loaded, warnings: [...loaded.warnings, ...pluginConfigWarnings(Object.values(loaded.config.models), plugins)], plugins };
  const checked = await checkCudaCheckpointBinaries(warned);
  if (given.strict && checked.warnings.length > 0) throw new ConfigError(checked.warnings, checked.config.configPath);
  return checked;
}

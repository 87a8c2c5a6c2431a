/**
 * What the config loader checks against the loaded plugins (`checkPlugins` in lib/config): each
 * model's `backend` must name one, and its `options:` must pass that plugin's schema.
 */
import type { Schema } from 'joi';
import type { PluginChecks } from '../config/resolve-model.js';
import type { PluginRegistry } from './registry.js';

export function pluginChecksOf(plugins: Pick<PluginRegistry, 'names' | 'get'>): Required<PluginChecks> {
  const schemas: Record<string, Schema> = {};
  for (const name of plugins.names()) {
    const schema = plugins.get(name)?.optionsSchema;
    if (schema) schemas[name] = schema;
  }
  return { knownBackends: plugins.names(), pluginOptionSchemas: schemas };
}

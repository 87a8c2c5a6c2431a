/** The YAML config the test harnesses share: a fresh `startPort` from the suite's range, state and plugins under `dir`. */
import { join } from 'node:path';
import { stringify } from 'yaml';
import { freeStartPort } from './ports.js';

export type Models = Record<string, Record<string, unknown>>;

/** Short `healthCheckTimeout`, quiet log; `global` adds or overrides top-level keys. */
export async function testConfigYaml(dir: string, range: { readonly from: number; readonly to: number }, models: Models, global: Record<string, unknown> = {}): Promise<string> {
  return stringify({
    healthCheckTimeout: 15,
    logLevel: 'error',
    startPort: await freeStartPort(Object.keys(models).length, range),
    stateDir: join(dir, 'state'),
    pluginDir: join(dir, 'plugins'),
    ...global,
    models,
  });
}

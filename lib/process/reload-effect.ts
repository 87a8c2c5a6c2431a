/**
 * Which configuration changes a running model process survives on a config reload: a pure table
 * over every field of ModelConfig, and the diff that the reload plan and `ModelProcess.adopt` read.
 */
import type { ModelConfig } from '../config/types.js';

/**
 * What a change of each configuration field does to a model's running process on a config reload
 * (issue 11 defect 7). `restart`: the field shapes the process, or how it is reached, started,
 * stopped, put to sleep or woken, so the old process is drained and a new one started. `in-place`:
 * the field is read per request or per decision (routing, forwarding, queueing, idle ladder, stop
 * grace), so the running process is kept and simply takes the new value. A `Record` over every key
 * of ModelConfig: a new field does not compile until it is classified here.
 */
export const RELOAD_EFFECT: Readonly<Record<keyof ModelConfig, 'restart' | 'in-place'>> = {
  id: 'restart', // the identity; two configs are compared per id, so it never differs
  cmd: 'restart',
  env: 'restart',
  proxy: 'restart', // where the process is reached (and the port guarded)
  port: 'restart', // ${PORT}: the port the process was told to listen on
  checkEndpoint: 'restart', // the readiness the process was started against
  backend: 'restart', // the plugin: defaults (env, checkEndpoint), probes and recipes
  options: 'restart', // plugin options may shape the command line or the recipes
  cmdStop: 'restart', // tied to how the process was started (a container name, a pid file)
  sleep: 'restart', // a sleeping process must be woken by the recipe it slept with; vLLM needs
  sleepEndpoints: 'restart', // --enable-sleep-mode at start: recipe and process go together
  wakeEndpoints: 'restart',
  name: 'in-place',
  description: 'in-place',
  aliases: 'in-place',
  unlisted: 'in-place',
  metadata: 'in-place',
  capabilities: 'in-place',
  useModelName: 'in-place',
  filters: 'in-place',
  concurrencyLimit: 'in-place',
  sendLoadingState: 'in-place',
  ignoreWebsockets: 'in-place',
  timeouts: 'in-place', // proxy timeouts, read per forwarded request
  idle: 'in-place', // the idle ladder (ttl included) is re-armed on the running process
  priority: 'in-place', // queue order, read by the new scheduler
  resources: 'in-place', // budgets, read by the new scheduler
  unloadTimeoutMs: 'in-place', // read when the process is stopped
  healthCheckTimeoutMs: 'in-place', // read when a process starts; a running one is past it
};

/** The fields whose change needs a new process (see RELOAD_EFFECT); empty = the running process can adopt `after`. */
export function restartFields(before: ModelConfig, after: ModelConfig): (keyof ModelConfig)[] {
  return (Object.keys(RELOAD_EFFECT) as (keyof ModelConfig)[]).filter(
    (field) => RELOAD_EFFECT[field] === 'restart' && JSON.stringify(before[field]) !== JSON.stringify(after[field]),
  );
}

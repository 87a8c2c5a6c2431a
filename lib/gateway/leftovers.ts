/**
 * The crash clean-up before the first model starts: stop the model servers a gateway that died
 * left behind (their pid files in stateDir, lib/process/pid-files.ts), and leave alone those of
 * another gateway that still runs, saying so.
 */
import { DEFAULTS } from '../config/index.js';
import type { GatewayConfig } from '../config/types.js';
import type { Logger } from '../logger.js';
import { reapLeftovers, type PidRecord } from '../process/pid-files.js';

/**
 * The grace between SIGTERM and SIGKILL for a child left by an earlier gateway: the model's
 * unloadTimeoutMs, or for a model no longer configured the largest one configured (the default
 * when there is none).
 */
export function leftoverGraceMs(config: GatewayConfig): (model: string) => number {
  const configuredMs = Object.values(config.models).map((model) => model.unloadTimeoutMs);
  const largestMs = configuredMs.length > 0 ? Math.max(...configuredMs) : DEFAULTS.unloadTimeoutMs;
  return (model) => (Object.hasOwn(config.models, model) ? config.models[model]!.unloadTimeoutMs : largestMs);
}

/** Reap the leftovers of `config`'s stateDir and log what was done; never rejects. */
export async function reapLeftoverServers(config: GatewayConfig, log: Logger): Promise<void> {
  const { stateDir } = config;
  try {
    const report = await reapLeftovers(stateDir, { graceMsFor: leftoverGraceMs(config) });
    for (const { record, signal, ms, gone } of report.reaped) {
      const fields = { model: record.model, pid: record.pid, gatewayPid: record.gatewayPid, signal, ms };
      if (gone) log.warn('stopped a model server left by a gateway that died', fields);
      else log.error('a model server left by a gateway that died does not exit, even after SIGKILL', fields);
    }
    const byGateway = new Map<number, PidRecord[]>();
    for (const record of report.othersLive) byGateway.set(record.gatewayPid, [...(byGateway.get(record.gatewayPid) ?? []), record]);
    for (const [gatewayPid, records] of byGateway) {
      log.warn('model servers of another live gateway left alone', {
        gatewayPid,
        models: records.map((record) => record.model).join(','),
        pids: records.map((record) => record.pid).join(','),
        stateDir,
        hint: 'another siesta runs with this configuration (or stateDir); models sharing its ports will not start here',
      });
    }
  } catch (error) {
    log.error('crash clean-up failed', { stateDir, error: (error as Error).message });
  }
}

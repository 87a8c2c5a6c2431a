/**
 * `GET /running` (llama-swap's): the models that have a process (every state but stopped), with
 * siesta's state, backend, pid and requests in flight.
 */
import type { RequestHandler } from 'express';
import type { RunningModel, RunningModels } from '../lib/gateway/types.js';
import type { ModelState } from '../lib/process/states.js';

/** One entry of `/running`. */
export interface RunningRecord {
  readonly model: string;
  readonly state: ModelState;
  readonly backend: string;
  readonly proxy: string;
  /** null while the process has none (starting it failed, or it is not spawned yet). */
  readonly pid: number | null;
  readonly inFlight: number;
  /** Only when it differs from the id. */
  readonly name?: string;
  readonly description?: string;
}

/** The entry of one running model: pure, tested as a table. */
export function runningRecord(running: RunningModel): RunningRecord {
  const { model } = running;
  return {
    model: running.id,
    state: running.state,
    backend: model.backend,
    proxy: model.proxy,
    pid: running.pid,
    inFlight: running.inFlight,
    ...(model.name !== running.id ? { name: model.name } : {}),
    ...(model.description ? { description: model.description } : {}),
  };
}

/** A model with a process: not stopped, not shut down (llama-swap's `RunningModels`). */
export function hasProcess(state: ModelState): boolean {
  return state !== 'stopped' && state !== 'shutdown';
}

/**
 * Interim: the `running()` view built from the manager's processes, until the manager offers it
 * itself (lib/gateway/types.ts, `RunningModels`).
 */
export function runningOfProcesses(source: { processes(): readonly RunningModel[] }): RunningModels {
  return {
    running: () => source.processes().filter((process) => hasProcess(process.state)),
  };
}

export function createRunningHandler(options: Readonly<{ models: RunningModels }>): RequestHandler {
  const { models } = options;
  return function runningHandler(_req, res) {
    res.json({ running: models.running().map(runningRecord) });
  };
}

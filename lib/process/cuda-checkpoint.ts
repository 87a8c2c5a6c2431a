/**
 * Sleep by CUDA checkpoint: NVIDIA's `cuda-checkpoint` binary suspends the CUDA state of one
 * process (lock CUDA calls, copy device memory to host memory, release the GPU) and resumes it.
 * A server's GPU work may live in child processes, so the model's whole process tree is handled:
 * every process whose `--get-state` answers `running` is locked (all of them first, with a
 * timeout), then checkpointed, then confirmed `checkpointed`. Resume is restore, unlock, confirm
 * `running`, in reverse order. A failure part-way resumes whatever was suspended before it throws,
 * so the owner's fallback (stop) never meets a half-suspended model.
 *
 * The binary runs through `execFile` (no shell) with a timeout; the exec function and the process
 * tree are injected so the logic is unit-tested without processes.
 */
import { execFile } from 'node:child_process';
import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import { delimiter, isAbsolute, join } from 'node:path';
import type { ConfigIssue, LoadedConfig, ModelConfig } from '../config/types.js';
import type { Logger } from '../logger.js';
import type { CudaCheckpointStep } from '../plugins/types.js';
import { readProcessTable } from './proc-sockets.js';

export type CudaState = 'running' | 'locked' | 'checkpointed' | 'failed';

/** Runs `file` with `args` (no shell) within `timeoutMs`; resolves with stdout, rejects on a non-zero exit or the timeout. */
export type ExecFn = (file: string, args: readonly string[], timeoutMs: number) => Promise<string>;

export const execFileRunner: ExecFn = (file, args, timeoutMs) =>
  new Promise((resolve, reject) => {
    execFile(file, [...args], { timeout: timeoutMs, killSignal: 'SIGKILL', encoding: 'utf8' }, (error, stdout, stderr) => {
      if (!error) return resolve(stdout);
      const detail = stderr.trim() || stdout.trim() || error.message;
      reject(new Error(error.killed ? `no answer within ${timeoutMs} ms` : detail, { cause: error }));
    });
  });

/** The state word `--get-state` printed, or null when the answer is not one. */
export function parseCudaState(stdout: string): CudaState | null {
  const word = stdout.trim().split(/\s+/).pop()?.toLowerCase();
  return word === 'running' || word === 'locked' || word === 'checkpointed' || word === 'failed' ? word : null;
}

/** `root` and its descendants, parents before children (pure: `parents` maps pid → ppid). */
export function descendantsOf(root: number, parents: ReadonlyMap<number, number>): number[] {
  const children = new Map<number, number[]>();
  for (const [pid, ppid] of parents) {
    const list = children.get(ppid) ?? [];
    list.push(pid);
    children.set(ppid, list);
  }
  const seen = new Set<number>();
  const queue = [root];
  for (let next = 0; next < queue.length; next += 1) {
    const pid = queue[next] as number;
    if (seen.has(pid)) continue;
    seen.add(pid);
    queue.push(...(children.get(pid) ?? []).sort((a, b) => a - b));
  }
  return [...seen];
}

/** `root` and its descendants, read from /proc (Linux); just `root` where /proc cannot be read. */
export async function procTree(root: number): Promise<number[]> {
  const table = await readProcessTable();
  if (!table) return [root];
  return descendantsOf(root, new Map([...table].map(([pid, stat]) => [pid, stat.ppid])));
}

/** The absolute path of `binary` (a path, or a name looked up on `searchPath`), or null when it is not an executable file. */
export async function findExecutable(binary: string, searchPath: string | undefined = process.env.PATH): Promise<string | null> {
  const candidates = binary.includes('/') ? [binary] : (searchPath ?? '').split(delimiter).filter((dir) => isAbsolute(dir)).map((dir) => join(dir, binary));
  for (const candidate of candidates) {
    try {
      await access(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here: try the next directory
    }
  }
  return null;
}

export interface CudaCheckpointOptions {
  readonly exec: ExecFn;
  /** The model's process tree, root first; empty when no process runs. */
  readonly tree: () => Promise<readonly number[]>;
  readonly log: Logger;
  /** The model id, for log lines. */
  readonly id: () => string;
}

/**
 * Suspends and resumes one model's CUDA processes; remembers which processes it suspended so the
 * resume (or a rollback) handles exactly those, in reverse order.
 */
export class CudaCheckpointer {
  readonly #options: CudaCheckpointOptions;
  #suspended: number[] = [];

  constructor(options: CudaCheckpointOptions) {
    this.#options = options;
  }

  /** The processes currently checkpointed by this object. */
  get suspended(): readonly number[] {
    return this.#suspended;
  }

  /** Run one recipe step. */
  run(step: CudaCheckpointStep): Promise<void> {
    const deadline = performance.now() + step.timeoutMs;
    const left = (): number => Math.max(1, Math.round(deadline - performance.now()));
    const call = (args: readonly string[]): Promise<string> => this.#options.exec(step.binary, args, left());
    return step.action === 'suspend' ? this.#suspend(call, left) : this.#resume(call);
  }

  async #state(call: (args: readonly string[]) => Promise<string>, pid: number): Promise<CudaState | null> {
    try {
      return parseCudaState(await call(['--get-state', '--pid', String(pid)]));
    } catch {
      return null;
    }
  }

  async #suspend(call: (args: readonly string[]) => Promise<string>, left: () => number): Promise<void> {
    const tree = await this.#options.tree();
    if (tree.length === 0) throw new Error('the model has no process');
    const targets: number[] = [];
    for (const pid of tree) {
      // A process without CUDA state: the binary fails or answers something else. Skipped.
      if ((await this.#state(call, pid)) === 'running') targets.push(pid);
    }
    if (targets.length === 0) throw new Error(`no process of the model has CUDA state (asked ${tree.join(', ')})`);
    const locked: number[] = [];
    const checkpointed: number[] = [];
    try {
      for (const pid of targets) {
        await this.#action(call, 'lock', pid, ['--timeout', String(left())]);
        locked.push(pid);
      }
      for (const pid of targets) {
        await this.#action(call, 'checkpoint', pid);
        checkpointed.push(pid);
      }
      for (const pid of targets) {
        const state = await this.#state(call, pid);
        if (state !== 'checkpointed') throw new Error(`process ${pid} reports ${state ?? 'no state'} after checkpoint`);
      }
    } catch (error) {
      await this.#rollback(call, locked, checkpointed);
      throw error;
    }
    this.#suspended = targets;
    this.#options.log.info('cuda checkpoint done', { model: this.#options.id(), pids: targets });
  }

  /** Undo a partial suspend: restore what was checkpointed, unlock what was locked, newest first. Logs, never throws. */
  async #rollback(call: (args: readonly string[]) => Promise<string>, locked: readonly number[], checkpointed: readonly number[]): Promise<void> {
    for (const pid of [...checkpointed].reverse()) {
      await this.#action(call, 'restore', pid).catch((error: unknown) => this.#options.log.warn('cuda restore after failed checkpoint failed', { model: this.#options.id(), pid, error: (error as Error).message }));
    }
    for (const pid of [...locked].reverse()) {
      await this.#action(call, 'unlock', pid).catch((error: unknown) => this.#options.log.warn('cuda unlock after failed checkpoint failed', { model: this.#options.id(), pid, error: (error as Error).message }));
    }
  }

  /** Restore then unlock every suspended process, newest first; each is tried even when one fails, the first failure is thrown. */
  async #resume(call: (args: readonly string[]) => Promise<string>): Promise<void> {
    const pids = [...this.#suspended].reverse();
    this.#suspended = [];
    const failures: Error[] = [];
    const attempt = async (what: 'restore' | 'unlock', pid: number): Promise<boolean> => {
      try {
        await this.#action(call, what, pid);
        return true;
      } catch (error) {
        failures.push(error as Error);
        return false;
      }
    };
    const restored = [];
    for (const pid of pids) if (await attempt('restore', pid)) restored.push(pid);
    for (const pid of restored) await attempt('unlock', pid);
    if (failures[0]) throw failures[0];
    for (const pid of pids) {
      const state = await this.#state(call, pid);
      if (state !== 'running') throw new Error(`process ${pid} reports ${state ?? 'no state'} after restore`);
    }
  }

  async #action(call: (args: readonly string[]) => Promise<string>, action: 'lock' | 'checkpoint' | 'restore' | 'unlock', pid: number, extra: readonly string[] = []): Promise<void> {
    try {
      await call(['--action', action, '--pid', String(pid), ...extra]);
    } catch (error) {
      throw new Error(`${action} of process ${pid}: ${(error as Error).message}`, { cause: error });
    }
  }
}

/**
 * The start-up check of `sleep.method: cuda-checkpoint`: a model whose binary is not found falls
 * back to stop/start (its `sleep.enabled` becomes false) with one warning naming the binary, so
 * `siesta check` and the gateway's log say why. Returns a new object; `loaded` is not changed.
 */
export async function checkCudaCheckpointBinaries<T extends LoadedConfig>(loaded: T, find: (binary: string) => Promise<string | null> = findExecutable): Promise<T> {
  const models: Record<string, ModelConfig> = { ...loaded.config.models };
  const warnings: ConfigIssue[] = [...loaded.warnings];
  let changed = false;
  for (const model of Object.values(loaded.config.models)) {
    if (model.sleep.method !== 'cuda-checkpoint' || !model.sleep.enabled) continue;
    const binary = model.sleep.checkpointBinary ?? 'cuda-checkpoint';
    if ((await find(binary)) !== null) continue;
    changed = true;
    models[model.id] = { ...model, sleep: { ...model.sleep, enabled: false } };
    const where = binary.includes('/') ? binary : `${binary} on PATH`;
    warnings.push({ path: `models.${model.id}.sleep.method`, message: `cuda-checkpoint not found (${where}; set cudaCheckpoint.path): this model is stopped and cold-started instead of checkpointed` });
  }
  return changed ? { ...loaded, config: { ...loaded.config, models }, warnings } : loaded;
}

/**
 * The child runner: the machinery of one model's server process, with no state machine. It checks
 * that the model's port is free, spawns the command in its own process group, keeps its pid file
 * and its output (the log ring), waits until the health check passes and the listener is the
 * child's own, and stops it (cmdStop or SIGTERM to the group, SIGKILL after the grace). Every
 * wait runs on the injected clock. The owner (`model-process.ts`) decides when; this file knows how.
 */
import type { Readable } from 'node:stream';
import type { ModelConfig } from '../config/types.js';
import { pause, type Clock } from '../clock.js';
import { GatewayError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { BackendPlugin } from '../plugins/types.js';
import type { HttpClient } from './http.js';
import type { LogRing } from './log-ring.js';
import { pacePipes, type PipePacer } from './pipe-pacer.js';
import { removePidFile, writePidFile } from './pid-files.js';
import { runsContainer, type LocalTarget, type PortGuard } from './port-check.js';
import { waitReady } from './readiness.js';
import type { ChildHandle, Spawner } from './spawner.js';
import { joinUpstream } from './upstream-url.js';

/**
 * The longest pause in reading a ready server's busy output (pipe-pacer.ts): followers see its
 * lines at most this late; the gateway wakes once per pause instead of on every write.
 */
export const OUTPUT_READ_INTERVAL_MS = 100;
/** After an exit, how long the start-failure message waits for the server's last output to be read. */
const OUTPUT_DRAIN_MS = 500;

/** Resolves when `stream` has ended or closed (at once when there is none, or it already has). */
function ended(stream: Readable | null): Promise<void> {
  if (!stream || stream.readableEnded || stream.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    stream.once('end', resolve);
    stream.once('close', resolve);
  });
}

export interface ChildRunnerOptions {
  /** The model's configuration in use (a reload may change its in-place fields: grace, health deadline). */
  readonly model: () => ModelConfig;
  readonly plugin: BackendPlugin;
  readonly spawner: Spawner;
  readonly http: HttpClient;
  readonly portGuard: PortGuard;
  readonly clock: Clock;
  readonly log: Logger;
  readonly logs: LogRing;
  /** Directory for pid files; null = none. */
  readonly stateDir: string | null;
  /** The proxy URL's origin and path: the health check is joined to it. */
  readonly upstream: string;
  readonly checkEndpoint: string | null;
  /** A model on this machine: its port must be free before a start, and its listener the child's. */
  readonly localTarget: LocalTarget | null;
  /** The child exited when nobody stopped it (a crash), after the runner cleaned up after it. */
  readonly onUnexpectedExit: (how: string) => void;
}

/** A start that did not give a ready child: the reason for the model's state and the error for the caller. */
export type StartResult = { readonly ok: true } | { readonly ok: false; readonly stateReason: string; readonly error: GatewayError };

export class ChildRunner {
  readonly #options: ChildRunnerOptions;
  #child: ChildHandle | null = null;
  #exitExpected = false;
  /** Reads the ready child's output on a timer; stopped (read continuously) for a stop or an exit. */
  #pacer: PipePacer | null = null;
  /** Resolves when the current child's output has been read to its end. */
  #outputDone: Promise<void> = Promise.resolve();

  constructor(options: ChildRunnerOptions) {
    this.#options = options;
  }

  get pid(): number | null {
    return this.#child?.pid ?? null;
  }

  /** Whether a child runs (false once it exited, expectedly or not). */
  get alive(): boolean {
    return this.#child !== null;
  }

  get #id(): string {
    return this.#options.model().id;
  }

  /**
   * Spawn the model's command and wait until it is ready: its health check passes (or there is
   * none), it still runs, and on Linux the socket listening on its port is its own. `abandon`
   * resolves with a reason when waiting must stop (a shutdown). On failure nothing is left running.
   */
  async start(abandon: Promise<string>): Promise<StartResult> {
    const { logs, log, stateDir } = this.#options;
    const model = this.#options.model();
    // A server that already answers on the model's port is not ours: its health check would pass and
    // requests (prompts, API keys) would go to a stranger. Fail clearly instead, without spawning.
    const target = this.#options.localTarget;
    const holder = target ? await this.#options.portGuard.holder(target) : null;
    if (target && holder) {
      const fix = model.port === null ? "change the model's port" : 'change startPort';
      const message = `port ${target.port} is already in use by ${holder.description} (stop that process, or ${fix})`;
      logs.push('siesta', holder.commandLine ? `${message}: ${holder.commandLine}` : message);
      log.warn('port in use', { model: model.id, port: target.port, holder: holder.description, command: holder.commandLine });
      return { ok: false, stateReason: 'port in use', error: new GatewayError('start_failed', `Model "${model.id}" could not start: port ${target.port} is already in use`, { detail: `model ${model.id} could not be started: ${message}` }) };
    }
    let child: ChildHandle;
    try {
      child = await this.#options.spawner.spawn(model.cmd, this.#env(model));
    } catch (error) {
      logs.push('siesta', (error as Error).message);
      const code = (error as NodeJS.ErrnoException).code;
      return { ok: false, stateReason: 'spawn failed', error: new GatewayError('start_failed', `Model "${model.id}" could not start: its command could not be run${code ? ` (${code})` : ''}`, { cause: error, detail: `model ${model.id} could not be started: ${(error as Error).message}` }) };
    }
    this.#child = child;
    this.#exitExpected = false;
    logs.push('siesta', `started pid ${child.pid}: ${model.cmd.join(' ')}`);
    // Bytes, not text: the ring splits lines on the bytes and decodes each line whole.
    child.stdout?.on('data', (chunk: Buffer) => logs.write('stdout', chunk));
    child.stderr?.on('data', (chunk: Buffer) => logs.write('stderr', chunk));
    child.stdout?.on('end', () => logs.flush('stdout'));
    child.stderr?.on('end', () => logs.flush('stderr'));
    this.#outputDone = Promise.all([ended(child.stdout), ended(child.stderr)]).then(() => undefined);
    if (stateDir) {
      await writePidFile(stateDir, { model: model.id, pid: child.pid, argv: model.cmd, gatewayPid: process.pid, startedAt: new Date().toISOString() })
        .catch((error: unknown) => log.warn('cannot write pid file', { model: model.id, error: (error as Error).message }));
    }
    let exitedEarly: string | null = null;
    const exitReason = child.exited.then(({ code, signal }) => {
      this.#onExit(child, code, signal);
      exitedEarly = `process exited early (${signal ? `signal ${signal}` : `code ${String(code)}`})`;
      return exitedEarly;
    });
    const checkEndpoint = this.#options.checkEndpoint;
    const result = checkEndpoint === null
      ? ({ ready: true } as const)
      : await waitReady({
          url: joinUpstream(this.#options.upstream, checkEndpoint),
          deadlineMs: model.healthCheckTimeoutMs,
          http: this.#options.http,
          clock: this.#options.clock,
          abandon: Promise.race([exitReason, abandon]),
          onActivity: (poke) => {
            logs.on('line', poke);
            return () => logs.off('line', poke);
          },
        });
    // Ready only when the answer came from the process siesta started: it must still run, and on
    // Linux the socket listening on the port must be its own (or its descendants').
    const failure = !result.ready ? result.reason : checkEndpoint === null ? exitedEarly : ((await this.#listenerProblem(child)) ?? exitedEarly);
    if (failure === null) {
      if (this.#child === child) this.#pacer = pacePipes([child.stdout, child.stderr], this.#options.clock, OUTPUT_READ_INTERVAL_MS);
      return { ok: true };
    }
    await this.kill();
    // The exit can be seen before the pipes' last bytes are read: the message quotes the last lines.
    const drain = pause(this.#options.clock, OUTPUT_DRAIN_MS);
    await Promise.race([this.#outputDone, drain.done]);
    drain.cancel();
    const tail = logs.tail(15);
    // API clients get a short reason; the command line and the server's output are for the logs and admins.
    const summary = !result.ready ? result.summary : failure === exitedEarly ? failure : `another process answers on port ${target?.port ?? '?'}`;
    return {
      ok: false,
      stateReason: `start failed: ${failure}`,
      error: new GatewayError('start_failed', `Model "${model.id}" could not start: ${summary}`, {
        detail: `model ${model.id} failed to start: ${failure}${tail ? `\n--- last log lines ---\n${tail}` : ''}`,
      }),
    };
  }

  /** Stop the child: cmdStop (or SIGTERM to its group), SIGKILL to the group after unloadTimeout. */
  async kill(): Promise<void> {
    const child = this.#child;
    if (!child) return;
    const { spawner, log, logs, stateDir } = this.#options;
    const model = this.#options.model();
    this.#exitExpected = true;
    this.#stopPacing();
    const graceMs = model.unloadTimeoutMs;
    if (model.cmdStop) {
      const argv = model.cmdStop.map((arg) => arg.replaceAll('${PID}', String(child.pid)));
      const code = await spawner.run(argv, this.#env(model));
      if (code !== 0) {
        log.warn('cmdStop failed, sending SIGTERM', { model: model.id, code });
        spawner.signalGroup(child.pid, 'SIGTERM');
      }
    } else {
      spawner.signalGroup(child.pid, 'SIGTERM');
    }
    const grace = pause(this.#options.clock, graceMs);
    const exitedInTime = await Promise.race([child.exited.then(() => true), grace.done.then(() => false)]);
    grace.cancel();
    if (!exitedInTime) {
      log.warn('model did not stop in time, killing', { model: model.id, pid: child.pid, graceMs });
      logs.push('siesta', `no exit ${graceMs} ms after SIGTERM: SIGKILL`);
    }
    // The leader may be gone while children of its group linger (vLLM's engine core): kill the group.
    spawner.signalGroup(child.pid, 'SIGKILL');
    await child.exited;
    if (this.#child === child) this.#child = null;
    if (stateDir) await removePidFile(stateDir, model.id).catch(() => undefined);
  }

  /** Read the child's output continuously again: its last lines (a stop, a crash) arrive at once. */
  #stopPacing(): void {
    this.#pacer?.stop();
    this.#pacer = null;
  }

  /** The server's environment (and cmdStop's): the plugin's defaults, the model's own entries winning. */
  #env(model: ModelConfig): Record<string, string> {
    return { ...this.#options.plugin.defaults?.env, ...model.env };
  }

  /**
   * After a passed health check: why the answer may not have come from `child` (another process
   * listens on the model's port), or null. Skipped for remote servers and containers (their port is
   * published by the runtime, outside the child's tree); where /proc cannot tell, logged once.
   */
  async #listenerProblem(child: ChildHandle): Promise<string | null> {
    const target = this.#options.localTarget;
    if (!target || runsContainer(this.#options.model().cmd)) return null;
    const { log, logs } = this.#options;
    const owner = await this.#options.portGuard.owner(target.port, child.pid);
    switch (owner.kind) {
      case 'child':
        return null;
      case 'foreign':
        logs.push('siesta', `port ${target.port} is answered by ${owner.holder.description}${owner.holder.commandLine ? `: ${owner.holder.commandLine}` : ''}`);
        log.warn('port answered by another process', { model: this.#id, port: target.port, holder: owner.holder.description, command: owner.holder.commandLine });
        return `port ${target.port} is answered by another process, ${owner.holder.description}, not by the model's process (pid ${child.pid})`;
      case 'no-listener':
        log.debug('no listening socket seen on the port: the check was answered through NAT or another network namespace', { model: this.#id, port: target.port });
        return null;
      case 'unknown':
        if (owner.firstTime) log.info('readiness is not tied to the listening process', { model: this.#id, port: target.port, reason: owner.reason });
        return null;
    }
  }

  #onExit(child: ChildHandle, code: number | null, signal: NodeJS.Signals | null): void {
    const how = signal ? `signal ${signal}` : `code ${String(code)}`;
    if (this.#child === child) this.#stopPacing();
    this.#options.logs.push('siesta', `process ${child.pid} exited (${how})`);
    if (this.#child !== child || this.#exitExpected) return;
    this.#child = null;
    // Kill whatever the leader left in its group.
    this.#options.spawner.signalGroup(child.pid, 'SIGKILL');
    const { stateDir } = this.#options;
    if (stateDir) void removePidFile(stateDir, this.#id).catch(() => undefined);
    this.#options.log.warn('model process exited', { model: this.#id, pid: child.pid, how });
    this.#options.onUnexpectedExit(how);
  }
}

/**
 * Guarding a model's port, so siesta never takes another program's server for its model:
 * before a start the port must be free (`holder`), and once the health check passes the listening
 * socket must belong to the process siesta started (`owner`). Both run only during a start, never
 * on the request path. `localTarget` and `runsContainer` are pure and tested as tables; the effects
 * sit behind `PortGuard` so unit tests inject a fake and open no socket.
 */
import { basename } from 'node:path';
import { connect } from 'node:net';
import { systemClock, type Clock } from '../clock.js';
import { commandLine, describeProcess, findHolder, holdsSocket, processTree, readListeners, readProcessTable } from './proc-sockets.js';

/** Whether something already accepts connections on host:port (a leftover or foreign server). */
export function isPortInUse(host: string, port: number, timeoutMs = 250, clock: Clock = systemClock): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (inUse: boolean): void => {
      timer.cancel();
      socket.destroy();
      resolve(inUse);
    };
    const timer = clock.setTimer(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

export interface LocalTarget {
  /** Host to probe, IPv6 without brackets. */
  readonly host: string;
  readonly port: number;
}

/** localhost, 127.0.0.0/8, ::1 and the wildcard addresses (a client connecting to them reaches this machine). */
export function isLocalHost(host: string): boolean {
  const name = host.toLowerCase();
  return name === 'localhost' || name.endsWith('.localhost') || name === '::1' || name === '::' || name === '0.0.0.0' || /^127(\.\d{1,3}){3}$/.test(name);
}

/** Host and port of `proxy` when it points at this machine (the port it implies by its scheme if none); null otherwise. */
export function localTarget(proxy: string): LocalTarget | null {
  let url: URL;
  try {
    url = new URL(proxy);
  } catch {
    return null;
  }
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  if (!isLocalHost(host)) return null;
  return { host, port: url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80 };
}

/** Whether `cmd` names `port`: as a word of its own, or after `=` or `:` (`--port 8080`, `--port=8080`, `-p 8080:80`). */
export function commandNamesPort(cmd: readonly string[], port: number): boolean {
  const text = String(port);
  return cmd.some((arg) => arg === text || new RegExp(`(^|[=:])${text}($|[:/])`).test(arg));
}

/**
 * The local port that the model's own process must hold, or null when siesta cannot tell: a
 * remote proxy, or a model that neither names its port in `cmd` (nor gets it from `${PORT}`) nor
 * has a health check. Such a model's `cmd` starts something else (a launcher, a service managed
 * elsewhere, with `checkEndpoint: none` so siesta does not wait for it): its port is not checked.
 * A server with a default port (`llama-server` without `--port`) keeps its health check, and so
 * its port check.
 */
export function guardedTarget(model: { readonly proxy: string; readonly port: number | null; readonly cmd: readonly string[] }, checkEndpoint: string | null): LocalTarget | null {
  const target = localTarget(model.proxy);
  if (!target) return null;
  if (model.port !== null || checkEndpoint !== null || commandNamesPort(model.cmd, target.port)) return target;
  return null;
}

const CONTAINER_RUNTIMES = new Set(['docker', 'podman', 'nerdctl']);

/**
 * Whether `cmd` runs a container: its published port is held by the runtime's proxy (docker-proxy,
 * a child of dockerd; podman's rootlessport) or by a NAT rule, never by the command's own process
 * tree, so the listener cannot be tied to the child. The port-free check and the alive check still apply.
 */
export function runsContainer(cmd: readonly string[]): boolean {
  const program = cmd[0];
  return program !== undefined && CONTAINER_RUNTIMES.has(basename(program).replace(/\.exe$/i, '').toLowerCase());
}

export interface PortHolder {
  /** Short, for the error: `pid 4242 (node)`, or `another process` when /proc does not tell. */
  readonly description: string;
  /** The holder's full command line, for the model's log ('' when unknown). */
  readonly commandLine: string;
}

/** Who listens on the model's port once its health check passed. */
export type PortOwner =
  | { readonly kind: 'child' }
  | { readonly kind: 'foreign'; readonly holder: PortHolder }
  /** Nothing listens on the port in this network namespace, yet the check was answered (NAT, another namespace). */
  | { readonly kind: 'no-listener' }
  /** Cannot tell (not Linux, /proc unreadable, the listener's process not visible); `firstTime` for this reason. */
  | { readonly kind: 'unknown'; readonly reason: string; readonly firstTime: boolean };

export interface PortGuard {
  /** Before a start: null when nothing accepts connections on the target, else who does. */
  holder(target: LocalTarget): Promise<PortHolder | null>;
  /** After the health check: whether the socket listening on `port` belongs to the process group or descendants of `leaderPid`. */
  owner(port: number, leaderPid: number): Promise<PortOwner>;
}

/** The real guard: a connect probe, then Linux's /proc to name processes and tie sockets to them. */
export class ProcPortGuard implements PortGuard {
  readonly #reported = new Set<string>();

  async holder(target: LocalTarget): Promise<PortHolder | null> {
    if (!(await isPortInUse(target.host, target.port))) return null;
    const pid = await this.#listenerPid(target.port);
    if (pid === null) return { description: 'another process', commandLine: '' };
    return { description: await describeProcess(pid), commandLine: await commandLine(pid) };
  }

  async owner(port: number, leaderPid: number): Promise<PortOwner> {
    if (process.platform !== 'linux') return this.#unknown('/proc is Linux only');
    const listeners = await readListeners(port);
    if (listeners === null) return this.#unknown('/proc/net/tcp cannot be read');
    if (listeners.length === 0) return { kind: 'no-listener' };
    const inodes = new Set(listeners.map((listener) => listener.inode));
    // Usually the child itself listens (llama-server, vLLM's API server): one directory to read.
    if (await holdsSocket(leaderPid, inodes)) return { kind: 'child' };
    const table = await readProcessTable();
    if (table === null) return this.#unknown('/proc cannot be listed');
    const tree = processTree(leaderPid, table);
    if ((await findHolder([...tree].filter((pid) => pid !== leaderPid), inodes)) !== null) return { kind: 'child' };
    const foreign = await findHolder([...table.keys()].filter((pid) => !tree.has(pid)), inodes);
    if (foreign === null) return this.#unknown('the process listening on the port is not visible here (another user, or hidepid)');
    return { kind: 'foreign', holder: { description: await describeProcess(foreign), commandLine: await commandLine(foreign) } };
  }

  async #listenerPid(port: number): Promise<number | null> {
    const listeners = await readListeners(port);
    if (!listeners?.length) return null;
    const table = await readProcessTable();
    if (!table) return null;
    return findHolder(table.keys(), new Set(listeners.map((listener) => listener.inode)));
  }

  #unknown(reason: string): PortOwner {
    const firstTime = !this.#reported.has(reason);
    this.#reported.add(reason);
    return { kind: 'unknown', reason, firstTime };
  }
}

/** Shared by every model of the gateway, so a missing /proc is logged once, not once per start. */
export const procPortGuard: PortGuard = new ProcPortGuard();

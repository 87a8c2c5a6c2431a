/**
 * Every child process the bench starts goes through `startChild`: each runs in its own process
 * group, and `stopAllChildren()` (called at the end, on Ctrl-C and on errors) signals each group
 * by its id, SIGTERM first, SIGKILL after a grace period.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { connect, createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const TSX_IMPORT = import.meta.resolve('tsx');
export const FAKE_UPSTREAM = fileURLToPath(new URL('../../fake-upstream/bin/fake-upstream.ts', import.meta.url));
/** The `siesta` command (runs the compiled build when it is fresh) and its TypeScript entry. */
export const CLI = fileURLToPath(new URL('../../bin/siesta.js', import.meta.url));
export const CLI_SOURCE = fileURLToPath(new URL('../../bin/siesta.ts', import.meta.url));

export interface Child {
  readonly name: string;
  readonly pid: number;
  readonly process: ChildProcess;
  /** performance.now() just before spawn(). */
  readonly spawnedAt: number;
  readonly exited: Promise<void>;
  output(): string;
  /** Resolve with performance.now() when the output matches `pattern`. */
  waitForOutput(pattern: RegExp, timeoutMs: number): Promise<number>;
  stop(graceMs?: number): Promise<void>;
}

const children = new Set<Child>();

export interface StartChildOptions {
  readonly env?: Readonly<Record<string, string>>;
  readonly cwd?: string;
  /** Keep at most this many characters of output (default 64 KiB). */
  readonly keepChars?: number;
}

export function startChild(name: string, command: string, args: readonly string[], options: StartChildOptions = {}): Child {
  const keepChars = options.keepChars ?? 64 * 1024;
  const spawnedAt = performance.now();
  const child = spawn(command, args, {
    cwd: options.cwd ?? REPO_ROOT,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  if (child.pid === undefined) throw new Error(`${name}: spawn ${command} failed`);
  const pid = child.pid;
  let output = '';
  const waiters = new Set<() => void>();
  const onData = (chunk: string): void => {
    output += chunk;
    if (output.length > keepChars) output = output.slice(-keepChars);
    for (const waiter of waiters) waiter();
  };
  child.stdout.setEncoding('utf8').on('data', onData);
  child.stderr.setEncoding('utf8').on('data', onData);
  let done = false;
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => {
      done = true;
      for (const waiter of waiters) waiter();
      resolve();
    });
  });

  const handle: Child = {
    name,
    pid,
    process: child,
    spawnedAt,
    exited,
    output: () => output,
    waitForOutput(pattern, timeoutMs) {
      return new Promise((resolve, reject) => {
        const check = (): void => {
          if (pattern.test(output)) {
            finish();
            resolve(performance.now());
          } else if (done) {
            finish();
            reject(new Error(`${name} exited before printing ${pattern}; output:\n${output.slice(-2000)}`));
          }
        };
        const timer = setTimeout(() => {
          finish();
          reject(new Error(`${name} did not print ${pattern} within ${timeoutMs} ms; output:\n${output.slice(-2000)}`));
        }, timeoutMs);
        const finish = (): void => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      });
    },
    async stop(graceMs = 5000) {
      if (!done) {
        signalGroup(pid, 'SIGTERM');
        const timer = setTimeout(() => signalGroup(pid, 'SIGKILL'), graceMs);
        await exited;
        clearTimeout(timer);
        // The leader is gone; anything left in its group (e.g. a router's model servers) goes too.
        signalGroup(pid, 'SIGKILL');
      }
      children.delete(handle);
    },
  };
  children.add(handle);
  return handle;
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // already gone
  }
}

export async function stopAllChildren(): Promise<void> {
  await Promise.all([...children].map((child) => child.stop(3000)));
}

/** Synchronous last resort for process 'exit': SIGKILL every group still running. */
export function killAllChildrenNow(): void {
  for (const child of children) signalGroup(child.pid, 'SIGKILL');
}

/** Node running a TypeScript entry point through tsx. */
export function nodeTsArgs(entry: string, args: readonly string[]): string[] {
  return ['--import', TSX_IMPORT, entry, ...args];
}

/** A free loopback port (bound and released at once). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Resolve once a TCP connection to the port succeeds (polled every `intervalMs`). */
export async function waitForPort(port: number, timeoutMs: number, intervalMs = 1): Promise<number> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (ok) return performance.now();
    if (performance.now() > deadline) throw new Error(`port ${port} did not open within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

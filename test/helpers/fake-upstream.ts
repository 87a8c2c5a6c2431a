/**
 * Spawn the fake upstream (fake-upstream/bin/fake-upstream.ts) as a real child process, and build
 * `cmd` lines that run it from a siesta config.
 *
 *   const fake = await startFake({ backend: 'vllm', args: ['--enable-sleep-mode'], env: { VLLM_SERVER_DEV_MODE: '1' } });
 *   ...
 *   await fake.stop();            // or stopAllFakes() in afterEach
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { BackendName } from '../../fake-upstream/options.js';
import type { RecordedCall } from '../../fake-upstream/recorder.js';
import { freePort } from './wait.js';

export type { RecordedCall as Call } from '../../fake-upstream/recorder.js';

/** Absolute path of the fake upstream's entry point. */
export const FAKE_UPSTREAM_PATH = fileURLToPath(new URL('../../fake-upstream/bin/fake-upstream.ts', import.meta.url));

/** tsx's loader as an absolute file URL, so the child runs from any working directory. */
export const TSX_IMPORT = import.meta.resolve('tsx');

/** argv (after the node binary) that runs the fake upstream with `args`. */
export function fakeArgv(args: readonly string[]): string[] {
  return ['--import', TSX_IMPORT, FAKE_UPSTREAM_PATH, ...args];
}

const SAFE_WORD = /^[\w@%+=:,./${}-]+$/;

/** Quote one word for a POSIX-shell-like split; `${PORT}`-style macros stay bare so siesta expands them. */
function quoteWord(word: string): string {
  return SAFE_WORD.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`;
}

/**
 * A command line usable as a siesta model `cmd`, e.g.
 * `fakeCommand(['--backend', 'vllm', '--port', '${PORT}'])` →
 * `/usr/bin/node --import file:///…/tsx/dist/loader.mjs /…/fake-upstream/bin/fake-upstream.ts --backend vllm --port ${PORT}`.
 */
export function fakeCommand(args: readonly string[]): string {
  return [process.execPath, ...fakeArgv(args)].map(quoteWord).join(' ');
}

export interface StartFakeOptions {
  readonly backend?: BackendName;
  readonly model?: string;
  /** Further flags, e.g. `['--start-delay', '200ms', '--fail-wake']`. */
  readonly args?: readonly string[];
  /** Extra environment (VLLM_SERVER_DEV_MODE is NOT inherited from the test process; pass it here). */
  readonly env?: Readonly<Record<string, string>>;
  /** Default: a free port. */
  readonly port?: number;
  /** Wait for the "ready" line (default true). */
  readonly waitReady?: boolean;
  readonly readyTimeoutMs?: number;
}

export interface ExitInfo {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export interface FakeHandle {
  readonly port: number;
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  readonly pid: number;
  readonly child: ChildProcess;
  /** Resolves when the process has exited and its output is closed. */
  readonly exited: Promise<ExitInfo>;
  /** Undefined while it runs. */
  exitInfo(): ExitInfo | undefined;
  /** Output so far. */
  stdout(): string;
  stderr(): string;
  /** Resolve once stdout matches `pattern`; reject if the process exits first or the deadline passes. */
  waitForStdout(pattern: RegExp, timeoutMs?: number): Promise<string>;
  /** End the start delay now (SIGUSR2): start with a long `--start-delay`, assert "loading", then call this. */
  finishLoading(): void;
  /** Resolve once the "ready" line was printed. */
  ready(timeoutMs?: number): Promise<void>;
  calls(): Promise<RecordedCall[]>;
  clearCalls(): Promise<void>;
  /** GET /__state. */
  state(): Promise<FakeState>;
  /** SIGTERM, then SIGKILL after `killAfterMs` (default 3000); resolves once it exited. */
  stop(killAfterMs?: number): Promise<ExitInfo>;
}

export interface FakeState {
  backend: BackendName;
  model: string;
  loaded: boolean;
  asleep: boolean;
  level: number | null;
  inFlight: number;
  pid: number;
  active: number;
  served: number;
  weightsAsleep: boolean;
  kvCacheAsleep: boolean;
  weightsStale: boolean;
}

export const READY_LINE = / ready on \S+ \(backend /;

const running = new Set<FakeHandle>();

/** Stop every fake this helper started and has not stopped yet (use in afterEach / after). */
export async function stopAllFakes(): Promise<void> {
  await Promise.all([...running].map((handle) => handle.stop()));
}

async function getJson<T>(url: string, init?: RequestInit): Promise<T> {
  const response = await fetch(url, init);
  if (!response.ok) throw new Error(`${init?.method ?? 'GET'} ${url}: ${response.status}`);
  return (await response.json()) as T;
}

export async function startFake(options: StartFakeOptions = {}): Promise<FakeHandle> {
  const port = options.port ?? (await freePort());
  const args = ['--port', String(port), '--backend', options.backend ?? 'generic'];
  if (options.model !== undefined) args.push('--model', options.model);
  args.push(...(options.args ?? []));
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env['VLLM_SERVER_DEV_MODE'];
  Object.assign(env, options.env);

  const child = spawn(process.execPath, fakeArgv(args), { env, stdio: ['ignore', 'pipe', 'pipe'] });
  if (child.pid === undefined) throw new Error('fake upstream: spawn failed');
  const pid = child.pid;
  let stdout = '';
  let stderr = '';
  let exitInfo: ExitInfo | undefined;
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<ExitInfo>((resolve) => {
    child.once('close', (code, signal) => {
      exitInfo = { code, signal };
      resolve(exitInfo);
    });
  });
  const url = `http://127.0.0.1:${port}`;

  function waitForStdout(pattern: RegExp, timeoutMs = 10_000): Promise<string> {
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        const match = pattern.exec(stdout);
        if (!match) return false;
        cleanup();
        resolve(match[0]);
        return true;
      };
      const onExit = (): void => {
        if (check()) return;
        cleanup();
        reject(new Error(`fake upstream exited (${JSON.stringify(exitInfo)}) before printing ${pattern}; stderr: ${stderr.trim()}`));
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`fake upstream did not print ${pattern} within ${timeoutMs} ms; stdout: ${stdout.trim()}`));
      }, timeoutMs);
      const cleanup = (): void => {
        clearTimeout(timer);
        child.stdout?.off('data', check);
        child.off('close', onExit);
      };
      if (check()) return;
      if (exitInfo) return onExit();
      child.stdout?.on('data', check);
      child.once('close', onExit);
    });
  }

  const handle: FakeHandle = {
    port,
    url,
    pid,
    child,
    exited,
    exitInfo: () => exitInfo,
    stdout: () => stdout,
    stderr: () => stderr,
    waitForStdout,
    finishLoading: () => {
      child.kill('SIGUSR2');
    },
    ready: async (timeoutMs) => {
      await waitForStdout(READY_LINE, timeoutMs);
    },
    calls: async () => (await getJson<{ calls: RecordedCall[] }>(`${url}/__calls`)).calls,
    clearCalls: async () => {
      await getJson(`${url}/__calls`, { method: 'DELETE' });
    },
    state: () => getJson<FakeState>(`${url}/__state`),
    stop: async (killAfterMs = 3000) => {
      if (!exitInfo) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
        await exited;
        clearTimeout(timer);
      }
      running.delete(handle);
      return exited;
    },
  };
  running.add(handle);
  void exited.then(() => running.delete(handle));

  if (options.waitReady !== false) {
    try {
      await handle.ready(options.readyTimeoutMs);
    } catch (error) {
      await handle.stop(500);
      throw error;
    }
  }
  return handle;
}

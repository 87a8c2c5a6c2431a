/**
 * Start siesta as its own process (the `siesta` command) on a config written to a temp dir,
 * and build the `cmd` lines of fake upstreams with absolute paths.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { CLI, CLI_SOURCE, FAKE_UPSTREAM, TSX_IMPORT, freePort, nodeTsArgs, startChild, type Child } from './children.js';
import { targetOf, timedRequest, type Target } from './http.js';

const SAFE_WORD = /^[\w@%+=:,./${}-]+$/;
const quoteWord = (word: string): string => (SAFE_WORD.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`);

/** A command line (for a siesta `cmd`) running the fake upstream with `args`. */
export function fakeCommand(args: readonly string[]): string {
  return [process.execPath, '--import', TSX_IMPORT, FAKE_UPSTREAM, ...args].map(quoteWord).join(' ');
}

/** The same command as argv for spawning it directly (control runs and direct upstreams). */
export function fakeArgv(args: readonly string[]): { command: string; args: string[] } {
  return { command: process.execPath, args: nodeTsArgs(FAKE_UPSTREAM, args) };
}

export interface RunningGateway {
  readonly child: Child;
  readonly pid: number;
  readonly url: string;
  readonly target: Target;
  readonly dir: string;
  stop(): Promise<void>;
}

export interface GatewayStartOptions {
  readonly env?: Readonly<Record<string, string>>;
  readonly startTimeoutMs?: number;
  /**
   * How to run siesta: `cli` (default) is the `siesta` command as users run it (bin/siesta.js, which
   * runs the compiled build; the bench builds it first when the sources are newer); `tsx` runs the
   * TypeScript entry through the tsx loader, as before any build.
   */
  readonly mode?: 'cli' | 'tsx';
}

/** Write `config` (a plain object, as YAML) and start the gateway on a free port. */
export async function startGateway(name: string, config: Readonly<Record<string, unknown>>, options: GatewayStartOptions = {}): Promise<RunningGateway> {
  const dir = mkdtempSync(join(tmpdir(), `siesta-bench-${name}-`));
  const configPath = join(dir, 'config.yaml');
  writeFileSync(configPath, stringify({ logLevel: 'warn', stateDir: join(dir, 'state'), ...config }));
  const port = await freePort();
  const listen = `127.0.0.1:${port}`;
  const cliArgs = ['--config', configPath, '--listen', listen];
  // SIESTA_BENCH_CPU_PROF=DIR: the gateway writes a V8 CPU profile (.cpuprofile) to DIR when it stops.
  const profileDir = process.env['SIESTA_BENCH_CPU_PROF'];
  const nodeFlags = profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [];
  const args = [...nodeFlags, ...(options.mode === 'tsx' ? nodeTsArgs(CLI_SOURCE, cliArgs) : [CLI, ...cliArgs])];
  const child = startChild(`gateway(${name})`, process.execPath, args, { ...(options.env ? { env: options.env } : {}) });
  try {
    await child.waitForOutput(/siesta: serving \d+ models on /, options.startTimeoutMs ?? 30_000);
  } catch (error) {
    await child.stop(2000);
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  const url = `http://127.0.0.1:${port}`;
  return {
    child,
    pid: child.pid,
    url,
    target: targetOf(url),
    dir,
    async stop() {
      await child.stop(15_000);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Start a fake upstream directly (not through siesta); resolves once its port answers /health 200. */
export async function startDirectFake(name: string, args: readonly string[], env: Readonly<Record<string, string>> = {}): Promise<{ child: Child; port: number; target: Target }> {
  const port = await freePort();
  const { command, args: argv } = fakeArgv(['--port', String(port), ...args]);
  const child = startChild(name, command, argv, { env, keepChars: 4096 });
  const target: Target = { host: '127.0.0.1', port };
  await waitHealthy(target, '/health', 30_000, 2, child);
  return { child, port, target };
}

/** Poll GET `path` until it answers 200; resolves with performance.now() of that answer. */
export async function waitHealthy(target: Target, path: string, timeoutMs: number, intervalMs: number, child?: Child): Promise<number> {
  const deadline = performance.now() + timeoutMs;
  let exited = false;
  void child?.exited.then(() => (exited = true));
  for (;;) {
    try {
      const response = await timedRequest(target, { path, agent: false, timeoutMs: 2000 });
      if (response.status === 200) return response.endedAt;
    } catch {
      // connection refused while loading
    }
    if (exited) throw new Error(`${child?.name ?? 'server'} exited before ${path} answered 200:\n${child?.output().slice(-2000) ?? ''}`);
    if (performance.now() > deadline) throw new Error(`${path} on port ${target.port} not 200 within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

export { freePort };

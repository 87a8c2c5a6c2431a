/**
 * In-memory stand-ins for the effects a ModelProcess is given (spawner, HTTP client, port guard), so
 * the state machine and the idle ladder can be driven with a FakeClock: no processes, no sockets
 * (a real port check would connect to the model's port, e.g. 5800, where a demo may be running).
 * Integration tests use the real fake upstream instead.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { Server, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { expect } from 'chai';
import { FakeClock } from '../../../lib/clock.js';
import { loadConfigText } from '../../../lib/config/index.js';
import { ModelManager } from '../../../lib/gateway/model-manager.js';
import { BUILTIN_PLUGINS, PluginRegistry } from '../../../lib/plugins/registry.js';
import type { HttpClient, HttpRequest, HttpResult } from '../../../lib/process/http.js';
import type { LocalTarget, PortGuard, PortHolder, PortOwner } from '../../../lib/process/port-check.js';
import type { ChildHandle, Spawner } from '../../../lib/process/spawner.js';
import type { StateChange } from '../../../lib/process/states.js';
import type { ModelProcess } from '../../../lib/process/model-process.js';

interface FakeChild extends ChildHandle {
  readonly stdout: PassThrough;
  readonly stderr: PassThrough;
  exit(code: number | null, signal: NodeJS.Signals | null): void;
  readonly alive: boolean;
}

export class FakeSpawner implements Spawner {
  readonly spawned: { argv: readonly string[]; env: Readonly<Record<string, string>>; child: FakeChild }[] = [];
  readonly signals: { pid: number; signal: NodeJS.Signals | 0 }[] = [];
  readonly runs: (readonly string[])[] = [];
  #nextPid = 4000;

  get last(): FakeChild {
    const last = this.spawned.at(-1);
    if (!last) throw new Error('nothing spawned');
    return last.child;
  }

  spawn(argv: readonly string[], env: Readonly<Record<string, string>>): Promise<ChildHandle> {
    let resolveExit!: (value: { code: number | null; signal: NodeJS.Signals | null }) => void;
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => (resolveExit = resolve));
    let alive = true;
    const child: FakeChild = {
      pid: this.#nextPid++,
      stdout: new PassThrough(),
      stderr: new PassThrough(),
      exited,
      exit(code, signal) {
        if (!alive) return;
        alive = false;
        this.stdout.end();
        this.stderr.end();
        resolveExit({ code, signal });
      },
      get alive() {
        return alive;
      },
    };
    this.spawned.push({ argv, env, child });
    return Promise.resolve(child);
  }

  signalGroup(pid: number, signal: NodeJS.Signals | 0): boolean {
    this.signals.push({ pid, signal });
    const entry = this.spawned.find((candidate) => candidate.child.pid === pid);
    if (!entry?.child.alive) return false;
    if (signal === 'SIGTERM' || signal === 'SIGKILL') entry.child.exit(null, signal);
    return true;
  }

  run(argv: readonly string[]): Promise<number | null> {
    this.runs.push(argv);
    return Promise.resolve(0);
  }
}

/**
 * Answers like a well-behaved backend: `/health` 200, any `/sleep…` or `/release…` puts it to sleep,
 * any `/wake_up…` or `/resume…` wakes it, `/is_sleeping` tells. `override` changes single answers.
 */
export class FakeHttp implements HttpClient {
  readonly calls: { method: string; path: string; body?: string }[] = [];
  asleep = false;
  /** Serve under this path prefix (a model whose proxy URL has a path): requests outside it get 404. */
  basePath = '';
  override: (method: string, path: string) => number | Error | undefined = () => undefined;

  request(request: HttpRequest): Promise<HttpResult> {
    const method = request.method ?? 'GET';
    const full = new URL(request.url).pathname + new URL(request.url).search;
    const path = full.startsWith(`${this.basePath}/`) ? full.slice(this.basePath.length) : null;
    const body = request.body ?? (request.json === undefined ? undefined : JSON.stringify(request.json));
    this.calls.push({ method, path: full, ...(body === undefined ? {} : { body }) });
    if (path === null) return Promise.resolve({ status: 404, body: '' });
    const overridden = this.override(method, path);
    if (overridden instanceof Error) return Promise.reject(overridden);
    if (overridden !== undefined) return Promise.resolve({ status: overridden, body: '' });
    if (path === '/is_sleeping') return Promise.resolve({ status: 200, body: JSON.stringify({ is_sleeping: this.asleep }) });
    if (path === '/v1/models') return Promise.resolve({ status: 200, body: JSON.stringify({ data: [{ id: 'served' }] }) });
    if (path.startsWith('/sleep') || path.startsWith('/release')) this.asleep = true;
    if (path.startsWith('/wake_up') || path.startsWith('/resume')) this.asleep = false;
    return Promise.resolve({ status: 200, body: '' });
  }

  /** The calls other than readiness probes, as `METHOD path`. */
  lifecycle(): string[] {
    return this.calls.filter((call) => call.path !== `${this.basePath}/health`).map((call) => `${call.method} ${call.path}`);
  }
}

/** Answers the port checks as told: the port is free and the child owns its listener unless a test says otherwise. */
export class FakePortGuard implements PortGuard {
  readonly calls: string[] = [];
  holderIs: PortHolder | null = null;
  ownerIs: PortOwner = { kind: 'child' };

  holder(target: LocalTarget): Promise<PortHolder | null> {
    this.calls.push(`holder ${target.host}:${target.port}`);
    return Promise.resolve(this.holderIs);
  }

  owner(port: number, leaderPid: number): Promise<PortOwner> {
    this.calls.push(`owner ${port} pid ${leaderPid}`);
    return Promise.resolve(this.ownerIs);
  }
}

/** Record every state change of a model, as `from→to`. */
export function recordStates(model: ModelProcess): { readonly changes: StateChange[]; readonly path: () => string[] } {
  const changes: StateChange[] = [];
  model.on('state', (change) => changes.push(change));
  return { changes, path: () => changes.map((change) => `${change.from}→${change.to}`) };
}

/**
 * Drive `clock` until `promise` settles: let pending callbacks run, then move time `stepMs` on, so
 * code that waits on the clock (poll back-off, deadlines) runs through without real waiting.
 */
export async function runClock<T>(clock: FakeClock, promise: Promise<T>, stepMs = 1, maxSteps = 100_000): Promise<T> {
  let settled = false;
  const mark = (): void => {
    settled = true;
  };
  promise.then(mark, mark);
  for (let step = 0; !settled; step++) {
    if (step >= maxSteps) throw new Error(`runClock: not settled after ${maxSteps} steps of ${stepMs} ms`);
    await new Promise((resolve) => setImmediate(resolve));
    if (!settled) clock.advance(stepMs);
  }
  return promise;
}

/**
 * Within the calling `describe`: any attempt to connect a socket or listen on a port fails the test
 * (unit tests of the process layer run while a demo may listen on the models' ports, e.g. 5800).
 */
export function forbidSockets(): void {
  const saved = [Object.getOwnPropertyDescriptor(Socket.prototype, 'connect')!, Object.getOwnPropertyDescriptor(Server.prototype, 'listen')!] as const;
  let attempts: string[] = [];
  const refuse = (what: string) => (...args: unknown[]): never => {
    attempts.push(`${what} ${JSON.stringify(args[0])}`);
    throw new Error(`a unit test of the process layer tried to ${what}`);
  };
  beforeEach(function () {
    attempts = [];
    Object.defineProperty(Socket.prototype, 'connect', { ...saved[0], value: refuse('connect') });
    Object.defineProperty(Server.prototype, 'listen', { ...saved[1], value: refuse('listen') });
  });
  afterEach(function () {
    Object.defineProperty(Socket.prototype, 'connect', saved[0]);
    Object.defineProperty(Server.prototype, 'listen', saved[1]);
    expect(attempts, 'sockets opened').to.deep.equal([]);
  });
}

/** A model manager on `yaml` with every double in memory (fake clock, spawner, HTTP, port guard) and its own state dir. */
export interface InMemoryManager {
  readonly manager: ModelManager;
  readonly clock: FakeClock;
  readonly spawner: FakeSpawner;
  readonly http: FakeHttp;
  readonly portGuard: FakePortGuard;
  /** Close the manager and remove its state dir. */
  readonly dispose: () => Promise<void>;
}

export function createInMemoryManager(yaml: string): InMemoryManager {
  const stateDir = mkdtempSync(join(tmpdir(), 'siesta-manager-'));
  const clock = new FakeClock();
  const spawner = new FakeSpawner();
  const http = new FakeHttp();
  const portGuard = new FakePortGuard();
  const { config } = loadConfigText(yaml);
  const manager = new ModelManager({ config: { ...config, stateDir }, plugins: new PluginRegistry(BUILTIN_PLUGINS), clock, spawner, http, portGuard });
  return {
    manager,
    clock,
    spawner,
    http,
    portGuard,
    dispose: async () => {
      await manager.close();
      rmSync(stateDir, { recursive: true, force: true });
    },
  };
}

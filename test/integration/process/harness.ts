/**
 * Shared set-up for the lifecycle integration tests: ModelProcess objects around real fake-upstream
 * children, their recorded calls, and the clean-up every test needs (shut every model down, then
 * assert no child process is left).
 */
import { expect } from 'chai';
import type { Clock } from '../../../lib/clock.js';
import type { ModelConfig } from '../../../lib/config/types.js';
import type { BackendName } from '../../../fake-upstream/options.js';
import type { RecordedCall } from '../../../fake-upstream/recorder.js';
import type { BackendPlugin } from '../../../lib/plugins/types.js';
import { ModelProcess } from '../../../lib/process/model-process.js';
import { canTransition, type ModelState, type StateChange } from '../../../lib/process/states.js';
import { fakeArgv, stopAllFakes } from '../../helpers/fake-upstream.js';
import { makeModel } from '../../helpers/model-config.js';
import { readFileSync } from 'node:fs';
import { childPids, freePort, pollUntil } from '../../helpers/wait.js';

export const TIMEOUTS = { sleepTimeoutMs: 5000, wakeTimeoutMs: 5000 } as const;

/** argv that runs the fake upstream as `backend` on `port`, with `flags`. */
export function fakeCmd(backend: BackendName, port: number, flags: readonly string[] = []): string[] {
  return [process.execPath, ...fakeArgv(['--port', String(port), '--backend', backend, ...flags])];
}

/** A model whose `cmd` runs the fake upstream on a free port. */
export async function fakeModel(
  backend: BackendName,
  flags: readonly string[] = [],
  overrides: Partial<ModelConfig> = {},
): Promise<ModelConfig> {
  const port = await freePort();
  const id = overrides.id ?? `${backend}-model`;
  return makeModel({ id, cmd: fakeCmd(backend, port, ['--model', id, ...flags]), port, backend, ...overrides });
}

export interface Tracked {
  readonly process: ModelProcess;
  readonly changes: StateChange[];
  /** The changes as `from→to`. */
  path(): string[];
}

const created: ModelProcess[] = [];

export function createProcess(
  model: ModelConfig,
  plugin: BackendPlugin,
  options: { clock?: Clock; stateDir?: string; statusPollMs?: number } = {},
): Tracked {
  const owner = new ModelProcess({ model, plugin, timeouts: TIMEOUTS, ...options });
  created.push(owner);
  const changes: StateChange[] = [];
  owner.on('state', (change) => changes.push(change));
  return { process: owner, changes, path: () => changes.map((change) => `${change.from}→${change.to}`) };
}

/** Shut down every model created by the test, check its events were all allowed, then check no child is left. */
export async function cleanUp(): Promise<void> {
  const models = created.splice(0);
  await Promise.all(models.map((model) => model.shutdown()));
  await stopAllFakes();
  await assertNoServerChildren();
  for (const model of models) expect(model.state, model.id).to.equal('shutdown');
}

/** Assert a recorded sequence of changes is a legal walk through the transition table. */
export function expectLegalWalk(changes: readonly StateChange[]): void {
  let previous: ModelState = 'stopped';
  for (const change of changes) {
    expect(change.from).to.equal(previous);
    expect(canTransition(change.from, change.to), `${change.from}→${change.to}`).to.equal(true);
    expect(change.durationMs).to.be.at.least(0);
    previous = change.to;
  }
}

export async function calls(model: ModelConfig): Promise<RecordedCall[]> {
  const response = await fetch(`${model.proxy}/__calls`);
  return ((await response.json()) as { calls: RecordedCall[] }).calls;
}

export async function clearCalls(model: ModelConfig): Promise<void> {
  await fetch(`${model.proxy}/__calls`, { method: 'DELETE' });
}

/** A call as `METHOD /path?query` (body appended after a space when there is one). */
export function describeCall(call: RecordedCall): string {
  return `${call.method} ${call.path}${call.query ? `?${call.query}` : ''}${call.body ? ` ${call.body}` : ''}`;
}

/** The recorded calls, described; generation requests keep only their route. */
export async function callLines(model: ModelConfig): Promise<string[]> {
  return (await calls(model)).map((call) => (call.kind === 'generate' ? `${call.method} ${call.path} (generate)` : describeCall(call)));
}

/** One small completion through the model's proxy URL; resolves with the HTTP status. */
export async function complete(model: ModelConfig, prompt = 'hello'): Promise<number> {
  const response = await fetch(`${model.proxy}/v1/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: model.id, prompt, max_tokens: 2 }),
  });
  await response.arrayBuffer();
  return response.status;
}

/** Acquire, send one completion, release. */
export async function serveOne(tracked: Tracked, model: ModelConfig): Promise<void> {
  const { lease } = await tracked.process.acquire();
  try {
    expect(await complete(model)).to.equal(200);
  } finally {
    lease.release();
  }
}

export function waitForState(tracked: Tracked, state: ModelState, timeoutMs = 5000): Promise<boolean> {
  return pollUntil(() => tracked.process.state === state, { timeoutMs, what: `${tracked.process.id} to be ${state} (is ${tracked.process.state})` });
}

/**
 * `assertNoChildren` (test/helpers/wait.ts) minus esbuild's transform service: under `--import=tsx`
 * tsx starts `esbuild --service` as a child of the mocha process and it lives as long as mocha, so
 * the plain check can never pass. Every other child (model servers, cmdStop) must be gone.
 */
export async function assertNoServerChildren(timeoutMs = 5000): Promise<void> {
  const left = (): number[] => childPids().filter((pid) => !/\/esbuild(\.exe)? --service=/.test(commandLine(pid)));
  try {
    await pollUntil(() => left().length === 0, { timeoutMs, what: 'child processes to exit' });
  } catch {
    throw new Error(`child processes left behind: ${left().map((pid) => `${pid}: ${commandLine(pid)}`).join('; ')}`);
  }
}

function commandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ').trim();
  } catch {
    return '';
  }
}

/**
 * The `siesta` command as a child process for the CLI tests: start it with llama-swap's flags,
 * wait for what it prints, read what it runs, stop it and check that nothing it started is left.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import { childPids, isAlive, pollUntil } from '../../helpers/wait.js';

export const ROOT = join(import.meta.dirname, '../../..');
export const CERT_FILE = join(ROOT, 'test/fixtures/tls/localhost-cert.pem');
export const KEY_FILE = join(ROOT, 'test/fixtures/tls/localhost-key.pem');

export interface Cli {
  readonly child: ChildProcess;
  /** Everything printed so far (stdout and stderr). */
  output(): string;
  /** Wait until the output contains `text` `count` times. */
  waitFor(text: string, options?: { timeoutMs?: number; count?: number }): Promise<void>;
}

const started = new Set<ChildProcess>();

export function startCli(args: readonly string[], env: Record<string, string> = {}): Cli {
  const child = spawn(process.execPath, [join(ROOT, 'bin/siesta.js'), ...args], {
    cwd: ROOT,
    env: { ...process.env, NODE_OPTIONS: '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  started.add(child);
  let output = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  return {
    child,
    output: () => output,
    async waitFor(text, options = {}) {
      const count = options.count ?? 1;
      await pollUntil(() => output.split(text).length - 1 >= count || child.exitCode !== null, { timeoutMs: options.timeoutMs ?? 20_000, what: `"${text}" in the output:\n${output}` });
      expect(output.split(text).length - 1, `"${text}" ×${count} before siesta exited (code ${child.exitCode}); output:\n${output}`).to.be.at.least(count);
    },
  };
}

/** Run the command to its end (check, usage errors). */
export async function runCli(args: readonly string[]): Promise<{ code: number | null; output: string }> {
  const cli = startCli(args);
  const [code] = (await once(cli.child, 'exit')) as [number | null];
  started.delete(cli.child);
  return { code, output: cli.output() };
}

/** Every process below `pid` (children, their children, ...). */
export function descendants(pid: number): number[] {
  const found: number[] = [];
  for (const child of childPids(pid)) found.push(child, ...descendants(child));
  return found;
}

/** SIGTERM, wait for the exit, then check that no process it had started is still alive. */
export async function stopCli(cli: Cli): Promise<number | null> {
  const below = descendants(cli.child.pid!);
  const exited = once(cli.child, 'exit') as Promise<[number | null]>;
  cli.child.kill('SIGTERM');
  const [code] = await exited;
  started.delete(cli.child);
  await pollUntil(() => below.every((pid) => !isAlive(pid)), { timeoutMs: 5000, what: `the processes siesta started (${below.join(', ')}) to end` });
  return code;
}

/** afterEach: kill whatever a failed test left running. */
export async function killStarted(): Promise<void> {
  await Promise.all(
    [...started].map(async (child) => {
      if (child.exitCode === null && child.signalCode === null) {
        const below = descendants(child.pid!);
        const exited = once(child, 'exit');
        child.kill('SIGKILL');
        await exited;
        for (const pid of below) if (isAlive(pid)) process.kill(pid, 'SIGKILL');
      }
    }),
  );
  started.clear();
}

/** `/running`: model → pid. */
export async function runningPids(url: string): Promise<Record<string, number>> {
  const body = (await (await fetch(`${url}/running`)).json()) as { running: { model: string; pid: number }[] };
  return Object.fromEntries(body.running.map((entry) => [entry.model, entry.pid]));
}

/** A chat completion through the gateway; returns the completion token count the fake upstream was told to produce. */
export async function completionTokens(url: string, model: string): Promise<number> {
  const response = await fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }] }),
  });
  const body = (await response.json()) as { usage?: { completion_tokens: number } };
  expect(response.status, JSON.stringify(body)).to.equal(200);
  return body.usage!.completion_tokens;
}

/**
 * Local addresses with a socket listening on `port`, from /proc/net/tcp and tcp6: `0.0.0.0` or `::`
 * for every interface. Linux only, as the rest of the process tests.
 */
export function listeningAddresses(port: number): string[] {
  const found: string[] = [];
  for (const [file, width] of [['/proc/net/tcp', 8], ['/proc/net/tcp6', 32]] as const) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      const [addressHex, portHex] = (fields[1] ?? '').split(':');
      if (fields[3] !== '0A' || portHex === undefined || parseInt(portHex, 16) !== port || addressHex?.length !== width) continue;
      if (/^0+$/.test(addressHex)) found.push(width === 8 ? '0.0.0.0' : '::');
      else found.push(width === 8 ? addressHex.match(/../g)!.reverse().map((byte) => parseInt(byte, 16)).join('.') : addressHex);
    }
  }
  return found;
}

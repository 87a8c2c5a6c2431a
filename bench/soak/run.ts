/**
 * The soak: `npm run soak -- [--requests N] [--concurrency C] [--seed S] [--max-seconds T] ...`.
 *
 * Runs the `siesta` command (bin/siesta.js) on a swap group of three fake-upstream models (two
 * vLLM-style with sleep mode, one generic that can only stop), sends a seeded plan of chat requests
 * (streaming or not, some abandoned by the client) with admin actions (sleep, wake, unload, load
 * through /api) interleaved, then stops the gateway with SIGTERM and looks for processes left.
 *
 * Exit status 1 on any lost, hung, truncated, wrong-model or malformed answer, a 500 `internal`,
 * a model server left after the gateway stopped, or a gateway that would not stop; the rules are
 * in outcome.ts. Well-formed error answers (409 for an admin action the model's state does not
 * allow at that moment, 502/503 for requests caught by an admin unload, ...) are correct answers
 * to a race: they are listed by status and code, not failures. 2 on a usage error.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Agent } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { CLI, freePort, startChild, type Child } from '../lib/children.js';
import { fakeCommand } from '../lib/gateway.js';
import { SOAK_USAGE, SoakArgsError, parseSoakArgs, type SoakArgs } from './args.js';
import { send } from './client.js';
import { classify } from './outcome.js';
import { makePlan, type Op } from './plan.js';
import { lifecycleOf, processesWith, rssMiB, type Lifecycle } from './system.js';
import { count, describeOp, emptyTally, type Tally } from './tally.js';
import { freeStartPort } from './ports.js';

const MODELS = ['a', 'b', 'c'] as const;

function log(message: string): void {
  process.stderr.write(`soak: ${message}\n`);
}

/** The gateway's configuration: one swap group; `served(id)` is the name the model's server runs as. */
function soakConfig(dir: string, startPort: number, served: (id: string) => string): Record<string, unknown> {
  const vllm = (id: string): string[] => ['--port', '${PORT}', '--backend', 'vllm', '--enable-sleep-mode', '--model', served(id), '--start-delay', '150ms', '--sleep-delay', '20ms', '--wake-delay', '50ms', '--token-interval', '2ms'];
  const generic = (id: string): string[] => ['--port', '${PORT}', '--backend', 'generic', '--model', served(id), '--start-delay', '50ms', '--token-interval', '2ms'];
  return {
    logLevel: 'warn',
    healthCheckTimeout: 15,
    sleepRequestTimeout: 5,
    wakeRequestTimeout: 5,
    unloadTimeout: 5,
    startPort,
    stateDir: join(dir, 'state'),
    pluginDir: join(dir, 'plugins'),
    groups: { soak: { swap: true, exclusive: true, members: [...MODELS] } },
    models: {
      // a streams loading progress lines while it starts or wakes; b does not; c cannot sleep (swaps stop it).
      a: { backend: 'vllm', cmd: fakeCommand(vllm('a')), sendLoadingState: true },
      b: { backend: 'vllm', cmd: fakeCommand(vllm('b')), sendLoadingState: false },
      c: { backend: 'generic', cmd: fakeCommand(generic('c')), sendLoadingState: true },
    },
  };
}

interface RunResult {
  readonly tally: Tally;
  readonly notSent: number;
  readonly seconds: number;
}

/** Run the plan with `concurrency` workers; nothing new starts after the deadline. */
async function runPlan(plan: readonly Op[], args: SoakArgs, port: number, served: (id: string) => string): Promise<RunResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: args.concurrency });
  const target = { host: '127.0.0.1', port, agent, hangMs: args.hangSeconds * 1000 };
  const tally = emptyTally();
  const startedAt = performance.now();
  const deadline = startedAt + args.maxSeconds * 1000;
  let next = 0;
  let reported = 0;
  const worker = async (): Promise<void> => {
    while (next < plan.length && performance.now() < deadline) {
      const op = plan[next++]!;
      const observed = await send(target, op);
      count(tally, op, classify(observed, served));
      if (tally.sent >= reported + Math.max(1, Math.ceil(plan.length / 10))) {
        reported = tally.sent;
        log(`${tally.sent}/${plan.length} done in ${((performance.now() - startedAt) / 1000).toFixed(1)} s, ${tally.failureCount} failures`);
      }
    }
  };
  await Promise.all(Array.from({ length: args.concurrency }, worker));
  agent.destroy();
  return { tally, notSent: plan.length - tally.sent, seconds: (performance.now() - startedAt) / 1000 };
}

async function fetchText(url: string): Promise<string> {
  const response = await fetch(url, { signal: AbortSignal.timeout(5000) });
  return response.text();
}

/** SIGTERM to the gateway alone (not its group: what it leaves behind is what we measure). */
async function stopGateway(gateway: Child, graceMs: number): Promise<{ exited: boolean; ms: number }> {
  const startedAt = performance.now();
  gateway.process.kill('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const exited = await Promise.race([gateway.exited.then(() => true), new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), graceMs)))]);
  clearTimeout(timer);
  if (!exited) await gateway.stop(1000);
  return { exited, ms: performance.now() - startedAt };
}

/** Model servers of this run still alive `graceMs` after the gateway exited; killed here, and returned. */
async function reapOrphans(marker: string, graceMs: number): Promise<{ pid: number; cmdline: string }[]> {
  const until = performance.now() + graceMs;
  let left = processesWith(marker);
  while (left.length > 0 && performance.now() < until) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    left = processesWith(marker);
  }
  for (const { pid } of left) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
  return left;
}

function report(args: SoakArgs, run: RunResult, lifecycle: Lifecycle | null, rss: { before: number; after: number }, stop: { exited: boolean; ms: number }, orphans: readonly { pid: number; cmdline: string }[]): string[] {
  const { tally } = run;
  const lines: string[] = [];
  const k = tally.byKind;
  lines.push(`seed ${args.seed}, concurrency ${args.concurrency}, ${run.seconds.toFixed(1)} s`);
  lines.push(`sent            ${tally.sent} (${tally.chats} chat: ${tally.streams} streaming, ${tally.chats - tally.streams} plain; ${tally.admin} admin actions)${run.notSent > 0 ? `; ${run.notSent} not sent (--max-seconds ${args.maxSeconds})` : ''}`);
  lines.push(`answered ok     ${k.ok}`);
  lines.push(`cancelled       ${k.cancelled} (abandoned by the client as planned)`);
  lines.push(`lost            ${k.lost}`);
  lines.push(`hung            ${k.hung} (no complete answer within ${args.hangSeconds} s)`);
  lines.push(`truncated       ${k.truncated} (a stream without [DONE] or an error chunk, a cut body)`);
  lines.push(`wrong model     ${k['wrong-model']}`);
  lines.push(`malformed       ${k.malformed}`);
  lines.push(`non-2xx / error chunks by cause: ${tally.refused.size === 0 ? 'none' : ''}`);
  for (const [cause, n] of [...tally.refused].sort((x, y) => y[1] - x[1])) lines.push(`  ${String(n).padStart(6)}  ${cause}`);
  if (lifecycle) {
    lines.push(`model switches  ${lifecycle.wakes + lifecycle.coldStarts} (wakes ${lifecycle.wakes} + cold starts ${lifecycle.coldStarts}); sleeps ${lifecycle.sleeps}; stops ${lifecycle.stops}; fallbacks: sleep→stop ${lifecycle.sleepFallbacks}, wake→restart ${lifecycle.wakeFallbacks}`);
  } else lines.push('model switches  unknown (/metrics did not answer)');
  lines.push(`gateway RSS     ${rss.before.toFixed(1)} MiB before, ${rss.after.toFixed(1)} MiB after (${(rss.after - rss.before >= 0 ? '+' : '')}${(rss.after - rss.before).toFixed(1)} MiB)`);
  lines.push(`gateway stop    ${stop.exited ? `exited ${(stop.ms / 1000).toFixed(1)} s after SIGTERM` : 'DID NOT EXIT after SIGTERM (killed)'}`);
  lines.push(`orphans         ${orphans.length}${orphans.map((o) => `\n  pid ${o.pid}: ${o.cmdline.slice(0, 200)}`).join('')}`);
  if (tally.failures.length > 0) {
    lines.push('failures (first 5 of each kind):');
    for (const { op, outcome } of tally.failures) lines.push(`  ${outcome.kind}: ${describeOp(op)}: ${outcome.kind === 'refused' ? `${outcome.status} ${outcome.code}` : 'detail' in outcome ? outcome.detail : ''}`);
  }
  return lines;
}

async function main(): Promise<number> {
  let args: SoakArgs;
  try {
    const parsed = parseSoakArgs(process.argv.slice(2));
    if (parsed === 'help') {
      process.stdout.write(`${SOAK_USAGE}\n`);
      return 0;
    }
    args = parsed;
  } catch (error) {
    if (!(error instanceof SoakArgsError)) throw error;
    process.stderr.write(`soak: ${error.message}\n${SOAK_USAGE}\n`);
    return 2;
  }
  const tag = `soak-${process.pid}-${Date.now() % 1_000_000}`;
  const served = (id: string): string => `${tag}-${id}`;
  const dir = mkdtempSync(join(tmpdir(), 'siesta-soak-'));
  mkdirSync(join(dir, 'plugins'));
  const configPath = join(dir, 'config.yaml');
  writeFileSync(configPath, stringify(soakConfig(dir, await freeStartPort(MODELS.length), served)));
  const port = await freePort();
  const gateway = startChild('siesta', process.execPath, [CLI, '--config', configPath, '--listen', `127.0.0.1:${port}`]);
  const hardStop = setTimeout(() => {
    log(`did not end within ${args.maxSeconds + args.hangSeconds + 60} s: killing everything`);
    killEverything(gateway, tag);
    process.exit(1);
  }, (args.maxSeconds + args.hangSeconds + 60) * 1000);
  process.once('SIGINT', () => {
    log('interrupted: killing the gateway and its model servers');
    killEverything(gateway, tag);
    process.exit(130);
  });
  try {
    await gateway.waitForOutput(/siesta: serving \d+ models on /, 30_000);
    const rssBefore = rssMiB(gateway.pid);
    const plan = makePlan({ seed: args.seed, count: args.requests, models: MODELS, adminRate: args.adminRate, cancelRate: args.cancelRate });
    log(`gateway pid ${gateway.pid} on 127.0.0.1:${port}; ${plan.length} operations, concurrency ${args.concurrency}, seed ${args.seed}`);
    const run = await runPlan(plan, args, port, served);
    const lifecycle = await fetchText(`http://127.0.0.1:${port}/metrics`).then(lifecycleOf, () => null);
    const rssAfter = rssMiB(gateway.pid);
    const stop = await stopGateway(gateway, 20_000);
    const orphans = await reapOrphans(tag, 2000);
    const lines = report(args, run, lifecycle, { before: rssBefore, after: rssAfter }, stop, orphans);
    const failures = [
      run.tally.failureCount > 0 ? `${run.tally.failureCount} failed operations` : '',
      stop.exited ? '' : 'the gateway did not exit after SIGTERM',
      orphans.length > 0 ? `${orphans.length} model servers left after the gateway stopped` : '',
      run.tally.sent === 0 ? 'nothing was sent' : '',
    ].filter(Boolean);
    process.stdout.write(`${lines.join('\n')}\n`);
    if (failures.length > 0) {
      process.stdout.write(`gateway output (last 3000 characters):\n${gateway.output().slice(-3000)}\n`);
      process.stdout.write(`soak: FAIL: ${failures.join('; ')}\n`);
      return 1;
    }
    process.stdout.write('soak: PASS\n');
    return 0;
  } catch (error) {
    process.stdout.write(`soak: FAIL: ${error instanceof Error ? error.message : String(error)}\n`);
    killEverything(gateway, tag);
    return 1;
  } finally {
    clearTimeout(hardStop);
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Last resort: the gateway's group and every process of this run. */
function killEverything(gateway: Child, tag: string): void {
  try {
    process.kill(-gateway.pid, 'SIGKILL');
  } catch {
    // gone
  }
  for (const { pid } of processesWith(tag)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
}

process.exitCode = await main();
// Whatever still holds the event loop (a socket the gateway never closed) must not keep the soak running.
setTimeout(() => process.exit(), 5000).unref();

/**
 * siesta benchmarks: `npm run bench` (full, ~5 min) or `npm run bench -- --quick`.
 * `--only proxy,streaming,swap,llama,slots,memory,upload` runs a subset.
 *
 * Prints a markdown table (metric, direct or peer, siesta, target, result) and writes every raw
 * figure to bench/results/latest.json. Every child process started here is stopped at the end,
 * also on Ctrl-C and on errors.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import { compiledIsFresh } from '../bin/build-freshness.js';
import { killAllChildrenNow, stopAllChildren } from './lib/children.js';
import { findLlamaTier } from './lib/llama-tier.js';
import { markdownTable, type Row, type SectionResult } from './lib/report.js';
import { runLlamaBench } from './scenarios/llama.js';
import { runMemoryBench } from './scenarios/memory.js';
import { runProxyBench } from './scenarios/proxy.js';
import { runSlotsBench } from './scenarios/slots.js';
import { runStreamingBench } from './scenarios/streaming.js';
import { runSwapBench } from './scenarios/swap.js';
import { runUploadBench } from './scenarios/upload.js';

const REPO_URL = new URL('../', import.meta.url);
const SECTIONS = ['proxy', 'streaming', 'swap', 'llama', 'slots', 'memory', 'upload'] as const;
type Section = (typeof SECTIONS)[number];

function parseArgs(argv: readonly string[]): { quick: boolean; only: Set<Section>; llamaWaitMs: number } {
  let quick = false;
  let only = new Set<Section>(SECTIONS);
  let llamaWaitMs = 0;
  for (let index = 0; index < argv.length; index += 1) {
    const arg = argv[index];
    if (arg === '--quick') quick = true;
    else if (arg === '--only') {
      const names = (argv[++index] ?? '').split(',').filter(Boolean);
      const unknown = names.filter((name) => !(SECTIONS as readonly string[]).includes(name));
      if (unknown.length > 0) throw new Error(`--only: unknown section(s) ${unknown.join(', ')} (known: ${SECTIONS.join(', ')})`);
      only = new Set(names as Section[]);
    } else if (arg === '--wait-llama') llamaWaitMs = Number(argv[++index] ?? '0') * 1000;
    else if (arg === '--help' || arg === '-h') {
      process.stdout.write('usage: npm run bench [-- --quick] [--only proxy,streaming,swap,llama,slots,memory,upload] [--wait-llama SECONDS]\n');
      process.exit(0);
    } else throw new Error(`unknown argument ${arg}`);
  }
  return { quick, only, llamaWaitMs };
}

let stopping = false;
async function cleanupAndExit(code: number): Promise<never> {
  if (!stopping) {
    stopping = true;
    await stopAllChildren().catch(() => killAllChildrenNow());
  }
  process.exit(code);
}
process.on('SIGINT', () => {
  process.stderr.write('\nbench: interrupted; stopping child processes\n');
  void cleanupAndExit(130);
});
process.on('SIGTERM', () => void cleanupAndExit(143));
process.on('exit', () => killAllChildrenNow());

async function main(): Promise<void> {
  const { quick, only, llamaWaitMs } = parseArgs(process.argv.slice(2));
  const started = performance.now();
  const loadBefore = loadavg()[0] ?? 0;
  if (loadBefore > cpus().length / 2) {
    process.stderr.write(`bench: WARNING: load average ${loadBefore.toFixed(2)} on ${cpus().length} CPUs; other work will show up in the figures (tails above all)\n`);
  }
  const rows: Row[] = [];
  const details: Record<string, unknown> = {};
  const log = (message: string): void => {
    process.stderr.write(`bench [${((performance.now() - started) / 1000).toFixed(1)}s] ${message}\n`);
  };
  if (!compiledIsFresh(REPO_URL)) {
    // The gateway runs as the `siesta` command, which runs dist/ only when it is fresh.
    log('building dist/ (npm run build): the sources are newer than the build');
    execFileSync('npm', ['run', 'build'], { cwd: fileURLToPath(REPO_URL), stdio: ['ignore', 'ignore', 'inherit'] });
  }
  const section = async (name: Section, run: () => Promise<SectionResult>): Promise<void> => {
    if (!only.has(name)) return;
    log(`${name}…`);
    try {
      const result = await run();
      rows.push(...result.rows);
      details[name] = result.details;
    } catch (error) {
      log(`${name} failed: ${(error as Error).stack ?? String(error)}`);
      rows.push({ section: name, metric: 'error', baseline: '—', siesta: (error as Error).message.split('\n')[0] ?? 'error', target: '—', verdict: 'FAIL' });
      details[name] = { error: (error as Error).message };
      await stopAllChildren();
    }
  };

  await section('proxy', () =>
    runProxyBench(quick ? { reps: 3, perRep: 300, warmup: 200, throughputReps: 2, throughputMs: 2000 } : { reps: 6, perRep: 1000, warmup: 500, throughputReps: 3, throughputMs: 5000 }),
  );
  await section('streaming', () => runStreamingBench(quick ? { streams: 6, tokens: 50, intervalMs: 10 } : { streams: 20, tokens: 50, intervalMs: 10 }));
  await section('swap', () => runSwapBench(quick ? { reps: 3 } : { reps: 7 }));
  await section('llama', async () => {
    const tier = await findLlamaTier(llamaWaitMs, log);
    return runLlamaBench(tier, quick ? { reps: 3, perRep: 100, swaps: 6, warmup: 30 } : { reps: 5, perRep: 200, swaps: 14, warmup: 50 });
  });
  await section('slots', async () => runSlotsBench(await findLlamaTier(llamaWaitMs, log), { rounds: quick ? 3 : 7 }));
  await section('memory', () => runMemoryBench(quick ? { streams: 500 } : { streams: 500 }));
  await section('upload', () => runUploadBench({ fileMiB: quick ? 64 : 200 }));

  const table = markdownTable(rows);
  const elapsedS = (performance.now() - started) / 1000;
  const machine = { cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length, memoryGiB: Math.round(totalmem() / 2 ** 30), node: process.version, platform: `${process.platform} ${process.arch}`, loadAverageBefore: loadBefore, loadAverageAfter: loadavg()[0] ?? 0 };
  process.stdout.write(`${table}\n`);
  process.stdout.write(`\n${machine.cores} × ${machine.cpu}, ${machine.memoryGiB} GiB, node ${machine.node}; load average ${machine.loadAverageBefore.toFixed(2)} before, ${machine.loadAverageAfter.toFixed(2)} after${quick ? '; --quick' : ''}\n`);
  const resultsDir = fileURLToPath(new URL('./results/', import.meta.url));
  mkdirSync(resultsDir, { recursive: true });
  writeFileSync(`${resultsDir}latest.json`, `${JSON.stringify({ date: new Date().toISOString(), quick, elapsedS: Math.round(elapsedS), machine, rows, details }, null, 2)}\n`);
  log(`done in ${elapsedS.toFixed(0)} s; raw figures in bench/results/latest.json`);
  await cleanupAndExit(rows.some((row) => row.metric === 'error') ? 1 : 0);
}

main().catch(async (error: unknown) => {
  process.stderr.write(`bench: ${(error as Error).stack ?? String(error)}\n`);
  await cleanupAndExit(1);
});

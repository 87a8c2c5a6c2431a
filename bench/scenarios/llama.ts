/**
 * The real llama-server (llama.cpp, CPU, tiny random-weight GGUF models from
 * scripts/provision-llama.sh), three ways, same requests:
 *   direct  — to the llama-server siesta started (its own port);
 *   siesta  — llama-server plugin, tiny-a and tiny-b in one swap group;
 *   router  — llama.cpp's own router mode (`--models-dir /models --models-max 1`), the real peer.
 * Proxy overhead: sequential `max_tokens: 1` chat requests to tiny-a. Swap latency: requests that
 * alternate tiny-a / tiny-b (each one stops the other model's server and starts its own). The
 * server's own start and stop times are measured directly: spawn by hand, poll /health every ms;
 * SIGTERM, wait for the exit.
 */
import { fileURLToPath } from 'node:url';
import { freePort, nodeTsArgs, startChild } from '../lib/children.js';
import { startGateway, waitHealthy } from '../lib/gateway.js';
import { chatBody, okRequest, type Target } from '../lib/http.js';
import type { LlamaTier } from '../lib/llama-tier.js';
import { fmtMs, notProvisioned, verdict, type Row, type SectionResult } from '../lib/report.js';
import { median, p99, round } from '../lib/stats.js';
import { measureOverhead } from './proxy.js';

export interface LlamaBenchOptions {
  readonly reps: number;
  readonly perRep: number;
  readonly swaps: number;
  readonly warmup: number;
}

const SECTION = 'llama-server (real)';
const BARE_PROXY = fileURLToPath(new URL('../lib/bare-proxy.ts', import.meta.url));
const METRICS = ['latency median, sequential (max_tokens 1)', 'gateway CPU per request', 'gateway CPU per request ÷ router\'s, ÷ bare node:http proxy\'s', 'swap A↔B (cold start): request → first byte, median', 'swap overhead above own stop + start + request, median'];

function llamaArgs(tier: LlamaTier, model: string, port: number | string): string[] {
  return [tier.chroot, tier.llamaServer, '-m', model, '--host', '127.0.0.1', '--port', String(port)];
}

/** Own start (spawn → /health 200, polled every ms) and stop (SIGTERM → exit) of one llama-server. */
async function ownTimes(tier: LlamaTier, model: string, reps: number): Promise<{ startMs: number[]; stopMs: number[]; requestMs: number[] }> {
  const startMs: number[] = [];
  const stopMs: number[] = [];
  const requestMs: number[] = [];
  for (let rep = 0; rep < reps; rep += 1) {
    const port = await freePort();
    const child = startChild('llama-control', 'chroot', llamaArgs(tier, model, port), { keepChars: 8192 });
    try {
      const target: Target = { host: '127.0.0.1', port };
      // Polled every 5 ms (as siesta's first polls are); a 1 ms loop of new connections slows the load itself.
      const readyAt = await waitHealthy(target, '/health', 60_000, 5, child);
      startMs.push(readyAt - child.spawnedAt);
      // The first request after a start (what a swap's request is): time it as the backend's own.
      const first = await okRequest(target, { path: '/v1/chat/completions', body: chatBody('x', { max_tokens: 1 }), agent: false, timeoutMs: 60_000 });
      requestMs.push(first.firstByteAt - first.startedAt);
      const stopping = performance.now();
      await child.stop(15_000);
      stopMs.push(performance.now() - stopping);
    } finally {
      await child.stop();
    }
  }
  return { startMs, stopMs, requestMs };
}

export async function runLlamaBench(tier: LlamaTier | string, options: LlamaBenchOptions): Promise<SectionResult> {
  if (typeof tier === 'string') return notProvisioned(SECTION, METRICS, tier);
  const [nameA, nameB] = Object.keys(tier.models) as [string, string];
  const modelA = tier.models[nameA]!;
  const modelB = tier.models[nameB]!;
  const own = await ownTimes(tier, modelA, Math.max(3, Math.ceil(options.swaps / 2)));

  const portA = await freePort();
  const portB = await freePort();
  const quote = (args: readonly string[]): string => ['chroot', ...args].join(' ');
  const gateway = await startGateway('llama', {
    healthCheckTimeout: 60,
    models: {
      [nameA]: { backend: 'llama-server', cmd: quote(llamaArgs(tier, modelA, portA)), proxy: `http://127.0.0.1:${portA}`, concurrencyLimit: 64 },
      [nameB]: { backend: 'llama-server', cmd: quote(llamaArgs(tier, modelB, portB)), proxy: `http://127.0.0.1:${portB}`, concurrencyLimit: 64 },
    },
    groups: { gpu: { swap: true, members: [nameA, nameB] } },
  });
  const routerPort = await freePort();
  const router = startChild('llama-router', 'chroot', [tier.chroot, tier.llamaServer, '--models-dir', tier.modelsDir, '--models-max', '1', '--host', '127.0.0.1', '--port', String(routerPort)], { keepChars: 16_384 });
  const routerTarget: Target = { host: '127.0.0.1', port: routerPort };
  try {
    await waitHealthy(routerTarget, '/health', 60_000, 5, router);
    const chat = (target: Target, model: string) =>
      okRequest(target, { path: '/v1/chat/completions', body: chatBody(model, { max_tokens: 1 }), agent: false, timeoutMs: 120_000 }).catch((error: unknown) => {
        throw new Error(`${target === routerTarget ? 'router' : 'siesta'} ${model}: ${(error as Error).message}`, { cause: error });
      });

    // Proxy overhead: tiny-a loaded in both; direct = the server siesta started.
    await chat(gateway.target, nameA);
    await chat(routerTarget, nameA);
    const direct: Target = { host: '127.0.0.1', port: portA };
    // The floor: the bench's bare node:http proxy in front of the same llama-server, in the same
    // alternation, so that siesta's CPU per request can be read against Node's own cost here.
    const floorPort = await freePort();
    const floorProxy = startChild('bare-proxy-llama', process.execPath, nodeTsArgs(BARE_PROXY, [String(floorPort), String(portA)]));
    await floorProxy.waitForOutput(/listening/, 30_000);
    // llama.cpp's router closes a kept-alive connection after each proxied answer (the next request
    // on it gets "socket hang up"), so this section opens a new connection per request, all sides.
    const viaSiesta = await measureOverhead('llama-server', direct, gateway.target, nameA, { max_tokens: 1 }, gateway.pid, options, { target: { host: '127.0.0.1', port: floorPort }, pid: floorProxy.pid, label: 'bare node:http proxy' }, false);
    await floorProxy.stop();
    // The router's baseline is its own model server (it logs the port it proxies to).
    const routerChildPort = [...router.output().matchAll(new RegExp(`proxying request to model ${nameA} on port (\\d+)`, 'g'))].pop()?.[1];
    const routerDirect: Target = routerChildPort ? { host: '127.0.0.1', port: Number(routerChildPort) } : direct;
    const viaRouter = await measureOverhead('llama-server router', routerDirect, routerTarget, nameA, { max_tokens: 1 }, router.pid, options, undefined, false);

    // Swap latency: alternate A/B, same sequence for both, sides interleaved.
    const swapTimes = { siesta: [] as number[], router: [] as number[] };
    for (let index = 0; index < options.swaps; index += 1) {
      const model = index % 2 === 0 ? nameB : nameA;
      for (const side of index % 2 === 0 ? (['siesta', 'router'] as const) : (['router', 'siesta'] as const)) {
        const response = await chat(side === 'siesta' ? gateway.target : routerTarget, model);
        swapTimes[side].push(response.firstByteAt - response.startedAt);
      }
    }
    const ownSwap = median(own.stopMs) + median(own.startMs) + median(own.requestMs);
    const siestaSwap = median(swapTimes.siesta);
    const routerSwap = median(swapTimes.router);
    const s = viaSiesta as Record<string, number>;
    const r = viaRouter as Record<string, number>;
    const rows: Row[] = [
      { section: SECTION, metric: 'latency median, sequential (max_tokens 1), new connection each', baseline: `direct ${fmtMs(s['directMedianMs']!, 2)}; router ${fmtMs(r['siestaMedianMs']!, 2)} (its server direct ${fmtMs(r['directMedianMs']!, 2)})`, siesta: fmtMs(s['siestaMedianMs']!, 2), target: '—', verdict: 'info' },
      { section: SECTION, metric: 'added latency median, above its own server (p99 of the proxied requests)', baseline: `router +${r['addedMedianMs']!.toFixed(2)} ms (p99 ${fmtMs(r['siestaP99Ms']!, 1)})`, siesta: `+${s['addedMedianMs']!.toFixed(2)} ms (p99 ${fmtMs(s['siestaP99Ms']!, 1)})`, target: 'no worse than router', verdict: verdict(s['addedMedianMs']! <= r['addedMedianMs']! + 0.05) },
      { section: SECTION, metric: 'proxy CPU per request: router process vs gateway', baseline: fmtMs(r['gatewayCpuMsPerRequest']!, 3), siesta: fmtMs(s['gatewayCpuMsPerRequest']!, 3), target: '< 0.3 ms', verdict: verdict(s['gatewayCpuMsPerRequest']! < 0.3) },
      { section: SECTION, metric: 'gateway CPU per request ÷ router\'s, ÷ bare node:http proxy\'s (same server, same alternation)', baseline: `router ${fmtMs(r['gatewayCpuMsPerRequest']!, 3)}; bare proxy ${fmtMs(s['floorCpuMsPerRequest']!, 3)} (added median +${s['floorAddedMedianMs']!.toFixed(2)} ms)`, siesta: `${(s['gatewayCpuMsPerRequest']! / r['gatewayCpuMsPerRequest']!).toFixed(2)}× router; ${(s['gatewayCpuMsPerRequest']! / s['floorCpuMsPerRequest']!).toFixed(2)}× bare proxy`, target: '≤ 1× router', verdict: verdict(s['gatewayCpuMsPerRequest']! <= r['gatewayCpuMsPerRequest']!) },
      { section: SECTION, metric: 'swap A↔B (cold start): request → first byte, median', baseline: `router ${fmtMs(routerSwap, 0)}`, siesta: fmtMs(siestaSwap, 0), target: 'no worse than router', verdict: verdict(siestaSwap <= routerSwap * 1.02) },
      { section: SECTION, metric: 'swap overhead above own stop + start + request, median', baseline: `own ${fmtMs(ownSwap, 0)}; router +${fmtMs(routerSwap - ownSwap, 0)}`, siesta: `+${fmtMs(siestaSwap - ownSwap, 0)}`, target: '< 20 ms', verdict: verdict(siestaSwap - ownSwap < 20) },
    ];
    return {
      rows,
      details: {
        provisioned: true,
        version: tier.version,
        models: tier.models,
        own: { startMs: own.startMs.map((v) => round(v)), stopMs: own.stopMs.map((v) => round(v)), firstRequestMs: own.requestMs.map((v) => round(v)) },
        overheadSiesta: viaSiesta,
        overheadRouter: viaRouter,
        swap: {
          siestaMedianMs: round(siestaSwap),
          siestaP99Ms: round(p99(swapTimes.siesta)),
          routerMedianMs: round(routerSwap),
          routerP99Ms: round(p99(swapTimes.router)),
          ownStopStartRequestMs: round(ownSwap),
          siesta: swapTimes.siesta.map((v) => round(v)),
          router: swapTimes.router.map((v) => round(v)),
        },
      },
    };
  } finally {
    await router.stop(15_000);
    await gateway.stop();
  }
}

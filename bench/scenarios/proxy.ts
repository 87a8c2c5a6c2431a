/**
 * Proxy overhead (sequential small chat requests, direct vs through siesta, with the gateway's CPU
 * time per request) and throughput at 32 concurrent clients against a 20 ms upstream.
 */
import { cpuMs } from '../lib/procfs.js';
import { fileURLToPath } from 'node:url';
import { freePort, nodeTsArgs, startChild } from '../lib/children.js';
import { fakeCommand, startGateway } from '../lib/gateway.js';
import { chatBody, okRequest, type Target } from '../lib/http.js';
import { closedLoop, sequential } from '../lib/load.js';
import { fmtMs, fmtNum, verdict, type SectionResult } from '../lib/report.js';
import { median, p99, round } from '../lib/stats.js';

export interface ProxyBenchOptions {
  readonly reps: number;
  readonly perRep: number;
  readonly warmup: number;
  readonly throughputReps: number;
  readonly throughputMs: number;
}

const CHAT = '/v1/chat/completions';
const BARE_PROXY = fileURLToPath(new URL('../lib/bare-proxy.ts', import.meta.url));

/** Alternate direct and siesta blocks (order flipped every repetition) so drift hits both alike. */
export async function measureOverhead(
  label: string,
  direct: Target,
  siesta: Target,
  model: string,
  extra: Readonly<Record<string, unknown>>,
  gatewayPid: number,
  options: Pick<ProxyBenchOptions, 'reps' | 'perRep' | 'warmup'>,
  floor?: { readonly target: Target; readonly pid: number; readonly label: string },
  keepAlive = true,
): Promise<Record<string, number | number[] | string>> {
  const body = chatBody(model, extra);
  await sequential(direct, CHAT, body, options.warmup, undefined, keepAlive);
  await sequential(siesta, CHAT, body, options.warmup, undefined, keepAlive);
  if (floor) await sequential(floor.target, CHAT, body, options.warmup);
  const floorLatencies: number[] = [];
  let floorCpu = 0;
  const directLatencies: number[] = [];
  const siestaLatencies: number[] = [];
  const directRps: number[] = [];
  const siestaRps: number[] = [];
  let siestaCpu = 0;
  let idleCpu = 0;
  let idleMs = 0;
  for (let rep = 0; rep < options.reps; rep += 1) {
    const runDirect = async (): Promise<void> => {
      const result = await sequential(direct, CHAT, body, options.perRep, gatewayPid, keepAlive);
      directLatencies.push(...result.latencies);
      directRps.push((options.perRep * 1000) / result.elapsedMs);
      idleCpu += result.cpuMs;
      idleMs += result.elapsedMs;
    };
    const runSiesta = async (): Promise<void> => {
      const result = await sequential(siesta, CHAT, body, options.perRep, gatewayPid, keepAlive);
      siestaLatencies.push(...result.latencies);
      siestaRps.push((options.perRep * 1000) / result.elapsedMs);
      siestaCpu += result.cpuMs;
    };
    const runFloor = async (): Promise<void> => {
      if (!floor) return;
      const result = await sequential(floor.target, CHAT, body, options.perRep, floor.pid);
      floorLatencies.push(...result.latencies);
      floorCpu += result.cpuMs;
    };
    const order = rep % 2 === 0 ? [runDirect, runFloor, runSiesta] : [runSiesta, runFloor, runDirect];
    for (const run of order) await run();
  }
  const requests = options.reps * options.perRep;
  return {
    label,
    requests,
    directMedianMs: round(median(directLatencies)),
    directP99Ms: round(p99(directLatencies)),
    siestaMedianMs: round(median(siestaLatencies)),
    siestaP99Ms: round(p99(siestaLatencies)),
    addedMedianMs: round(median(siestaLatencies) - median(directLatencies)),
    addedP99Ms: round(p99(siestaLatencies) - p99(directLatencies)),
    directRps: round(median(directRps), 0),
    siestaRps: round(median(siestaRps), 0),
    gatewayCpuMsPerRequest: round(siestaCpu / requests, 4),
    /** CPU the gateway used while idle (during the direct blocks), per second: its background cost. */
    gatewayIdleCpuMsPerSecond: round((idleCpu * 1000) / idleMs, 3),
    ...(floor
      ? {
          floor: floor.label,
          floorMedianMs: round(median(floorLatencies)),
          floorP99Ms: round(p99(floorLatencies)),
          floorAddedMedianMs: round(median(floorLatencies) - median(directLatencies)),
          floorAddedP99Ms: round(p99(floorLatencies) - p99(directLatencies)),
          floorCpuMsPerRequest: round(floorCpu / requests, 4),
        }
      : {}),
  };
}

export async function runProxyBench(options: ProxyBenchOptions): Promise<SectionResult> {
  const echoPort = await freePort();
  const slowPort = await freePort();
  const gateway = await startGateway('proxy', {
    models: {
      echo: {
        cmd: fakeCommand(['--backend', 'generic', '--model', 'echo', '--port', String(echoPort)]),
        proxy: `http://127.0.0.1:${echoPort}`,
        concurrencyLimit: 64,
      },
      slow: {
        cmd: fakeCommand(['--backend', 'generic', '--model', 'slow', '--port', String(slowPort), '--latency', '20ms']),
        proxy: `http://127.0.0.1:${slowPort}`,
        concurrencyLimit: 64,
      },
    },
    groups: { all: { swap: false, exclusive: false, members: ['echo', 'slow'] } },
  });
  try {
    // The first request starts each model; after that both run side by side.
    await okRequest(gateway.target, { path: CHAT, body: chatBody('echo'), timeoutMs: 60_000 });
    await okRequest(gateway.target, { path: CHAT, body: chatBody('slow'), timeoutMs: 60_000 });
    const echo: Target = { host: '127.0.0.1', port: echoPort };
    const slow: Target = { host: '127.0.0.1', port: slowPort };

    const floorPort = await freePort();
    const floorProxy = startChild('bare-proxy', process.execPath, nodeTsArgs(BARE_PROXY, [String(floorPort), String(echoPort)]));
    await floorProxy.waitForOutput(/listening/, 30_000);
    const overhead = await measureOverhead('fake upstream', echo, gateway.target, 'echo', {}, gateway.pid, options, { target: { host: '127.0.0.1', port: floorPort }, pid: floorProxy.pid, label: 'bare node:http proxy' });

    // Throughput: 32 clients in a closed loop against the 20 ms upstream, alternating sides.
    const slowFloorPort = await freePort();
    const slowFloor = startChild('bare-proxy-slow', process.execPath, nodeTsArgs(BARE_PROXY, [String(slowFloorPort), String(slowPort)]));
    await slowFloor.waitForOutput(/listening/, 30_000);
    const slowFloorTarget: Target = { host: '127.0.0.1', port: slowFloorPort };
    await floorProxy.stop();

    await closedLoop(slowFloorTarget, 'slow', 32, 500);
    await closedLoop(slow, 'slow', 32, 500);
    await closedLoop(gateway.target, 'slow', 32, 500);
    const directRps: number[] = [];
    const siestaRps: number[] = [];
    const floorRps: number[] = [];
    const directLat: number[] = [];
    const siestaLat: number[] = [];
    let errors = 0;
    let cpuDuring = 0;
    let siestaRequests = 0;
    for (let rep = 0; rep < options.throughputReps; rep += 1) {
      const order = rep % 2 === 0 ? (['direct', 'floor', 'siesta'] as const) : (['siesta', 'floor', 'direct'] as const);
      for (const side of order) {
        const before = cpuMs(gateway.pid);
        const result = await closedLoop(side === 'direct' ? slow : side === 'floor' ? slowFloorTarget : gateway.target, 'slow', 32, options.throughputMs);
        errors += result.errors;
        if (side === 'floor') {
          floorRps.push(result.rps);
        } else if (side === 'direct') {
          directRps.push(result.rps);
          directLat.push(...result.latencies);
        } else {
          siestaRps.push(result.rps);
          siestaLat.push(...result.latencies);
          cpuDuring += cpuMs(gateway.pid) - before;
          siestaRequests += result.requests;
        }
      }
    }
    await slowFloor.stop();
    const ratio = median(siestaRps) / median(directRps);
    const throughput = {
      connections: 32,
      upstreamLatencyMs: 20,
      durationMs: options.throughputMs,
      reps: options.throughputReps,
      directRps: round(median(directRps), 0),
      siestaRps: round(median(siestaRps), 0),
      ratio: round(ratio, 4),
      floorRps: round(median(floorRps), 0),
      floorRatio: round(median(floorRps) / median(directRps), 4),
      directP99Ms: round(p99(directLat)),
      siestaP99Ms: round(p99(siestaLat)),
      errors,
      gatewayCpuMsPerRequest: round(cpuDuring / siestaRequests, 4),
    };

    const o = overhead as Record<string, number>;
    const added = (value: number): string => `+${value.toFixed(3)} ms`;
    return {
      rows: [
        { section: 'proxy (fake)', metric: 'latency median, sequential', baseline: fmtMs(o['directMedianMs']!, 3), siesta: `${fmtMs(o['siestaMedianMs']!, 3)} (${added(o['addedMedianMs']!)})`, target: 'added < 0.5 ms', verdict: verdict(o['addedMedianMs']! < 0.5) },
        { section: 'proxy (fake)', metric: 'latency p99, sequential', baseline: fmtMs(o['directP99Ms']!, 3), siesta: `${fmtMs(o['siestaP99Ms']!, 3)} (${added(o['addedP99Ms']!)})`, target: 'added < 2 ms', verdict: verdict(o['addedP99Ms']! < 2) },
        { section: 'proxy (fake)', metric: 'floor: bare node:http proxy, added median / p99', baseline: '—', siesta: `+${o['floorAddedMedianMs']!.toFixed(3)} / +${o['floorAddedP99Ms']!.toFixed(3)} ms`, target: '(reference)', verdict: 'info' },
        { section: 'proxy (fake)', metric: 'requests/s, sequential', baseline: fmtNum(o['directRps']!), siesta: fmtNum(o['siestaRps']!), target: '—', verdict: 'info' },
        { section: 'proxy (fake)', metric: 'gateway CPU per request', baseline: '—', siesta: `${fmtMs(o['gatewayCpuMsPerRequest']!, 3)} (bare proxy: ${fmtMs(o['floorCpuMsPerRequest']!, 3)})`, target: '< 0.3 ms', verdict: verdict(o['gatewayCpuMsPerRequest']! < 0.3) },
        { section: 'throughput', metric: '32 clients, 20 ms upstream: req/s', baseline: fmtNum(throughput.directRps), siesta: `${fmtNum(throughput.siestaRps)} (${(ratio * 100).toFixed(1)}%)`, target: '≥ 95% of direct', verdict: verdict(ratio >= 0.95 && errors === 0) },
        { section: 'throughput', metric: 'floor: bare node:http proxy, req/s', baseline: fmtNum(throughput.directRps), siesta: `${fmtNum(throughput.floorRps)} (${(throughput.floorRatio * 100).toFixed(1)}%)`, target: '(reference)', verdict: 'info' },
      ],
      details: { overhead, throughput },
    };
  } finally {
    await gateway.stop();
  }
}

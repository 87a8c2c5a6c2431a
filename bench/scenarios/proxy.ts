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
const UNDICI_PROXY = fileURLToPath(new URL('../lib/bare-proxy-undici.ts', import.meta.url));
const EXPRESS_PROXY = fileURLToPath(new URL('../lib/express-proxy.ts', import.meta.url));

/** A proxy measured beside siesta as a reference: the bare node:http proxy, the same with undici. */
export interface Floor {
  readonly target: Target;
  readonly pid: number;
  readonly label: string;
}

export interface FloorFigures {
  readonly label: string;
  readonly medianMs: number;
  readonly p99Ms: number;
  readonly addedMedianMs: number;
  readonly addedP99Ms: number;
  readonly cpuMsPerRequest: number;
}

/** Alternate direct and siesta blocks (order flipped every repetition) so drift hits both alike. */
export async function measureOverhead(
  label: string,
  direct: Target,
  siesta: Target,
  model: string,
  extra: Readonly<Record<string, unknown>>,
  gatewayPid: number,
  options: Pick<ProxyBenchOptions, 'reps' | 'perRep' | 'warmup'>,
  floor?: Floor | readonly Floor[],
  keepAlive = true,
): Promise<Record<string, number | number[] | string | FloorFigures[]>> {
  const body = chatBody(model, extra);
  const floors: readonly Floor[] = floor === undefined ? [] : Array.isArray(floor) ? floor : [floor as Floor];
  await sequential(direct, CHAT, body, options.warmup, undefined, keepAlive);
  await sequential(siesta, CHAT, body, options.warmup, undefined, keepAlive);
  for (const each of floors) await sequential(each.target, CHAT, body, options.warmup, undefined, keepAlive);
  const floorLatencies = floors.map((): number[] => []);
  const floorCpu = floors.map(() => 0);
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
    // The floors in turn, their order rotated every repetition too.
    const runFloor = async (): Promise<void> => {
      for (let index = 0; index < floors.length; index += 1) {
        const at = (index + rep) % floors.length;
        const result = await sequential(floors[at]!.target, CHAT, body, options.perRep, floors[at]!.pid, keepAlive);
        floorLatencies[at]!.push(...result.latencies);
        floorCpu[at]! += result.cpuMs;
      }
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
    ...(floors.length > 0
      ? {
          // The first floor's figures under the names the report reads; every floor's in `floors`.
          floor: floors[0]!.label,
          floorMedianMs: round(median(floorLatencies[0]!)),
          floorP99Ms: round(p99(floorLatencies[0]!)),
          floorAddedMedianMs: round(median(floorLatencies[0]!) - median(directLatencies)),
          floorAddedP99Ms: round(p99(floorLatencies[0]!) - p99(directLatencies)),
          floorCpuMsPerRequest: round(floorCpu[0]! / requests, 4),
          floors: floors.map((each, index) => ({
            label: each.label,
            medianMs: round(median(floorLatencies[index]!)),
            p99Ms: round(p99(floorLatencies[index]!)),
            addedMedianMs: round(median(floorLatencies[index]!) - median(directLatencies)),
            addedP99Ms: round(p99(floorLatencies[index]!) - p99(directLatencies)),
            cpuMsPerRequest: round(floorCpu[index]! / requests, 4),
          })),
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
    const undiciPort = await freePort();
    const undiciProxy = startChild('bare-proxy-undici', process.execPath, nodeTsArgs(UNDICI_PROXY, [String(undiciPort), String(echoPort)]));
    const expressPort = await freePort();
    const expressProxy = startChild('express-proxy', process.execPath, nodeTsArgs(EXPRESS_PROXY, [String(expressPort), String(echoPort)]));
    await floorProxy.waitForOutput(/listening/, 30_000);
    await undiciProxy.waitForOutput(/listening/, 30_000);
    await expressProxy.waitForOutput(/listening/, 30_000);
    const overhead = await measureOverhead('fake upstream', echo, gateway.target, 'echo', {}, gateway.pid, options, [
      { target: { host: '127.0.0.1', port: floorPort }, pid: floorProxy.pid, label: 'bare node:http proxy' },
      { target: { host: '127.0.0.1', port: undiciPort }, pid: undiciProxy.pid, label: 'bare undici proxy' },
      { target: { host: '127.0.0.1', port: expressPort }, pid: expressProxy.pid, label: 'Express 5 proxy (express.raw, the CLI server)' },
    ]);
    await expressProxy.stop();

    // Throughput: 32 clients in a closed loop against the 20 ms upstream, alternating sides.
    const slowFloorPort = await freePort();
    const slowFloor = startChild('bare-proxy-slow', process.execPath, nodeTsArgs(BARE_PROXY, [String(slowFloorPort), String(slowPort)]));
    await slowFloor.waitForOutput(/listening/, 30_000);
    const slowFloorTarget: Target = { host: '127.0.0.1', port: slowFloorPort };
    const slowUndiciPort = await freePort();
    const slowUndici = startChild('bare-proxy-undici-slow', process.execPath, nodeTsArgs(UNDICI_PROXY, [String(slowUndiciPort), String(slowPort)]));
    await slowUndici.waitForOutput(/listening/, 30_000);
    const slowUndiciTarget: Target = { host: '127.0.0.1', port: slowUndiciPort };
    await floorProxy.stop();
    await undiciProxy.stop();

    await closedLoop(slowFloorTarget, 'slow', 32, 500);
    await closedLoop(slowUndiciTarget, 'slow', 32, 500);
    await closedLoop(slow, 'slow', 32, 500);
    await closedLoop(gateway.target, 'slow', 32, 500);
    const directRps: number[] = [];
    const siestaRps: number[] = [];
    const floorRps: number[] = [];
    const undiciRps: number[] = [];
    const floorLat: number[] = [];
    const undiciLat: number[] = [];
    const directLat: number[] = [];
    const siestaLat: number[] = [];
    let errors = 0;
    let cpuDuring = 0;
    let siestaRequests = 0;
    for (let rep = 0; rep < options.throughputReps; rep += 1) {
      const order = rep % 2 === 0 ? (['direct', 'floor', 'undici', 'siesta'] as const) : (['siesta', 'undici', 'floor', 'direct'] as const);
      for (const side of order) {
        const before = cpuMs(gateway.pid);
        const result = await closedLoop(side === 'direct' ? slow : side === 'floor' ? slowFloorTarget : side === 'undici' ? slowUndiciTarget : gateway.target, 'slow', 32, options.throughputMs);
        errors += result.errors;
        if (side === 'floor') {
          floorRps.push(result.rps);
          floorLat.push(...result.latencies);
        } else if (side === 'undici') {
          undiciRps.push(result.rps);
          undiciLat.push(...result.latencies);
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
    await slowUndici.stop();
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
      floorP99Ms: round(p99(floorLat)),
      undiciRps: round(median(undiciRps), 0),
      undiciRatio: round(median(undiciRps) / median(directRps), 4),
      undiciP99Ms: round(p99(undiciLat)),
      directP99Ms: round(p99(directLat)),
      siestaP99Ms: round(p99(siestaLat)),
      errors,
      gatewayCpuMsPerRequest: round(cpuDuring / siestaRequests, 4),
    };

    const o = overhead as Record<string, number>;
    const undici = (overhead['floors'] as FloorFigures[])[1]!;
    const expressFloor = (overhead['floors'] as FloorFigures[])[2]!;
    // The hot-path targets of issue 12, as ratios to the bare proxy measured in the same run.
    const cpuRatio = o['gatewayCpuMsPerRequest']! / o['floorCpuMsPerRequest']!;
    const p99Allowance = o['floorAddedP99Ms']! + 0.5;
    const throughputRatio = throughput.siestaRps / throughput.floorRps;
    const added = (value: number): string => `+${value.toFixed(3)} ms`;
    return {
      rows: [
        { section: 'proxy (fake)', metric: 'latency median, sequential', baseline: fmtMs(o['directMedianMs']!, 3), siesta: `${fmtMs(o['siestaMedianMs']!, 3)} (${added(o['addedMedianMs']!)})`, target: 'added < 0.5 ms', verdict: verdict(o['addedMedianMs']! < 0.5) },
        { section: 'proxy (fake)', metric: 'latency p99, sequential', baseline: fmtMs(o['directP99Ms']!, 3), siesta: `${fmtMs(o['siestaP99Ms']!, 3)} (${added(o['addedP99Ms']!)})`, target: 'added < 2 ms', verdict: verdict(o['addedP99Ms']! < 2) },
        { section: 'proxy (fake)', metric: 'floor: bare node:http proxy, added median / p99', baseline: '—', siesta: `+${o['floorAddedMedianMs']!.toFixed(3)} / +${o['floorAddedP99Ms']!.toFixed(3)} ms`, target: '(reference)', verdict: 'info' },
        { section: 'proxy (fake)', metric: 'floor: bare undici proxy, added median / p99, CPU per request', baseline: '—', siesta: `+${undici.addedMedianMs.toFixed(3)} / +${undici.addedP99Ms.toFixed(3)} ms, ${fmtMs(undici.cpuMsPerRequest, 3)}`, target: '(reference)', verdict: 'info' },
        { section: 'proxy (fake)', metric: 'requests/s, sequential', baseline: fmtNum(o['directRps']!), siesta: fmtNum(o['siestaRps']!), target: '—', verdict: 'info' },
        { section: 'proxy (fake)', metric: 'gateway CPU per request', baseline: '—', siesta: `${fmtMs(o['gatewayCpuMsPerRequest']!, 3)} (bare proxy: ${fmtMs(o['floorCpuMsPerRequest']!, 3)})`, target: '< 0.3 ms', verdict: verdict(o['gatewayCpuMsPerRequest']! < 0.3) },
        { section: 'proxy (fake)', metric: 'floor: Express 5 proxy (express.raw, prototypes as the CLI), added median / p99, CPU per request', baseline: '—', siesta: `+${expressFloor.addedMedianMs.toFixed(3)} / +${expressFloor.addedP99Ms.toFixed(3)} ms, ${fmtMs(expressFloor.cpuMsPerRequest, 3)}`, target: '(reference)', verdict: 'info' },
        { section: 'ratios', metric: 'gateway CPU per request ÷ bare proxy\'s (÷ Express proxy\'s)', baseline: '—', siesta: `${cpuRatio.toFixed(2)}× (${(o['gatewayCpuMsPerRequest']! / expressFloor.cpuMsPerRequest).toFixed(2)}×)`, target: '≤ 1.2×', verdict: verdict(cpuRatio <= 1.2) },
        { section: 'ratios', metric: 'p99 added latency vs bare proxy\'s + 0.5 ms', baseline: '—', siesta: `+${o['addedP99Ms']!.toFixed(2)} vs +${p99Allowance.toFixed(2)} ms`, target: '≤', verdict: verdict(o['addedP99Ms']! <= p99Allowance) },
        { section: 'ratios', metric: '32-client throughput ÷ bare proxy\'s', baseline: '—', siesta: `${(throughputRatio * 100).toFixed(1)}%`, target: '≥ 97%', verdict: verdict(throughputRatio >= 0.97 && errors === 0) },
        { section: 'throughput', metric: '32 clients, 20 ms upstream: req/s', baseline: fmtNum(throughput.directRps), siesta: `${fmtNum(throughput.siestaRps)} (${(ratio * 100).toFixed(1)}%)`, target: '≥ 95% of direct', verdict: verdict(ratio >= 0.95 && errors === 0) },
        { section: 'throughput', metric: 'floor: bare node:http proxy, req/s', baseline: fmtNum(throughput.directRps), siesta: `${fmtNum(throughput.floorRps)} (${(throughput.floorRatio * 100).toFixed(1)}%)`, target: '(reference)', verdict: 'info' },
        { section: 'throughput', metric: 'floor: bare undici proxy, req/s (p99 undici / node:http)', baseline: fmtNum(throughput.directRps), siesta: `${fmtNum(throughput.undiciRps)} (${(throughput.undiciRatio * 100).toFixed(1)}%; p99 ${fmtMs(throughput.undiciP99Ms, 1)} / ${fmtMs(throughput.floorP99Ms, 1)})`, target: '(reference)', verdict: 'info' },
      ],
      details: { overhead, throughput },
    };
  } finally {
    await gateway.stop();
  }
}

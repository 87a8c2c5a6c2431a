/**
 * Swap latency with two vLLM-style fakes in one swap group: time from the request for B (while A
 * is ready) to B's first byte, for a cold start of B and for a wake of B from level-1 sleep, and
 * siesta's overhead above the backend's own time:
 *
 * - wake:  overhead = total − union of every backend call in the swap, as the fakes recorded them
 *          (A's /sleep and /is_sleeping, B's /wake_up, /is_sleeping, warm-up and the request itself);
 * - cold:  overhead = total − A's sleep calls − B's own start time − B's answer to the health check
 *          that found it ready − B's request. B's own start time runs from siesta's "started pid"
 *          log line (the spawn) to the fake's "ready" line, both time-stamped by siesta as they
 *          happened; the health check's handling time is the fake's own log line for it. The gap
 *          between B's "ready" line and the request reaching B is reported separately.
 */
import { freePort } from '../lib/children.js';
import { fakeCommand, startGateway, type RunningGateway } from '../lib/gateway.js';
import { chatBody, okRequest, timedRequest, type Target } from '../lib/http.js';
import { fmtMs, verdict, type Row, type SectionResult } from '../lib/report.js';
import { median, p99, round, unionLength } from '../lib/stats.js';

export interface SwapBenchOptions {
  readonly reps: number;
}

interface Call {
  kind: string;
  method: string;
  path: string;
  query: string;
  at: number;
  endedAt: number | null;
}

const START_DELAY = '500ms';
const SLEEP_DELAY = '100ms';
const WAKE_DELAY = '200ms';

const epochNow = (): number => performance.timeOrigin + performance.now();
const toEpoch = (perfNow: number): number => performance.timeOrigin + perfNow;

function fakeArgs(id: string, port: number): string[] {
  return ['--backend', 'vllm', '--enable-sleep-mode', '--model', id, '--port', String(port), '--start-delay', START_DELAY, '--sleep-delay', SLEEP_DELAY, '--wake-delay', WAKE_DELAY];
}

async function calls(target: Target): Promise<Call[]> {
  const response = await okRequest(target, { path: '/__calls', agent: false });
  return (JSON.parse(response.body) as { calls: Call[] }).calls;
}

async function clearCalls(target: Target): Promise<void> {
  await timedRequest(target, { method: 'DELETE', path: '/__calls', agent: false }).catch(() => undefined);
}

function intervals(list: readonly Call[], from: number): [number, number][] {
  return list.filter((call) => call.at >= from - 1 && call.endedAt !== null).map((call) => [call.at, call.endedAt!]);
}

/**
 * From siesta's log of model `id` (epoch ms, as siesta received the lines), after `from`: when
 * siesta spawned it (its own "started pid" line) and when the fake printed its "ready" line.
 */
async function modelLog(gateway: RunningGateway, id: string, from: number): Promise<{ spawnAt: number; readyAt: number; probeMs: number }> {
  const response = await okRequest(gateway.target, { path: '/logs', agent: false });
  let spawnAt = Number.NaN;
  let readyAt = Number.NaN;
  let probeMs = Number.NaN;
  for (const line of response.body.split('\n')) {
    const match = /^(\S+) \[(\S+)(?: (\S+))?\] (.*)$/.exec(line);
    if (!match?.[1] || match[2] !== id) continue;
    const at = Date.parse(match[1]);
    if (at < from - 1) continue;
    if (match[3] === 'siesta' && match[4]?.startsWith('started pid ')) spawnAt = at;
    else if (match[4]?.includes(`model ${id} ready on`)) readyAt = at;
    else if (Number.isFinite(readyAt) && Number.isNaN(probeMs)) {
      // The fake logs each request with its own handling time: the health check that found it ready.
      const probe = / GET \/health 200 (\d+)ms$/.exec(match[4] ?? '');
      if (probe) probeMs = Number(probe[1]);
    }
  }
  return { spawnAt, readyAt, probeMs };
}

/** The recorded calls relative to `from`, for the JSON (where did the time go). */
function timeline(list: readonly Call[], from: number): string[] {
  return [...list]
    .filter((call) => call.at >= from - 1)
    .sort((x, y) => x.at - y.at)
    .map((call) => `${call.method} ${call.path}${call.query ? `?${call.query}` : ''} ${call.at - Math.round(from)}→${call.endedAt === null ? '?' : call.endedAt - Math.round(from)}`);
}

export async function runSwapBench(options: SwapBenchOptions): Promise<SectionResult> {
  const portA = await freePort();
  const portB = await freePort();
  const a: Target = { host: '127.0.0.1', port: portA };
  const b: Target = { host: '127.0.0.1', port: portB };
  const gateway = await startGateway('swap', {
    healthCheckTimeout: 60,
    models: {
      va: { backend: 'vllm', cmd: fakeCommand(fakeArgs('va', portA)), proxy: `http://127.0.0.1:${portA}`, sleep: { level: 1 } },
      vb: { backend: 'vllm', cmd: fakeCommand(fakeArgs('vb', portB)), proxy: `http://127.0.0.1:${portB}`, sleep: { level: 1 } },
    },
    groups: { gpu: { swap: true, members: ['va', 'vb'] } },
  });
  const request = async (id: string): Promise<{ total: number; t0: number }> => {
    const t0 = epochNow();
    const response = await okRequest(gateway.target, { path: '/v1/chat/completions', body: chatBody(id, { max_tokens: 1 }), agent: false, timeoutMs: 60_000 });
    return { total: response.firstByteAt - response.startedAt, t0: toEpoch(response.startedAt) + 0 * t0 };
  };
  try {
    const cold: { total: number; overhead: number; pollGap: number; probeMs: number; sleepA: number; ownStartB: number; timeline: unknown }[] = [];
    const wake: { total: number; overhead: number; backend: number; timeline: unknown }[] = [];
    await request('va');
    for (let rep = 0; rep < options.reps; rep += 1) {
      // Cold: B stopped, A ready.
      await okRequest(gateway.target, { method: 'POST', path: '/api/models/vb/unload', agent: false, timeoutMs: 30_000 });
      await request('va');
      await clearCalls(a);
      const coldRun = await request('vb');
      const callsA = await calls(a);
      const callsB = await calls(b);
      const sleepA = unionLength(intervals(callsA.filter((call) => call.kind === 'lifecycle'), coldRun.t0));
      const firstB = callsB.find((call) => call.kind === 'generate' && call.at >= coldRun.t0 - 1);
      const requestB = firstB?.endedAt ? firstB.endedAt - firstB.at : 0;
      const { readyAt, spawnAt, probeMs } = await modelLog(gateway, 'vb', coldRun.t0);
      const ownStartB = readyAt - spawnAt;
      const ownProbe = Number.isFinite(probeMs) ? probeMs : 0;
      cold.push({
        total: coldRun.total,
        overhead: coldRun.total - sleepA - ownStartB - ownProbe - requestB,
        pollGap: firstB ? firstB.at - readyAt : Number.NaN,
        probeMs: ownProbe,
        sleepA,
        ownStartB,
        timeline: { spawn: spawnAt - coldRun.t0, ready: readyAt - coldRun.t0, requestAtB: firstB ? firstB.at - coldRun.t0 : null, calls: timeline([...callsA, ...callsB], coldRun.t0) },
      });

      // Wake: A asleep (it was evicted above), B ready → request A; then B the same way.
      for (const [id, target, other] of [['va', a, b], ['vb', b, a]] as const) {
        await clearCalls(target);
        await clearCalls(other);
        const run = await request(id);
        const backend = unionLength([...intervals(await calls(target), run.t0), ...intervals(await calls(other), run.t0)]);
        wake.push({ total: run.total, overhead: run.total - backend, backend, timeline: timeline([...(await calls(other)), ...(await calls(target))], run.t0) });
      }
    }
    const coldTotals = cold.map((sample) => sample.total);
    const coldOverheads = cold.map((sample) => sample.overhead);
    const wakeTotals = wake.map((sample) => sample.total);
    const wakeOverheads = wake.map((sample) => sample.overhead);
    const pollGaps = cold.map((sample) => sample.pollGap).filter(Number.isFinite);
    const details = {
      fake: { startDelay: START_DELAY, sleepDelay: SLEEP_DELAY, wakeDelay: WAKE_DELAY, sleepLevel: 1 },
      cold: { totalMedianMs: round(median(coldTotals)), totalP99Ms: round(p99(coldTotals)), overheadMedianMs: round(median(coldOverheads)), overheadP99Ms: round(p99(coldOverheads)), readyToRequestGapMedianMs: round(median(pollGaps)), backendHealthAnswerMedianMs: round(median(cold.map((sample) => sample.probeMs))), readyToRequestGapMaxMs: round(Math.max(...pollGaps)), samples: cold },
      wake: { totalMedianMs: round(median(wakeTotals)), totalP99Ms: round(p99(wakeTotals)), overheadMedianMs: round(median(wakeOverheads)), overheadP99Ms: round(p99(wakeOverheads)), backendMedianMs: round(median(wake.map((sample) => sample.backend))), samples: wake },
    };
    const rows: Row[] = [
      { section: 'swap (fake vLLM)', metric: 'cold start of B while A ready: request → first byte, median', baseline: `own: sleep A ${fmtMs(median(cold.map((s) => s.sleepA)), 0)} + start B ${fmtMs(median(cold.map((s) => s.ownStartB)), 0)}`, siesta: fmtMs(median(coldTotals), 1), target: '—', verdict: 'info' },
      { section: 'swap (fake vLLM)', metric: 'cold start: overhead above the backend, median', baseline: '—', siesta: `${fmtMs(median(coldOverheads), 1)} (ready→request gap ${fmtMs(median(pollGaps), 1)}, of which the backend answering /health ${fmtMs(median(cold.map((sample) => sample.probeMs)), 0)})`, target: '< 20 ms', verdict: verdict(median(coldOverheads) < 20) },
      { section: 'swap (fake vLLM)', metric: 'wake of B (level 1) while A ready: request → first byte, median', baseline: `own: ${fmtMs(details.wake.backendMedianMs, 1)}`, siesta: fmtMs(median(wakeTotals), 1), target: '—', verdict: 'info' },
      { section: 'swap (fake vLLM)', metric: 'wake: overhead above the backend, median / p99', baseline: '—', siesta: `${fmtMs(median(wakeOverheads), 1)} / ${fmtMs(p99(wakeOverheads), 1)}`, target: '< 20 ms median', verdict: verdict(median(wakeOverheads) < 20) },
    ];
    return { rows, details };
  } finally {
    await gateway.stop();
  }
}

/** Load patterns: a sequential keep-alive client and a closed loop of N concurrent clients. */
import { cpuMs } from './procfs.js';
import { chatBody, keepAliveAgent, okRequest, type Target } from './http.js';

export interface SequentialResult {
  /** Per-request latency (request start → body end), ms. */
  readonly latencies: number[];
  readonly elapsedMs: number;
  /** CPU ms the watched process used during the block (NaN when nothing is watched). */
  readonly cpuMs: number;
}

/** `count` requests one after another on one kept-alive connection (or a new connection each, `keepAlive` false). */
export async function sequential(target: Target, path: string, body: object, count: number, watchPid?: number, keepAlive = true): Promise<SequentialResult> {
  const keptAlive = keepAliveAgent(1);
  const agent = keepAlive ? keptAlive : false;
  const latencies: number[] = [];
  const cpuBefore = watchPid ? cpuMs(watchPid) : Number.NaN;
  const started = performance.now();
  try {
    for (let index = 0; index < count; index += 1) {
      const response = await okRequest(target, { path, body, agent });
      latencies.push(response.endedAt - response.startedAt);
    }
  } finally {
    keptAlive.destroy();
  }
  const elapsedMs = performance.now() - started;
  return { latencies, elapsedMs, cpuMs: watchPid ? cpuMs(watchPid) - cpuBefore : Number.NaN };
}

export interface ClosedLoopResult {
  readonly requests: number;
  readonly errors: number;
  readonly rps: number;
  readonly latencies: number[];
}

/** `connections` clients, each sending its next request as soon as the previous one ended, for `durationMs`. */
export async function closedLoop(target: Target, model: string, connections: number, durationMs: number): Promise<ClosedLoopResult> {
  const agent = keepAliveAgent(connections);
  const body = chatBody(model);
  const latencies: number[] = [];
  let errors = 0;
  const started = performance.now();
  const deadline = started + durationMs;
  const client = async (): Promise<void> => {
    while (performance.now() < deadline) {
      try {
        const response = await okRequest(target, { path: '/v1/chat/completions', body, agent });
        if (response.endedAt <= deadline) latencies.push(response.endedAt - response.startedAt);
      } catch {
        errors += 1;
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: connections }, client));
  } finally {
    agent.destroy();
  }
  return { requests: latencies.length, errors, rps: (latencies.length * 1000) / durationMs, latencies };
}

/**
 * Streaming: time to first byte and per-chunk delay, direct vs through siesta. The upstream here is
 * an SSE emitter inside the bench process, so each chunk's send time and arrival time are read on
 * the same clock: per-chunk delay = arrival at the client − the upstream's write of that chunk.
 * siesta runs it as a generic model whose `cmd` is a placeholder process and whose `proxy` points at
 * the emitter.
 */
import { createServer, type Server } from 'node:http';
import { fileURLToPath } from 'node:url';
import { freePort, nodeTsArgs, startChild } from '../lib/children.js';
import { startGateway } from '../lib/gateway.js';
import { keepAliveAgent, okRequest, targetOf, timedStream, chatBody, type StreamResult, type Target } from '../lib/http.js';
import { fmtMs, verdict, type SectionResult } from '../lib/report.js';
import { median, p99, round } from '../lib/stats.js';

const BARE_PROXY = fileURLToPath(new URL('../lib/bare-proxy.ts', import.meta.url));

export interface StreamingBenchOptions {
  readonly streams: number;
  readonly tokens: number;
  readonly intervalMs: number;
}

interface Emitter {
  readonly server: Server;
  readonly url: string;
  /** Send times (performance.now()) of each stream's chunks, by stream id. */
  readonly sent: Map<string, number[]>;
}

function startEmitter(tokens: number, intervalMs: number): Promise<Emitter> {
  const sent = new Map<string, number[]>();
  const server = createServer((req, res) => {
    if (req.method === 'GET' && req.url === '/health') {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
      return;
    }
    const parts: Buffer[] = [];
    req.on('data', (chunk: Buffer) => parts.push(chunk));
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(parts).toString('utf8') || '{}') as { user?: string; model?: string };
      const id = body.user ?? 'unnamed';
      const times: number[] = [];
      sent.set(id, times);
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      res.flushHeaders();
      let index = 0;
      const emit = (): void => {
        if (res.destroyed) return;
        if (index === tokens) {
          res.end('data: [DONE]\n\n');
          return;
        }
        const chunk = { id, object: 'chat.completion.chunk', model: body.model, choices: [{ index: 0, delta: { content: ` tok${index}` }, finish_reason: null }], bench_i: index };
        times.push(performance.now());
        res.write(`data: ${JSON.stringify(chunk)}\n\n`);
        index += 1;
        setTimeout(emit, intervalMs);
      };
      emit();
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      resolve({ server, url: `http://127.0.0.1:${port}`, sent });
    });
  });
}

interface StreamFigures {
  ttfb: number[];
  /** Delay of chunk 0 (written together with the response headers). */
  firstChunkDelays: number[];
  /** Delay of every later chunk. */
  chunkDelays: number[];
  /** How often two or more chunks arrived in the same read (a sign of buffering). */
  coalesced: number;
  chunks: number;
}

function collect(result: StreamResult, sent: readonly number[], figures: StreamFigures): void {
  figures.ttfb.push(result.firstByteAt - result.startedAt);
  let previousAt = Number.NaN;
  for (const event of result.events) {
    const match = /"bench_i":(\d+)/.exec(event.data);
    if (!match) continue;
    const index = Number(match[1]);
    const sentAt = sent[index];
    if (sentAt === undefined) continue;
    (index === 0 ? figures.firstChunkDelays : figures.chunkDelays).push(event.at - sentAt);
    figures.chunks += 1;
    if (event.at === previousAt) figures.coalesced += 1;
    previousAt = event.at;
  }
}

export async function runStreamingBench(options: StreamingBenchOptions): Promise<SectionResult> {
  const emitter = await startEmitter(options.tokens, options.intervalMs);
  const gateway = await startGateway('streaming', {
    models: {
      // The upstream is this process's emitter, already listening: no health check, and so no
      // port check (siesta refuses to start a model whose port another process holds).
      stream: { cmd: 'sleep 3600', proxy: emitter.url, checkEndpoint: 'none' },
    },
  }).catch(async (error: unknown) => {
    await new Promise((resolve) => emitter.server.close(resolve));
    throw error;
  });
  try {
    const direct: Target = targetOf(emitter.url);
    await okRequest(gateway.target, { path: '/v1/chat/completions', body: chatBody('stream', { stream: true, user: 'warm-siesta' }), timeoutMs: 30_000 });
    // Like a chat client: one kept-alive connection per side (set SIESTA_BENCH_STREAM_NEW_CONN=1 for a new one per stream).
    const keepAlive = !process.env['SIESTA_BENCH_STREAM_NEW_CONN'];
    const fresh = (): StreamFigures => ({ ttfb: [], firstChunkDelays: [], chunkDelays: [], coalesced: 0, chunks: 0 });
    const figures = { direct: fresh(), floor: fresh(), siesta: fresh() };
    const agents = { direct: keepAliveAgent(1), floor: keepAliveAgent(1), siesta: keepAliveAgent(1) };
    const floorPort = await freePort();
    const floor = startChild('bare-proxy-stream', process.execPath, nodeTsArgs(BARE_PROXY, [String(floorPort), String(direct.port)]));
    await floor.waitForOutput(/listening/, 30_000);
    const targets = { direct, floor: { host: '127.0.0.1', port: floorPort }, siesta: gateway.target };
    for (let index = 0; index < options.streams; index += 1) {
      const order = index % 2 === 0 ? (['direct', 'floor', 'siesta'] as const) : (['siesta', 'floor', 'direct'] as const);
      for (const side of order) {
        const id = `${side}-${index}`;
        const result = await timedStream(targets[side], { path: '/v1/chat/completions', body: chatBody('stream', { stream: true, user: id }), agent: keepAlive ? agents[side] : false });
        if (result.status !== 200) throw new Error(`stream ${id}: HTTP ${result.status}`);
        collect(result, emitter.sent.get(id) ?? [], figures[side]);
      }
    }
    await floor.stop();
    const summary = (f: StreamFigures) => ({
      ttfbMedianMs: round(median(f.ttfb)),
      ttfbP99Ms: round(p99(f.ttfb)),
      firstChunkDelayMedianMs: round(median(f.firstChunkDelays)),
      chunkDelayMedianMs: round(median(f.chunkDelays)),
      chunkDelayP99Ms: round(p99(f.chunkDelays)),
      chunkDelayMaxMs: round(Math.max(...f.chunkDelays)),
      chunks: f.chunks,
      coalescedChunks: f.coalesced,
    });
    const direct_ = summary(figures.direct);
    const floorFigures = summary(figures.floor);
    const siesta = summary(figures.siesta);
    const addedChunkMedian = siesta.chunkDelayMedianMs - direct_.chunkDelayMedianMs;
    const addedChunkP99 = siesta.chunkDelayP99Ms - direct_.chunkDelayP99Ms;
    const expectedChunks = options.streams * options.tokens;
    return {
      rows: [
        { section: 'streaming', metric: 'time to first byte, median', baseline: fmtMs(direct_.ttfbMedianMs, 3), siesta: `${fmtMs(siesta.ttfbMedianMs, 3)} (+${(siesta.ttfbMedianMs - direct_.ttfbMedianMs).toFixed(3)} ms)`, target: '—', verdict: 'info' },
        { section: 'streaming', metric: 'floor: bare node:http proxy, TTFB median', baseline: fmtMs(direct_.ttfbMedianMs, 3), siesta: `${fmtMs(floorFigures.ttfbMedianMs, 3)} (+${(floorFigures.ttfbMedianMs - direct_.ttfbMedianMs).toFixed(3)} ms)`, target: '(reference)', verdict: 'info' },
        { section: 'streaming', metric: 'chunk delay after the first (upstream write → client), median', baseline: fmtMs(direct_.chunkDelayMedianMs, 3), siesta: `${fmtMs(siesta.chunkDelayMedianMs, 3)} (+${addedChunkMedian.toFixed(3)} ms)`, target: 'added < 1 ms', verdict: verdict(addedChunkMedian < 1) },
        { section: 'streaming', metric: 'chunk delay after the first, p99', baseline: fmtMs(direct_.chunkDelayP99Ms, 3), siesta: `${fmtMs(siesta.chunkDelayP99Ms, 3)} (+${addedChunkP99.toFixed(3)} ms)`, target: 'added < 1 ms', verdict: verdict(addedChunkP99 < 1) },
        { section: 'streaming', metric: 'floor: bare node:http proxy, chunk delay median / p99', baseline: `${fmtMs(direct_.chunkDelayMedianMs, 3)} / ${fmtMs(direct_.chunkDelayP99Ms, 3)}`, siesta: `+${(floorFigures.chunkDelayMedianMs - direct_.chunkDelayMedianMs).toFixed(3)} / +${(floorFigures.chunkDelayP99Ms - direct_.chunkDelayP99Ms).toFixed(3)} ms`, target: '(reference)', verdict: 'info' },
        { section: 'streaming', metric: 'chunks merged in one read (buffering)', baseline: `${direct_.coalescedChunks} of ${direct_.chunks}`, siesta: `${siesta.coalescedChunks} of ${siesta.chunks}`, target: '0, all chunks arrive', verdict: verdict(siesta.coalescedChunks === 0 && siesta.chunks === expectedChunks) },
      ],
      details: { tokens: options.tokens, intervalMs: options.intervalMs, streams: options.streams, keepAlive, direct: direct_, floor: floorFigures, siesta },
    };
  } finally {
    await gateway.stop();
    await new Promise((resolve) => emitter.server.close(resolve));
  }
}

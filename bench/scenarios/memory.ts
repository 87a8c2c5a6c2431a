/**
 * Gateway memory: resident set idle with 100 configured models (none started), and at the peak of
 * 500 concurrent streaming requests through siesta to one fake upstream with a long, slow stream.
 */
import { request, type ClientRequest } from 'node:http';
import { freePort } from '../lib/children.js';
import { fakeCommand, startGateway } from '../lib/gateway.js';
import { chatBody, okRequest } from '../lib/http.js';
import { memoryMiB } from '../lib/procfs.js';
import { fmtNum, verdict, type SectionResult } from '../lib/report.js';
import { round } from '../lib/stats.js';

export interface MemoryBenchOptions {
  readonly streams: number;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function idleWith100Models(mode: 'cli' | 'tsx'): Promise<{ rssMiB: number; peakMiB: number }> {
  const models: Record<string, unknown> = {};
  for (let index = 0; index < 100; index += 1) {
    const id = `model-${String(index).padStart(3, '0')}`;
    models[id] = { cmd: fakeCommand(['--backend', 'generic', '--model', id, '--port', '${PORT}']), aliases: [`alias-${index}`], ttl: '10m' };
  }
  const gateway = await startGateway(`memory-idle-${mode}`, { startPort: 21000, models }, { mode });
  try {
    // Touch the listing routes once, then let the process settle.
    await okRequest(gateway.target, { path: '/v1/models', agent: false });
    await okRequest(gateway.target, { path: '/running', agent: false });
    await sleep(1500);
    const samples = [];
    for (let index = 0; index < 5; index += 1) {
      samples.push(memoryMiB(gateway.pid));
      await sleep(200);
    }
    return { rssMiB: Math.max(...samples.map((sample) => sample.rss)), peakMiB: Math.max(...samples.map((sample) => sample.peak)) };
  } finally {
    await gateway.stop();
  }
}

async function holdingStreams(count: number): Promise<{ rssMiB: number; peakMiB: number; open: number; idleRssMiB: number }> {
  const port = await freePort();
  const gateway = await startGateway('memory-streams', {
    models: {
      long: {
        cmd: fakeCommand(['--backend', 'generic', '--model', 'long', '--port', String(port), '--tokens', '100000', '--token-interval', '1s']),
        proxy: `http://127.0.0.1:${port}`,
        concurrencyLimit: 1000,
      },
    },
  });
  const requests: ClientRequest[] = [];
  try {
    // Start the model with a short request first (the stream itself would last a day).
    await okRequest(gateway.target, { path: '/v1/chat/completions', body: chatBody('long', { max_tokens: 1 }), agent: false, timeoutMs: 60_000 });
    await sleep(500);
    const idleRssMiB = memoryMiB(gateway.pid).rss;
    let open = 0;
    const body = JSON.stringify(chatBody('long', { stream: true }));
    const allOpen = new Promise<void>((resolve) => {
      for (let index = 0; index < count; index += 1) {
        const req = request(
          { host: gateway.target.host, port: gateway.target.port, method: 'POST', path: '/v1/chat/completions', agent: false, headers: { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) } },
          (res) => {
            let counted = false;
            res.on('data', () => {
              if (counted) return;
              counted = true;
              open += 1;
              if (open === count) resolve();
            });
            res.on('error', () => undefined);
          },
        );
        req.on('error', () => undefined);
        req.end(body);
        requests.push(req);
      }
    });
    const deadline = sleep(20_000);
    await Promise.race([allOpen, deadline]);
    // Sample at the peak: every stream open (or as many as got through within 20 s).
    let rss = 0;
    let peak = 0;
    for (let index = 0; index < 10; index += 1) {
      const sample = memoryMiB(gateway.pid);
      rss = Math.max(rss, sample.rss);
      peak = Math.max(peak, sample.peak);
      await sleep(200);
    }
    return { rssMiB: rss, peakMiB: peak, open, idleRssMiB };
  } finally {
    for (const req of requests) req.destroy();
    await gateway.stop();
  }
}

export async function runMemoryBench(options: MemoryBenchOptions): Promise<SectionResult> {
  const idle = await idleWith100Models('cli');
  const viaTsx = await idleWith100Models('tsx');
  const streams = await holdingStreams(options.streams);
  return {
    rows: [
      { section: 'memory', metric: 'gateway RSS, idle, 100 models configured (the siesta command)', baseline: '—', siesta: `${fmtNum(idle.rssMiB, 1)} MiB`, target: '< 80 MB', verdict: verdict(idle.rssMiB * 1.048576 < 80) },
      { section: 'memory', metric: 'same, TypeScript through tsx (no build)', baseline: '—', siesta: `${fmtNum(viaTsx.rssMiB, 1)} MiB`, target: '(reference)', verdict: 'info' },
      {
        section: 'memory',
        metric: `gateway RSS, ${options.streams} concurrent streams`,
        baseline: '—',
        siesta: `${fmtNum(streams.rssMiB, 1)} MiB (${streams.open} of ${options.streams} streams flowing)`,
        target: '< 200 MB, all flowing',
        verdict: verdict(streams.rssMiB * 1.048576 < 200 && streams.open === options.streams),
      },
    ],
    details: {
      idle100Models: { rssMiB: round(idle.rssMiB, 1), peakMiB: round(idle.peakMiB, 1) },
      idle100ModelsTsx: { rssMiB: round(viaTsx.rssMiB, 1), peakMiB: round(viaTsx.peakMiB, 1) },
      streams: { count: options.streams, open: streams.open, rssMiB: round(streams.rssMiB, 1), peakMiB: round(streams.peakMiB, 1), rssBeforeMiB: round(streams.idleRssMiB, 1) } },
  };
}

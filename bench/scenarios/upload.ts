/**
 * Large multipart uploads through siesta (audio transcription, ~200 MB): the gateway's resident set
 * sampled every 50 ms while the upload passes, for the two orders a form can have:
 *
 * - `model` before the file: routed at once, the file streamed straight through;
 * - `model` after the file (what the `openai` client sends when the caller writes `file` first):
 *   the first 4 MiB held in memory, the rest spooled to a temporary file until the field arrives.
 *
 * Flat memory = the peak RSS during the upload stays within a few MiB of the RSS before it, whatever
 * the upload's size. The fake upstream parses the form as it streams and reports the file's size.
 */
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { request } from 'node:http';
import { freePort } from '../lib/children.js';
import { fakeCommand, startGateway, type RunningGateway } from '../lib/gateway.js';
import { chatBody, okRequest } from '../lib/http.js';
import { memoryMiB } from '../lib/procfs.js';
import { fmtNum, verdict, type SectionResult } from '../lib/report.js';
import { round } from '../lib/stats.js';

export interface UploadBenchOptions {
  /** Size of the file part in MiB. */
  readonly fileMiB: number;
}

const MiB = 1024 * 1024;
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

interface UploadRun {
  readonly status: number;
  readonly seconds: number;
  readonly rssBeforeMiB: number;
  readonly rssPeakMiB: number;
  /** What the upstream reported receiving: the file's bytes. */
  readonly receivedBytes: number | undefined;
}

/** POST a form of `fileMiB` MiB to /v1/audio/transcriptions, written with backpressure, while sampling the gateway's RSS. */
async function upload(gateway: RunningGateway, fileMiB: number, modelFirst: boolean): Promise<UploadRun> {
  const boundary = `----siesta-bench-${randomBytes(8).toString('hex')}`;
  const field = Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="model"\r\n\r\nwhisper\r\n`);
  const fileHead = Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="speech.wav"\r\nContent-Type: audio/wav\r\n\r\n`);
  const fileTail = Buffer.from('\r\n');
  const close = Buffer.from(`--${boundary}--\r\n`);
  const block = randomBytes(MiB);
  const length = field.length + fileHead.length + fileMiB * MiB + fileTail.length + close.length;

  const rssBeforeMiB = memoryMiB(gateway.pid).rss;
  let rssPeakMiB = rssBeforeMiB;
  const sampler = setInterval(() => {
    rssPeakMiB = Math.max(rssPeakMiB, memoryMiB(gateway.pid).rss);
  }, 50);
  const started = performance.now();
  try {
    const response = new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request(
        {
          host: gateway.target.host,
          port: gateway.target.port,
          method: 'POST',
          path: '/v1/audio/transcriptions',
          agent: false,
          headers: { 'content-type': `multipart/form-data; boundary=${boundary}`, 'content-length': String(length) },
        },
        (res) => {
          let body = '';
          res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        },
      );
      req.on('error', reject);
      void (async () => {
        const write = async (chunk: Buffer): Promise<void> => {
          if (!req.write(chunk)) await once(req, 'drain');
        };
        if (modelFirst) await write(field);
        await write(fileHead);
        for (let index = 0; index < fileMiB; index += 1) await write(block);
        await write(fileTail);
        if (!modelFirst) await write(field);
        req.end(close);
      })().catch(reject);
    });
    const { status, body } = await response;
    const seconds = (performance.now() - started) / 1000;
    rssPeakMiB = Math.max(rssPeakMiB, memoryMiB(gateway.pid).rss);
    const match = /fake transcript of (\d+) bytes/.exec(body);
    return { status, seconds, rssBeforeMiB, rssPeakMiB, receivedBytes: match ? Number(match[1]) : undefined };
  } finally {
    clearInterval(sampler);
  }
}

export async function runUploadBench(options: UploadBenchOptions): Promise<SectionResult> {
  const port = await freePort();
  const gateway = await startGateway('upload', {
    models: {
      whisper: { cmd: fakeCommand(['--backend', 'generic', '--model', 'whisper', '--port', String(port)]), proxy: `http://127.0.0.1:${port}` },
    },
  });
  try {
    // Start the model first: the upload figures are about the upload, not the cold start.
    await okRequest(gateway.target, { path: '/v1/chat/completions', body: chatBody('whisper', { max_tokens: 1 }), agent: false, timeoutMs: 60_000 });
    await sleep(500);
    const first = await upload(gateway, options.fileMiB, true);
    await sleep(500);
    const last = await upload(gateway, options.fileMiB, false);
    const detail = (run: UploadRun): Record<string, unknown> => ({
      fileMiB: options.fileMiB,
      status: run.status,
      seconds: round(run.seconds, 2),
      rssBeforeMiB: round(run.rssBeforeMiB, 1),
      rssPeakMiB: round(run.rssPeakMiB, 1),
      receivedBodyBytes: run.receivedBytes,
    });
    const row = (run: UploadRun, order: string) => {
      const growth = run.rssPeakMiB - run.rssBeforeMiB;
      const ok = run.status === 200 && growth < 64;
      return {
        section: 'upload',
        metric: `${options.fileMiB} MiB multipart upload, model field ${order}: gateway RSS before → peak (MB/s)`,
        baseline: '—',
        siesta: `${fmtNum(run.rssBeforeMiB, 1)} → ${fmtNum(run.rssPeakMiB, 1)} MiB (+${fmtNum(growth, 1)}; ${fmtNum(options.fileMiB / run.seconds, 0)} MiB/s; HTTP ${run.status})`,
        target: 'growth < 64 MiB, 200',
        verdict: verdict(ok),
      };
    };
    return {
      rows: [row(first, 'first'), row(last, 'after the file (spooled to disk)')],
      details: { modelFirst: detail(first), modelAfterFile: detail(last) },
    };
  } finally {
    await gateway.stop();
  }
}

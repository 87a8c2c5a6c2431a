/**
 * llama-server prompt caches across a swap (the plugin's `options: { saveSlots: true }`), on the
 * real llama-server of scripts/provision-llama.sh. One gateway, one swap group of three models:
 *   saved — tiny-a with `--slot-save-path DIR` and saveSlots (siesta saves the slot at the stop and
 *           restores it after the next start, before it admits requests);
 *   plain — the same tiny-a command without saveSlots;
 *   evict — tiny-b, a short request that evicts whichever tiny-a is loaded.
 * Each round: evict, saved (long prompt), evict, plain (same long prompt); so every measured
 * request is the repeat of a prompt its model served before it was stopped. Measured per request:
 * time to first token of the stream (request start → first content chunk from llama-server, cold
 * start included) and the `timings.cache_n` / `prompt_n` llama-server reports on its last chunk.
 * DIR is made under the chroot's /tmp: llama-server runs in the chroot and sees `/tmp/…`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from '../lib/children.js';
import { startGateway } from '../lib/gateway.js';
import { okRequest, timedStream, type Target } from '../lib/http.js';
import type { LlamaTier } from '../lib/llama-tier.js';
import { fmtMs, notProvisioned, verdict, type Row, type SectionResult } from '../lib/report.js';
import { median, round } from '../lib/stats.js';

export interface SlotsBenchOptions {
  readonly rounds: number;
}

const SECTION = 'llama-server saveSlots (real)';
const METRICS = ['repeated long prompt after a swap: time to first token, saveSlots on / off', 'prompt tokens served from the cache after the swap (cache_n / prompt; prompt eval)'];
/** The tiny models have 512 tokens of context at about one token per character (as test/real). */
const LONG_PROMPT = 'the quick brown fox jumps over the lazy dog '.repeat(7);
const REQUEST_TIMEOUT_MS = 60_000;

interface Sample {
  readonly ttftMs: number;
  readonly cacheN: number;
  readonly promptN: number;
  /** llama-server's own prompt evaluation time (`timings.prompt_ms`). */
  readonly promptMs: number;
}

interface Chunk {
  readonly id?: string;
  readonly choices?: readonly { readonly delta?: { readonly content?: string | null } }[];
  readonly timings?: { readonly cache_n?: number; readonly prompt_n?: number; readonly prompt_ms?: number };
}

/** A streamed chat request with the long prompt; greedy and ignoring end-of-turn (every reply has tokens). */
async function longPromptSample(target: Target, model: string): Promise<Sample> {
  const body = { model, messages: [{ role: 'user', content: LONG_PROMPT }], max_tokens: 4, temperature: 0, ignore_eos: true, stream: true };
  const result = await timedStream(target, { path: '/v1/chat/completions', body, agent: false });
  if (result.status !== 200) throw new Error(`${model}: stream answered ${result.status}`);
  const chunks = result.events
    .filter((event) => event.data.startsWith('data: ') && event.data !== 'data: [DONE]')
    .map((event) => ({ at: event.at, chunk: JSON.parse(event.data.slice('data: '.length)) as Chunk }))
    // siesta's loading chunks (while the model starts) are progress, not tokens.
    .filter(({ chunk }) => chunk.id !== 'siesta-loading');
  const first = chunks.find(({ chunk }) => typeof chunk.choices?.[0]?.delta?.content === 'string' && chunk.choices[0].delta.content !== '');
  const timings = chunks.at(-1)?.chunk.timings;
  if (!first || typeof timings?.cache_n !== 'number' || typeof timings.prompt_n !== 'number') {
    throw new Error(`${model}: stream without a content chunk or timings (${chunks.length} chunks)`);
  }
  return { ttftMs: first.at - result.startedAt, cacheN: timings.cache_n, promptN: timings.prompt_n, promptMs: timings.prompt_ms ?? Number.NaN };
}

const cacheShare = (samples: readonly Sample[]): number => median(samples.map((s) => s.cacheN / (s.cacheN + s.promptN)));
const tokens = (samples: readonly Sample[]): string =>
  `${median(samples.map((s) => s.cacheN))} / ${median(samples.map((s) => s.cacheN + s.promptN))} (prompt eval ${fmtMs(median(samples.map((s) => s.promptMs)), 1)})`;

export async function runSlotsBench(tier: LlamaTier | string, options: SlotsBenchOptions): Promise<SectionResult> {
  if (typeof tier === 'string') return notProvisioned(SECTION, METRICS, tier);
  const [nameA, nameB] = Object.keys(tier.models) as [string, string];
  const hostDir = mkdtempSync(join(tier.chroot, 'tmp', 'siesta-bench-slots-'));
  const insideDir = hostDir.slice(tier.chroot.replace(/\/+$/, '').length);
  const ports = { saved: await freePort(), plain: await freePort(), evict: await freePort() };
  const cmd = (model: string, port: number, extra: readonly string[]): string =>
    ['chroot', tier.chroot, tier.llamaServer, '-m', tier.models[model]!, '--host', '127.0.0.1', '--port', String(port), ...extra].join(' ');
  const slotArgs = ['--slot-save-path', insideDir];
  try {
    const gateway = await startGateway('slots', {
      healthCheckTimeout: 60,
      models: {
        saved: { backend: 'llama-server', cmd: cmd(nameA, ports.saved, slotArgs), proxy: `http://127.0.0.1:${ports.saved}`, options: { saveSlots: true } },
        plain: { backend: 'llama-server', cmd: cmd(nameA, ports.plain, slotArgs), proxy: `http://127.0.0.1:${ports.plain}` },
        evict: { backend: 'llama-server', cmd: cmd(nameB, ports.evict, []), proxy: `http://127.0.0.1:${ports.evict}` },
      },
      groups: { gpu: { swap: true, members: ['saved', 'plain', 'evict'] } },
    });
    try {
      const evict = () => okRequest(gateway.target, { path: '/v1/chat/completions', body: { model: 'evict', messages: [{ role: 'user', content: 'hi' }], max_tokens: 1 }, agent: false, timeoutMs: REQUEST_TIMEOUT_MS });
      // Prime: each tiny-a variant serves the long prompt once before its first eviction.
      const primed = { saved: await longPromptSample(gateway.target, 'saved'), plain: await longPromptSample(gateway.target, 'plain') };
      const samples = { saved: [] as Sample[], plain: [] as Sample[] };
      for (let round = 0; round < options.rounds; round += 1) {
        for (const side of ['saved', 'plain'] as const) {
          await evict();
          samples[side].push(await longPromptSample(gateway.target, side));
        }
      }
      const on = median(samples.saved.map((s) => s.ttftMs));
      const off = median(samples.plain.map((s) => s.ttftMs));
      const rows: Row[] = [
        { section: SECTION, metric: METRICS[0]!, baseline: `off ${fmtMs(off, 0)}`, siesta: `on ${fmtMs(on, 0)}`, target: '—', verdict: 'info' },
        { section: SECTION, metric: METRICS[1]!, baseline: `off ${tokens(samples.plain)}`, siesta: `on ${tokens(samples.saved)}`, target: 'on ≥ 90%, off 0', verdict: verdict(cacheShare(samples.saved) >= 0.9 && samples.plain.every((s) => s.cacheN === 0)) },
      ];
      const raw = (list: readonly Sample[]) => list.map((s) => ({ ttftMs: round(s.ttftMs), cacheN: s.cacheN, promptN: s.promptN, promptMs: round(s.promptMs) }));
      return {
        rows,
        details: { provisioned: true, version: tier.version, promptChars: LONG_PROMPT.length, rounds: options.rounds, ttftMedianMs: { on: round(on), off: round(off) }, primed: { saved: raw([primed.saved])[0], plain: raw([primed.plain])[0] }, on: raw(samples.saved), off: raw(samples.plain) },
      };
    } finally {
      await gateway.stop();
    }
  } finally {
    rmSync(hostDir, { recursive: true, force: true });
  }
}

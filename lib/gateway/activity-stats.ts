/**
 * `GET /api/metrics/stats`: llama-swap's summary of the activity log (`ActivityStats`, `HistogramData`
 * in internal/store/store.go): percentiles and a histogram of the token speeds, per model or for all. Pure.
 */
import type { ActivityEntry } from './activity.js';

/** llama-swap's `HistogramData` JSON. */
export interface Histogram {
  readonly bins: readonly number[];
  readonly min: number;
  readonly max: number;
  readonly binSize: number;
  readonly p50: number;
  readonly p95: number;
  readonly p99: number;
}

/** llama-swap's `percentile`: linear interpolation between the closest ranks of sorted values. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  if (sorted.length === 1) return sorted[0]!;
  const rank = (p / 100) * (sorted.length - 1);
  const lower = Math.floor(rank);
  const upper = Math.ceil(rank);
  return sorted[lower]! + (rank - lower) * (sorted[upper]! - sorted[lower]!);
}

/** llama-swap's `calculateHistogramData`: Sturges' bin count between 5 and 20; null for no values. */
export function histogram(values: readonly number[]): Histogram | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const min = sorted[0]!;
  const max = sorted[sorted.length - 1]!;
  const p50 = percentile(sorted, 50);
  const p95 = percentile(sorted, 95);
  const p99 = percentile(sorted, 99);
  if (min === max) return { bins: [values.length], min, max, binSize: 0, p50, p95, p99 };
  const binCount = Math.min(20, Math.max(5, Math.ceil(Math.log2(values.length)) + 1));
  const binSize = (max - min) / binCount;
  const bins = new Array<number>(binCount).fill(0);
  for (const value of values) bins[Math.min(Math.floor((value - min) / binSize), binCount - 1)]! += 1;
  return { bins, min, max, binSize, p50, p95, p99 };
}

/** llama-swap's `ActivityStats` JSON. */
export interface ActivityStats {
  readonly total_requests: number;
  readonly total_input_tokens: number;
  readonly total_output_tokens: number;
  readonly total_cache_tokens: number;
  readonly prompt_histogram: Histogram | null;
  readonly gen_histogram: Histogram | null;
}

/** Totals and speed histograms (speeds of 0 or -1, i.e. not reported, left out), of one model or all. */
export function activityStats(entries: readonly ActivityEntry[], model = ''): ActivityStats {
  const selected = model.trim() === '' ? entries : entries.filter((entry) => entry.model === model.trim());
  let input = 0;
  let output = 0;
  let cached = 0;
  const prompt: number[] = [];
  const generation: number[] = [];
  for (const { tokens } of selected) {
    input += tokens.input_tokens;
    output += tokens.output_tokens;
    if (tokens.cache_tokens > 0) cached += tokens.cache_tokens;
    if (tokens.prompt_per_second > 0) prompt.push(tokens.prompt_per_second);
    if (tokens.tokens_per_second > 0) generation.push(tokens.tokens_per_second);
  }
  return {
    total_requests: selected.length,
    total_input_tokens: input,
    total_output_tokens: output,
    total_cache_tokens: cached,
    prompt_histogram: histogram(prompt),
    gen_histogram: histogram(generation),
  };
}

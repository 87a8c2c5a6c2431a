/** What the soak reads around the gateway: its lifecycle counters (/metrics), its memory, and processes left behind. */
import { readdirSync, readFileSync } from 'node:fs';

/** Lifecycle counters summed over models, from the Prometheus text of /metrics. */
export interface Lifecycle {
  readonly coldStarts: number;
  readonly wakes: number;
  readonly sleeps: number;
  readonly stops: number;
  readonly sleepFallbacks: number;
  readonly wakeFallbacks: number;
}

/** Sum of every sample of `name` (optionally only those whose labels include `labelText`). Pure. */
export function sumSamples(text: string, name: string, labelText = ''): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (labelText && !line.includes(labelText)) continue;
    const value = Number(line.slice(line.lastIndexOf(' ') + 1));
    if (Number.isFinite(value)) sum += value;
  }
  return sum;
}

export function lifecycleOf(metricsText: string): Lifecycle {
  return {
    coldStarts: sumSamples(metricsText, 'siesta_model_starts_total'),
    wakes: sumSamples(metricsText, 'siesta_model_wakes_total'),
    sleeps: sumSamples(metricsText, 'siesta_model_sleeps_total'),
    stops: sumSamples(metricsText, 'siesta_model_stops_total'),
    sleepFallbacks: sumSamples(metricsText, 'siesta_model_fallbacks_total', 'kind="sleep"'),
    wakeFallbacks: sumSamples(metricsText, 'siesta_model_fallbacks_total', 'kind="wake"'),
  };
}

/** VmRSS of `pid` in MiB; NaN when it cannot be read. */
export function rssMiB(pid: number): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    return Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? Number.NaN) / 1024;
  } catch {
    return Number.NaN;
  }
}

/** Live (non-zombie) processes whose command line contains `marker`: the run's model servers carry it. */
export function processesWith(marker: string): { pid: number; cmdline: string }[] {
  const found: { pid: number; cmdline: string }[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replaceAll('\0', ' ').trim();
      if (!cmdline.includes(marker)) continue;
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
      if (state !== 'Z' && state !== 'X') found.push({ pid: Number(entry), cmdline });
    } catch {
      // gone while we looked
    }
  }
  return found;
}

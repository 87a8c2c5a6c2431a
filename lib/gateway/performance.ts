/**
 * `GET /api/performance`: llama-swap's answer (`{ enabled, sys_stats, gpu_stats }`, internal/perf
 * types) with one sample taken when asked, instead of llama-swap's hour of samples taken every
 * few seconds; plus a `siesta` block with what siesta itself measures: the gateway process's CPU
 * and memory, and its request figures.
 */
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { LIVE_QUERY, parseLiveQuery, runNvidiaSmi, type GpuStat, type NvidiaSmiOptions } from './nvidia-smi.js';

/** llama-swap's `SysStat` JSON. */
export interface SysStat {
  readonly timestamp: string;
  readonly cpu_util_per_core: readonly number[];
  readonly mem_total_mb: number;
  readonly mem_used_mb: number;
  readonly mem_free_mb: number;
  readonly swap_total_mb: number;
  readonly swap_used_mb: number;
  readonly load_avg_1: number;
  readonly load_avg_5: number;
  readonly load_avg_15: number;
  readonly net_io: readonly { name: string; bytes_recv: number; bytes_sent: number }[];
}

export interface ProcessStat {
  readonly pid: number;
  readonly uptime_s: number;
  /** Share of one core used since the previous sample (or since start). */
  readonly cpu_pct: number;
  readonly rss_bytes: number;
  readonly heap_used_bytes: number;
  readonly heap_total_bytes: number;
  readonly external_bytes: number;
}

export interface RequestFigures {
  readonly in_flight: number;
  /** Model requests recorded in the activity log since the gateway started (also those since dropped from it). */
  readonly recorded: number;
  readonly failed: number;
  readonly input_tokens: number;
  readonly output_tokens: number;
  readonly activity_kept: number;
  readonly capture_bytes: number;
}

export interface PerformanceAnswer {
  readonly enabled: true;
  readonly sys_stats: readonly SysStat[];
  readonly gpu_stats: readonly GpuStat[];
  readonly siesta: { readonly process: ProcessStat; readonly requests: RequestFigures };
}

type CpuTimes = os.CpuInfo['times'];

function busy(times: CpuTimes): number {
  return times.user + times.nice + times.sys + times.irq;
}

function total(times: CpuTimes): number {
  return busy(times) + times.idle;
}

/** Per-core utilisation in percent between two readings of `os.cpus()` times (since boot without a previous one). */
export function cpuUtilPerCore(previous: readonly CpuTimes[] | null, current: readonly CpuTimes[]): number[] {
  return current.map((times, index) => {
    const before = previous?.[index];
    const spent = total(times) - (before ? total(before) : 0);
    const used = busy(times) - (before ? busy(before) : 0);
    return spent > 0 ? Math.round((used / spent) * 10_000) / 100 : 0;
  });
}

/** `SwapTotal` and `SwapFree` of /proc/meminfo, in MiB (0 when absent). */
export function swapFromMeminfo(text: string): { totalMb: number; usedMb: number } {
  const kib = (key: string): number => Number(new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(text)?.[1] ?? 0);
  const totalKib = kib('SwapTotal');
  return { totalMb: Math.floor(totalKib / 1024), usedMb: Math.floor((totalKib - kib('SwapFree')) / 1024) };
}

const MIB = 1024 * 1024;

export class PerformanceSampler {
  #cpuTimes: CpuTimes[] | null = null;
  #processCpu: NodeJS.CpuUsage | null = null;
  #processAtMs = 0;
  readonly #nvidia: NvidiaSmiOptions;

  constructor(nvidia: NvidiaSmiOptions = {}) {
    this.#nvidia = nvidia;
  }

  async sample(requests: RequestFigures, now = new Date()): Promise<PerformanceAnswer> {
    const timestamp = now.toISOString();
    const times = os.cpus().map((cpu) => cpu.times);
    const perCore = cpuUtilPerCore(this.#cpuTimes, times);
    this.#cpuTimes = times;
    let meminfo: string;
    try {
      meminfo = os.platform() === 'linux' ? readFileSync('/proc/meminfo', 'utf8') : '';
    } catch {
      meminfo = '';
    }
    const swap = swapFromMeminfo(meminfo);
    const [load1 = 0, load5 = 0, load15 = 0] = os.loadavg();
    const sys: SysStat = {
      timestamp,
      cpu_util_per_core: perCore,
      mem_total_mb: Math.floor(os.totalmem() / MIB),
      mem_used_mb: Math.floor((os.totalmem() - os.freemem()) / MIB),
      mem_free_mb: Math.floor(os.freemem() / MIB),
      swap_total_mb: swap.totalMb,
      swap_used_mb: swap.usedMb,
      load_avg_1: load1,
      load_avg_5: load5,
      load_avg_15: load15,
      net_io: [],
    };
    const output = await runNvidiaSmi(LIVE_QUERY, this.#nvidia);
    const gpus = output === null ? [] : parseLiveQuery(output, timestamp);
    return { enabled: true, sys_stats: [sys], gpu_stats: gpus, siesta: { process: this.#process(), requests } };
  }

  #process(): ProcessStat {
    const nowMs = performance.now();
    const usage = process.cpuUsage();
    const since = this.#processCpu ? process.cpuUsage(this.#processCpu) : usage;
    const elapsedMs = this.#processCpu ? nowMs - this.#processAtMs : process.uptime() * 1000;
    this.#processCpu = usage;
    this.#processAtMs = nowMs;
    const memory = process.memoryUsage();
    return {
      pid: process.pid,
      uptime_s: Math.round(process.uptime()),
      cpu_pct: elapsedMs > 0 ? Math.round(((since.user + since.system) / 1000 / elapsedMs) * 10_000) / 100 : 0,
      rss_bytes: memory.rss,
      heap_used_bytes: memory.heapUsed,
      heap_total_bytes: memory.heapTotal,
      external_bytes: memory.external,
    };
  }
}

/**
 * NVIDIA GPUs through `nvidia-smi`, queried as llama-swap queries it: the static facts
 * (internal/hw/nvidia.go) and the live figures (internal/perf/monitor_unix.go, one sample instead
 * of `--loop`). Both use `--format=csv,noheader,nounits`: one line per GPU, fields separated by
 * ", ", values without units, `[N/A]` or `[Not Supported]` when the driver has none.
 * The parsers are pure; `runNvidiaSmi` is the one effect, and any failure (no nvidia-smi on PATH,
 * no driver, a timeout) is "no GPUs", never an error.
 */
import { execFile } from 'node:child_process';

/** llama-swap's static query (hw.detectNvidia), then the architecture and compute capability ones. */
export const STATIC_QUERY = ['--query-gpu=index,name,uuid,pci.bus_id,memory.total,driver_version,power.limit', '--format=csv,noheader,nounits'] as const;
export const ARCHITECTURE_QUERY = ['--query-gpu=index,architecture', '--format=csv,noheader,nounits'] as const;
export const COMPUTE_CAP_QUERY = ['--query-gpu=index,compute_cap', '--format=csv,noheader,nounits'] as const;
/** llama-swap's live query (perf.tryNvidiaSmi), without its `--loop`. */
export const LIVE_QUERY = ['--query-gpu=index,name,uuid,temperature.gpu,utilization.gpu,memory.used,memory.total,fan.speed,power.draw', '--format=csv,noheader,nounits'] as const;

export interface NvidiaRecord {
  readonly index: number;
  readonly name: string;
  readonly uuid: string;
  readonly busId: string;
  readonly memoryBytes: number;
  readonly driver: string;
  readonly powerLimitWatts: number;
  architecture: string;
}

/** Go's encoding/csv with TrimLeadingSpace: quoted fields allowed, spaces after commas dropped. */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  for (const line of text.split(/\r?\n/)) {
    if (line.trim() === '') continue;
    const fields: string[] = [];
    let index = 0;
    for (;;) {
      while (line[index] === ' ' || line[index] === '\t') index++;
      let field = '';
      if (line[index] === '"') {
        index++;
        for (;;) {
          if (index >= line.length) break;
          if (line[index] === '"') {
            if (line[index + 1] === '"') {
              field += '"';
              index += 2;
              continue;
            }
            index++;
            break;
          }
          field += line[index++];
        }
        while (index < line.length && line[index] !== ',') index++;
      } else {
        const comma = line.indexOf(',', index);
        field = comma < 0 ? line.slice(index) : line.slice(index, comma);
        index = comma < 0 ? line.length : comma;
      }
      fields.push(field);
      if (index >= line.length) break;
      index++; // the comma
    }
    rows.push(fields);
  }
  return rows;
}

/** llama-swap's `parseOptionalFloat`: empty, `N/A` and `[Not Supported]` are absent. */
export function optionalNumber(value: string | undefined): number | null {
  const text = (value ?? '').trim();
  if (text === '' || /^\[?n\/a\]?$/i.test(text) || /^\[not supported\]$/i.test(text)) return null;
  const number = Number(text);
  return Number.isFinite(number) ? number : null;
}

/** The static query's output; null when it is not what nvidia-smi prints (llama-swap: an error). */
export function parseStaticQuery(output: string): NvidiaRecord[] | null {
  const records: NvidiaRecord[] = [];
  for (const row of parseCsv(output)) {
    if (row.length !== 7) return null;
    const index = Number(row[0]!.trim());
    if (!Number.isInteger(index)) return null;
    records.push({
      index,
      name: row[1]!.trim(),
      uuid: row[2]!.trim(),
      busId: row[3]!.trim(),
      memoryBytes: Math.trunc((optionalNumber(row[4]) ?? 0) * 1024 * 1024),
      driver: row[5]!.trim(),
      powerLimitWatts: optionalNumber(row[6]) ?? 0,
      architecture: '',
    });
  }
  return records;
}

/** `index, value` rows (architecture, compute capability) by GPU index; rows that do not fit are skipped. */
export function parseIndexedValues(output: string): Map<number, string> {
  const values = new Map<number, string>();
  for (const row of parseCsv(output)) {
    if (row.length !== 2) continue;
    const index = Number(row[0]!.trim());
    const value = row[1]!.trim();
    if (Number.isInteger(index) && value !== '' && !/^(\[?n\/a\]?|unknown)$/i.test(value)) values.set(index, value);
  }
  return values;
}

/** llama-swap's `nvidiaArchitectureForComputeCapability`. */
export function architectureForComputeCapability(value: string): string {
  const table: Readonly<Record<string, string>> = {
    '2.0': 'Fermi', '2.1': 'Fermi',
    '3.0': 'Kepler', '3.2': 'Kepler', '3.5': 'Kepler', '3.7': 'Kepler',
    '5.0': 'Maxwell', '5.2': 'Maxwell', '5.3': 'Maxwell',
    '6.0': 'Pascal', '6.1': 'Pascal', '6.2': 'Pascal',
    '7.0': 'Volta', '7.2': 'Volta', '7.5': 'Turing',
    '8.0': 'Ampere', '8.6': 'Ampere', '8.7': 'Ampere', '8.9': 'Ada Lovelace', '9.0': 'Hopper',
    '10.0': 'Blackwell', '10.3': 'Blackwell', '11.0': 'Blackwell', '12.0': 'Blackwell', '12.1': 'Blackwell',
  };
  return table[value.trim()] ?? '';
}

/** llama-swap's `GpuStat` JSON (internal/perf/types.go). */
export interface GpuStat {
  readonly timestamp: string;
  readonly id: number;
  readonly name: string;
  readonly uuid: string;
  readonly temp_c: number;
  readonly vram_temp_c: number;
  readonly gpu_util_pct: number;
  readonly mem_util_pct: number;
  readonly mem_used_mb: number;
  readonly mem_total_mb: number;
  readonly fan_speed_pct: number;
  readonly power_draw_w: number;
}

/** llama-swap's `ParseNvidiaSmiLine` for each line of the live query (unreadable numbers are 0). */
export function parseLiveQuery(output: string, timestamp: string): GpuStat[] {
  const stats: GpuStat[] = [];
  for (const line of output.split(/\r?\n/)) {
    const fields = line.trim().split(',');
    if (line.trim() === '' || fields.length < 9) continue;
    const int = (value: string | undefined): number => Math.trunc(optionalNumber(value) ?? 0);
    const float = (value: string | undefined): number => optionalNumber(value) ?? 0;
    const memUsed = int(fields[5]);
    const memTotal = int(fields[6]);
    stats.push({
      timestamp,
      id: int(fields[0]),
      name: fields[1]!.trim(),
      uuid: fields[2]!.trim(),
      temp_c: int(fields[3]),
      vram_temp_c: 0,
      gpu_util_pct: float(fields[4]),
      mem_util_pct: memTotal > 0 ? (memUsed / memTotal) * 100 : 0,
      mem_used_mb: memUsed,
      mem_total_mb: memTotal,
      fan_speed_pct: float(fields[7]),
      power_draw_w: float(fields[8]),
    });
  }
  return stats;
}

export interface NvidiaSmiOptions {
  /** The command (default `nvidia-smi`, found on PATH). */
  readonly command?: string;
  readonly timeoutMs?: number;
}

/** Run nvidia-smi with `args`; its standard output, or null when it is missing or fails. */
export function runNvidiaSmi(args: readonly string[], options: NvidiaSmiOptions = {}): Promise<string | null> {
  return new Promise((resolve) => {
    execFile(options.command ?? 'nvidia-smi', [...args], { timeout: options.timeoutMs ?? 5000, windowsHide: true, maxBuffer: 1024 * 1024 }, (error, stdout) => {
      resolve(error ? null : stdout);
    });
  });
}

/**
 * `GET /api/hardware`: llama-swap's `HardwareSnapshot` (internal/hw/types.go, schema version 1) of
 * the machine siesta runs on: architecture, operating system, CPU, memory and the NVIDIA GPUs that
 * `nvidia-smi` reports (none without it). Unknown facts are null, never invented. Detection never
 * fails: each probe that cannot answer leaves its fields empty.
 */
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import {
  architectureForComputeCapability,
  ARCHITECTURE_QUERY,
  COMPUTE_CAP_QUERY,
  parseIndexedValues,
  parseStaticQuery,
  runNvidiaSmi,
  STATIC_QUERY,
  type NvidiaRecord,
  type NvidiaSmiOptions,
} from './nvidia-smi.js';

export interface Accelerator {
  readonly index: number;
  readonly kind: 'gpu';
  readonly vendor: string | null;
  readonly model: string | null;
  readonly architecture: string | null;
  readonly memory: { readonly kind: string; readonly capacity_bytes: number | null };
  readonly driver: { readonly name: string | null; readonly version: string | null } | null;
  readonly power_limit_watts: number | null;
}

export interface HardwareSnapshot {
  readonly schema_version: 1;
  readonly captured_at: string;
  readonly capture: { readonly scope: 'inference_host'; readonly method: 'detected'; readonly detector: { readonly name: string; readonly version: string } };
  readonly architecture: { readonly name: string; readonly raw_name: string | null };
  readonly operating_system: { readonly family: string; readonly name: string | null; readonly version: string | null; readonly kernel: string | null; readonly raw_family?: string };
  readonly environment: { readonly kind: string; readonly name: string | null; readonly version: string | null };
  readonly cpu: {
    readonly vendor: string | null;
    readonly model: string | null;
    readonly socket_count: number | null;
    readonly physical_core_count: number | null;
    readonly logical_thread_count: number | null;
  };
  readonly memory: { readonly capacity_bytes: number };
  readonly accelerators: readonly Accelerator[];
}

/** llama-swap's `nonEmptyStringPtr`: blank, `n/a` and `unknown` are null. */
function known(value: string | undefined): string | null {
  const text = (value ?? '').trim();
  return text === '' || /^(n\/a|unknown)$/i.test(text) ? null : text;
}

/** llama-swap's `normalizePCIIdentity`, used to order the GPUs as it does. */
export function pciIdentity(value: string): string {
  let text = value.trim().toLowerCase();
  if (text === '' || text === 'n/a') return '';
  if (text.split(':').length === 2) text = `0000:${text}`;
  const parts = text.split(':');
  if (parts.length === 3 && /^[0-9a-f]+$/.test(parts[0]!)) parts[0] = parseInt(parts[0]!, 16).toString(16).padStart(4, '0');
  return parts.join(':');
}

/** The accelerators of nvidia-smi's records, sorted and indexed as llama-swap's `finalizeAccelerators`. */
export function nvidiaAccelerators(records: readonly NvidiaRecord[]): Accelerator[] {
  const identified = records.map((record) => ({ identity: pciIdentity(record.busId) || record.uuid.trim(), record }));
  identified.sort((a, b) => (a.identity !== b.identity ? (a.identity < b.identity ? -1 : 1) : a.record.name < b.record.name ? -1 : a.record.name > b.record.name ? 1 : 0));
  return identified.map(({ record }, index) => {
    const version = known(record.driver);
    return {
      index,
      kind: 'gpu',
      vendor: 'NVIDIA',
      model: known(record.name),
      architecture: known(record.architecture),
      memory: { kind: 'dedicated', capacity_bytes: record.memoryBytes > 0 ? record.memoryBytes : null },
      driver: version ? { name: 'NVIDIA', version } : null,
      power_limit_watts: record.powerLimitWatts > 0 ? record.powerLimitWatts : null,
    };
  });
}

/** llama-swap's `hw.detectNvidia`: the static query, then the architecture (or compute capability). */
export async function detectNvidia(options: NvidiaSmiOptions = {}): Promise<Accelerator[]> {
  const output = await runNvidiaSmi(STATIC_QUERY, options);
  const records = output === null ? null : parseStaticQuery(output);
  if (!records || records.length === 0) return [];
  const architectures = await runNvidiaSmi(ARCHITECTURE_QUERY, options);
  if (architectures !== null) {
    const byIndex = parseIndexedValues(architectures);
    for (const record of records) record.architecture = byIndex.get(record.index) ?? record.architecture;
  }
  if (records.some((record) => record.architecture === '')) {
    const capabilities = await runNvidiaSmi(COMPUTE_CAP_QUERY, options);
    if (capabilities !== null) {
      const byIndex = parseIndexedValues(capabilities);
      for (const record of records) if (record.architecture === '') record.architecture = architectureForComputeCapability(byIndex.get(record.index) ?? '');
    }
  }
  return nvidiaAccelerators(records);
}

/** CPU sockets and physical cores from /proc/cpuinfo text (`physical id`, `core id`); null when absent. */
export function cpuTopology(cpuinfo: string): { vendor: string | null; sockets: number | null; cores: number | null } {
  const sockets = new Set<string>();
  const cores = new Set<string>();
  let vendor: string | null = null;
  for (const block of cpuinfo.split(/\n\s*\n/)) {
    const field = (name: string): string | undefined => new RegExp(`^${name}\\s*:\\s*(.*)$`, 'm').exec(block)?.[1]?.trim();
    vendor ??= known(field('vendor_id'));
    const socket = field('physical id');
    const core = field('core id');
    if (socket !== undefined) sockets.add(socket);
    if (socket !== undefined && core !== undefined) cores.add(`${socket}:${core}`);
  }
  return { vendor, sockets: sockets.size > 0 ? sockets.size : null, cores: cores.size > 0 ? cores.size : null };
}

/** `ID` and `VERSION_ID` of /etc/os-release (what gopsutil reports as platform and version). */
export function osRelease(text: string): { name: string | null; version: string | null } {
  const value = (key: string): string | null => known(new RegExp(`^${key}=(.*)$`, 'm').exec(text)?.[1]?.replace(/^["']|["']$/g, ''));
  return { name: value('ID'), version: value('VERSION_ID') };
}

function readText(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

const ARCHITECTURES: Readonly<Record<string, { name: string; raw: boolean }>> = {
  x64: { name: 'x86_64', raw: true },
  arm64: { name: 'arm64', raw: false },
  ppc64: { name: 'ppc64le', raw: true },
  riscv64: { name: 'riscv64', raw: false },
  s390x: { name: 's390x', raw: false },
  arm: { name: 'armv7', raw: true },
};

const OS_FAMILIES: Readonly<Record<string, string>> = { linux: 'linux', win32: 'windows', freebsd: 'freebsd', darwin: 'macos' };

export interface HardwareOptions extends NvidiaSmiOptions {
  /** The detector's version (siesta's). */
  readonly version: string;
  readonly now?: () => Date;
}

/** Detect the snapshot; never throws. */
export async function detectHardware(options: HardwareOptions): Promise<HardwareSnapshot> {
  const arch = ARCHITECTURES[os.arch()] ?? { name: 'other', raw: true };
  const family = OS_FAMILIES[os.platform()] ?? 'other';
  const release = family === 'linux' ? osRelease(readText('/etc/os-release')) : { name: family === 'macos' ? 'macOS' : null, version: null };
  const cpus = os.cpus();
  const topology = cpuTopology(family === 'linux' ? readText('/proc/cpuinfo') : '');
  const accelerators = await detectNvidia(options).catch((): Accelerator[] => []);
  return {
    schema_version: 1,
    captured_at: (options.now?.() ?? new Date()).toISOString(),
    capture: { scope: 'inference_host', method: 'detected', detector: { name: 'siesta', version: options.version } },
    architecture: { name: arch.name, raw_name: arch.raw ? os.arch() : null },
    operating_system: { family, name: release.name, version: release.version, kernel: known(os.release()), ...(family === 'other' ? { raw_family: os.platform() } : {}) },
    environment: existsSync('/.dockerenv') ? { kind: 'container', name: 'Docker', version: null } : { kind: 'unknown', name: null, version: null },
    cpu: {
      vendor: topology.vendor,
      model: known(cpus[0]?.model),
      socket_count: topology.sockets,
      physical_core_count: topology.cores,
      logical_thread_count: cpus.length > 0 ? cpus.length : null,
    },
    memory: { capacity_bytes: os.totalmem() },
    accelerators,
  };
}

/**
 * Pid files: one per model server, in the state directory, so that the servers left behind by a
 * gateway that died (SIGKILL, OOM, power) are found and stopped when a gateway starts again.
 *
 * A file records the server (pid and start time) and the gateway that started it (pid and start
 * time). Start times are field 22 of /proc/<pid>/stat (clock ticks after boot), so a recycled pid
 * is never taken for the process that was recorded. The rules (`judgeRecord`) are pure:
 *   1. the gateway that wrote the file is this one: keep it (a gateway never removes its own files
 *      while reaping);
 *   2. the gateway that wrote it still runs: keep it and never signal its server;
 *   3. the gateway is gone and the server (or what is left of its process group) still runs: reap;
 *   4. otherwise the file is stale: drop it.
 * Each file is named after its model, its gateway and its server, so two gateways on one state
 * directory, or a server started while an older one of the same model is stopping, never
 * overwrite or delete each other's file.
 *
 * What the rules ask about processes (alive, start time, command line, group) is process-probe.ts.
 */
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pause, systemClock, type Clock } from '../clock.js';
import { procProbe, type ProcessProbe } from './process-probe.js';

export interface PidRecord {
  readonly model: string;
  readonly pid: number;
  readonly argv: readonly string[];
  /** The server's start time (/proc/<pid>/stat field 22); null when unknown (files of older versions lack it). */
  readonly startTicks?: number | null;
  readonly gatewayPid: number;
  /** The gateway's start time, as `startTicks`. */
  readonly gatewayStartTicks?: number | null;
  readonly startedAt: string;
}

/** What a caller gives: the start times are read from /proc when not given. */
export type PidRecordInput = Omit<PidRecord, 'startTicks' | 'gatewayStartTicks'> & Partial<Pick<PidRecord, 'startTicks' | 'gatewayStartTicks'>>;

/** This gateway, as its records name it. */
export interface GatewayIdentity {
  readonly pid: number;
  readonly startTicks: number | null;
}

export function selfIdentity(probe: ProcessProbe = procProbe): GatewayIdentity {
  return { pid: process.pid, startTicks: probe.startTicks(process.pid) };
}

export type Verdict = 'own' | 'live-gateway' | 'reap' | 'drop';

/** Whether the recorded pid still is the recorded process: same start time, else (older files) same command. */
function sameProcess(pid: number, recordedTicks: number | null | undefined, argv: readonly string[] | undefined, probe: ProcessProbe): boolean {
  if (!probe.alive(pid)) return false;
  const liveTicks = probe.startTicks(pid);
  if (typeof recordedTicks === 'number' && liveTicks !== null) return liveTicks === recordedTicks;
  if (argv === undefined) return true;
  // argv[0] may have been resolved by the spawner; the arguments must match.
  const live = probe.commandLine(pid);
  return live !== null && live.length === argv.length && argv.slice(1).every((arg, index) => arg === live[index + 1]);
}

/** The rules of the header, in order. */
export function judgeRecord(record: PidRecord, self: GatewayIdentity, probe: ProcessProbe): Verdict {
  const recordedGatewayTicks = record.gatewayStartTicks ?? null;
  const isSelf = record.gatewayPid === self.pid && recordedGatewayTicks !== null && recordedGatewayTicks === self.startTicks;
  // 1. Ours. (A file of an older version naming our pid was written by an earlier gateway.)
  if (isSelf || (record.gatewayPid === self.pid && recordedGatewayTicks === null && self.startTicks === null)) return 'own';
  // 2. Another gateway that still runs: when its start time is unknown it may be the writer, so it counts as alive.
  if (record.gatewayPid !== self.pid && sameProcess(record.gatewayPid, recordedGatewayTicks, undefined, probe)) return 'live-gateway';
  // 3. The server, or the rest of its group (a pgid is not reused while the group exists).
  if (sameProcess(record.pid, record.startTicks, record.argv, probe)) return 'reap';
  if (!probe.alive(record.pid) && probe.groupAlive(record.pid)) return 'reap';
  // 4.
  return 'drop';
}

// ---- files ----

const SUFFIX = '.pid.json';

/** `encodeURIComponent` plus `.`, so that the dots of the file name only separate its parts. */
function encodeModel(model: string): string {
  return encodeURIComponent(model).replaceAll('.', '%2E');
}

function gatewayPart(gateway: GatewayIdentity): string {
  return `${gateway.pid}-${gateway.startTicks ?? 0}`;
}

function fileName(record: PidRecord): string {
  return `${encodeModel(record.model)}.${gatewayPart({ pid: record.gatewayPid, startTicks: record.gatewayStartTicks ?? null })}.${record.pid}${SUFFIX}`;
}

/** Record a server this gateway (or `record.gatewayPid`) started; start times are read now when not given. */
export async function writePidFile(stateDir: string, input: PidRecordInput, probe: ProcessProbe = procProbe): Promise<void> {
  const record: PidRecord = {
    ...input,
    startTicks: input.startTicks !== undefined ? input.startTicks : probe.startTicks(input.pid),
    gatewayStartTicks: input.gatewayStartTicks !== undefined ? input.gatewayStartTicks : probe.startTicks(input.gatewayPid),
  };
  await mkdir(stateDir, { recursive: true });
  await writeFile(join(stateDir, fileName(record)), JSON.stringify(record) + '\n');
}

export interface PidFile {
  readonly file: string;
  readonly record: PidRecord;
}

function isRecord(value: unknown): value is PidRecord {
  const record = value as Partial<PidRecord> | null;
  return typeof record === 'object' && record !== null && typeof record.model === 'string' && Number.isSafeInteger(record.pid) && (record.pid ?? 0) > 0 && Number.isSafeInteger(record.gatewayPid);
}

/** Every readable pid file; one that does not parse is removed (a write cut short by a crash). */
export async function readPidFiles(stateDir: string): Promise<PidFile[]> {
  let entries: string[];
  try {
    entries = await readdir(stateDir);
  } catch {
    return [];
  }
  const files: PidFile[] = [];
  for (const entry of entries.filter((name) => name.endsWith(SUFFIX)).sort()) {
    const file = join(stateDir, entry);
    try {
      const parsed: unknown = JSON.parse(await readFile(file, 'utf8'));
      if (isRecord(parsed)) files.push({ file, record: parsed });
      else await rm(file, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') await rm(file, { force: true });
    }
  }
  return files;
}

/**
 * After this gateway's server of `model` stopped: remove this gateway's files of `model` whose
 * server no longer runs. A file of a server started since (a restart racing the removal) stays.
 */
export async function removePidFile(stateDir: string, model: string, probe: ProcessProbe = procProbe): Promise<void> {
  const self = selfIdentity(probe);
  const prefix = `${encodeModel(model)}.${gatewayPart(self)}.`;
  let entries: string[];
  try {
    entries = await readdir(stateDir);
  } catch {
    return;
  }
  for (const entry of entries.filter((name) => name.startsWith(prefix) && name.endsWith(SUFFIX))) {
    const pid = Number(entry.slice(prefix.length, -SUFFIX.length));
    if (Number.isSafeInteger(pid) && pid > 0 && probe.alive(pid)) {
      let record: unknown;
      try {
        record = JSON.parse(await readFile(join(stateDir, entry), 'utf8'));
      } catch {
        record = null;
      }
      if (isRecord(record) && record.model === model && sameProcess(pid, record.startTicks, record.argv, probe)) continue;
    }
    await rm(join(stateDir, entry), { force: true });
  }
}

// ---- reaping ----

export interface ReapedServer {
  readonly record: PidRecord;
  /** The signal that ended it: SIGTERM, or SIGKILL after the grace. */
  readonly signal: 'SIGTERM' | 'SIGKILL';
  /** From SIGTERM to the group being gone (or the last check). */
  readonly ms: number;
  /** False when the group was still there after SIGKILL and the last check. */
  readonly gone: boolean;
}

export interface ReapReport {
  readonly reaped: readonly ReapedServer[];
  /** Records of other gateways that still run: left alone. */
  readonly othersLive: readonly PidRecord[];
}

export interface ReapOptions {
  /** The grace between SIGTERM and SIGKILL for a model (its unloadTimeoutMs). */
  readonly graceMsFor: (model: string) => number;
  /** Upper bound of any grace, so that a start is never held long. */
  readonly capMs?: number;
  readonly probe?: ProcessProbe;
  readonly pollMs?: number;
  /** The grace and the polls run on it (default the system clock). */
  readonly clock?: Clock;
}

/** The default upper bound of the grace when reaping (siesta's default unloadTimeout). */
export const REAP_GRACE_CAP_MS = 10_000;
/** How long to wait for a group to vanish after SIGKILL before giving up on it. */
const AFTER_KILL_MS = 2_000;

function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // already gone
  }
}

async function waitGroupGone(pgid: number, untilMs: number, probe: ProcessProbe, pollMs: number, clock: Clock): Promise<boolean> {
  for (;;) {
    if (!probe.groupAlive(pgid)) return true;
    if (clock.now() >= untilMs) return false;
    await pause(clock, pollMs).done;
  }
}

async function reapOne(pidFile: PidFile, options: ReapOptions, probe: ProcessProbe): Promise<ReapedServer> {
  const { record } = pidFile;
  const pollMs = options.pollMs ?? 20;
  const clock = options.clock ?? systemClock;
  const graceMs = Math.max(0, Math.min(options.graceMsFor(record.model), options.capMs ?? REAP_GRACE_CAP_MS));
  const startedMs = clock.now();
  signalGroup(record.pid, 'SIGTERM');
  let signal: ReapedServer['signal'] = 'SIGTERM';
  let gone = await waitGroupGone(record.pid, startedMs + graceMs, probe, pollMs, clock);
  if (!gone) {
    signal = 'SIGKILL';
    signalGroup(record.pid, 'SIGKILL');
    gone = await waitGroupGone(record.pid, clock.now() + AFTER_KILL_MS, probe, pollMs, clock);
  }
  await rm(pidFile.file, { force: true });
  return { record, signal, ms: Math.round(clock.now() - startedMs), gone };
}

/**
 * Stop the servers of gateways that died, all at once and each within its grace (capped), and
 * drop stale files. Files of this gateway and of live gateways are never touched.
 */
export async function reapLeftovers(stateDir: string, options: ReapOptions): Promise<ReapReport> {
  const probe = options.probe ?? procProbe;
  const self = selfIdentity(probe);
  const othersLive: PidRecord[] = [];
  const reaping: Promise<ReapedServer>[] = [];
  for (const pidFile of await readPidFiles(stateDir)) {
    switch (judgeRecord(pidFile.record, self, probe)) {
      case 'own':
        break;
      case 'live-gateway':
        othersLive.push(pidFile.record);
        break;
      case 'reap':
        reaping.push(reapOne(pidFile, options, probe));
        break;
      case 'drop':
        await rm(pidFile.file, { force: true });
        break;
    }
  }
  return { reaped: await Promise.all(reaping), othersLive };
}

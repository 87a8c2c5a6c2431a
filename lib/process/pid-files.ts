/**
 * One pid file per running model in the state directory, so that children left behind by a gateway
 * that crashed are found and stopped at the next start. A recorded pid is only signalled when the
 * process with that pid still runs the recorded command (pids are recycled).
 */
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface PidRecord {
  readonly model: string;
  readonly pid: number;
  readonly argv: readonly string[];
  readonly gatewayPid: number;
  readonly startedAt: string;
}

function fileFor(stateDir: string, model: string): string {
  return join(stateDir, `${encodeURIComponent(model)}.pid.json`);
}

export async function writePidFile(stateDir: string, record: PidRecord): Promise<void> {
  await mkdir(stateDir, { recursive: true });
  await writeFile(fileFor(stateDir, record.model), JSON.stringify(record) + '\n');
}

export async function removePidFile(stateDir: string, model: string): Promise<void> {
  await rm(fileFor(stateDir, model), { force: true });
}

function commandLine(pid: number): string[] | null {
  try {
    const raw = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return raw.split('\0').filter((part) => part.length > 0);
  } catch {
    return null;
  }
}

/** Whether `pid` still runs the command that was recorded (argv[1..] must match; argv[0] may be resolved). */
export function stillRunsRecordedCommand(record: PidRecord): boolean {
  const live = commandLine(record.pid);
  if (!live || live.length === 0) return false;
  const recorded = record.argv;
  if (recorded.length !== live.length) return false;
  return recorded.slice(1).every((arg, index) => arg === live[index + 1]);
}

export async function readPidFiles(stateDir: string): Promise<PidRecord[]> {
  let entries: string[];
  try {
    entries = await readdir(stateDir);
  } catch {
    return [];
  }
  const records: PidRecord[] = [];
  for (const entry of entries.filter((name) => name.endsWith('.pid.json'))) {
    try {
      records.push(JSON.parse(await readFile(join(stateDir, entry), 'utf8')) as PidRecord);
    } catch {
      await rm(join(stateDir, entry), { force: true });
    }
  }
  return records;
}

function groupAlive(pid: number): boolean {
  try {
    process.kill(-pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Stop the children recorded by a previous gateway: SIGTERM to each group whose leader still runs
 * the recorded command, SIGKILL after `graceMsFor(record.model)`. Returns the records that were reaped.
 */
export async function reapLeftovers(stateDir: string, graceMsFor: (model: string) => number): Promise<PidRecord[]> {
  const reaped: PidRecord[] = [];
  for (const record of await readPidFiles(stateDir)) {
    if (record.gatewayPid === process.pid) continue;
    if (stillRunsRecordedCommand(record)) {
      try {
        process.kill(-record.pid, 'SIGTERM');
      } catch {
        // already gone
      }
      const deadline = performance.now() + graceMsFor(record.model);
      while (groupAlive(record.pid) && performance.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      if (groupAlive(record.pid)) {
        try {
          process.kill(-record.pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
      reaped.push(record);
    }
    await removePidFile(stateDir, record.model);
  }
  return reaped;
}

/**
 * What the pid-file rules (pid-files.ts) may ask about processes: whether one runs, its start time
 * (/proc/<pid>/stat field 22, so that a recycled pid is never taken for the recorded process), its
 * command line, and whether a live process is left in its group. `procProbe` reads /proc on Linux
 * and falls back to `kill(pid, 0)` elsewhere (no start times there); the unit tests pass a fake.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { statFieldsAfterName } from './proc-sockets.js';

/** What the rules may ask about processes (a fake in the unit tests). */
export interface ProcessProbe {
  /** Whether `pid` runs (a zombie does not). */
  alive(pid: number): boolean;
  /** /proc/<pid>/stat field 22, or null when unknown (no such process, no /proc). */
  startTicks(pid: number): number | null;
  /** /proc/<pid>/cmdline, or null when unknown. */
  commandLine(pid: number): string[] | null;
  /** Whether a live process is left in the process group `pgid`. */
  groupAlive(pgid: number): boolean;
}

/** The fields of /proc/<pid>/stat after the command name (field 3 first), or null. */
function statFields(pid: number): string[] | null {
  try {
    return statFieldsAfterName(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return null;
  }
}

const procAvailable = ((): boolean => {
  try {
    readdirSync('/proc/self');
    return true;
  } catch {
    return false;
  }
})();

function signalZero(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The real probe: /proc on Linux, `kill(pid, 0)` elsewhere (no start times there). */
export const procProbe: ProcessProbe = {
  alive(pid) {
    if (!procAvailable) return signalZero(pid);
    const state = statFields(pid)?.[0];
    return state !== undefined && state !== 'Z' && state !== 'X';
  },
  startTicks(pid) {
    const ticks = Number(statFields(pid)?.[19]);
    return Number.isSafeInteger(ticks) && ticks > 0 ? ticks : null;
  },
  commandLine(pid) {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter((part) => part.length > 0);
    } catch {
      return null;
    }
  },
  groupAlive(pgid) {
    // kill(-pgid, 0) also succeeds for zombies, which a dead gateway's children stay until reaped.
    if (!signalZero(-pgid)) return false;
    if (!procAvailable) return true;
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      const fields = statFields(Number(entry));
      if (fields && Number(fields[2]) === pgid && fields[0] !== 'Z' && fields[0] !== 'X') return true;
    }
    return false;
  },
};

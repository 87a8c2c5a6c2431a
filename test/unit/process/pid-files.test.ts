/**
 * The rules of lib/process/pid-files.ts as a table, with a fake process table: which pid files a
 * starting gateway keeps, reaps or drops (issue 11 defects 2 and 3).
 */
import { expect } from 'chai';
import { judgeRecord, type PidRecord, type Verdict } from '../../../lib/process/pid-files.js';
import type { ProcessProbe } from '../../../lib/process/process-probe.js';

interface FakeProcess {
  readonly ticks: number | null;
  readonly argv?: readonly string[];
  readonly pgid?: number;
}

/** A process table: pid → process; pids not listed do not run. */
function probeOf(table: Readonly<Record<number, FakeProcess>>): ProcessProbe {
  return {
    alive: (pid) => Object.hasOwn(table, pid),
    startTicks: (pid) => table[pid]?.ticks ?? null,
    commandLine: (pid) => {
      const argv = table[pid]?.argv;
      return argv ? [...argv] : null;
    },
    groupAlive: (pgid) => Object.values(table).some((entry) => entry.pgid === pgid),
  };
}

const SELF = { pid: 100, startTicks: 5000 };
const ARGV = ['/usr/bin/llama-server', '--port', '5800'];

function record(fields: Partial<PidRecord> = {}): PidRecord {
  return { model: 'm', pid: 200, argv: ARGV, startTicks: 7000, gatewayPid: 300, gatewayStartTicks: 6000, startedAt: '2025-01-01T00:00:00Z', ...fields };
}

const SERVER = { 200: { ticks: 7000, argv: ARGV, pgid: 200 } } as const;

const CASES: readonly (readonly [string, PidRecord, Readonly<Record<number, FakeProcess>>, Verdict])[] = [
  ['written by this gateway', record({ gatewayPid: 100, gatewayStartTicks: 5000 }), { ...SERVER }, 'own'],
  ['written by this gateway, server gone', record({ gatewayPid: 100, gatewayStartTicks: 5000 }), {}, 'own'],
  ['another gateway that runs', record(), { ...SERVER, 300: { ticks: 6000 } }, 'live-gateway'],
  ['another gateway that runs, its server gone', record(), { 300: { ticks: 6000 } }, 'live-gateway'],
  ['a gateway that runs, start time unknown (older file): may be the writer', record({ gatewayStartTicks: null }), { ...SERVER, 300: { ticks: 6000 } }, 'live-gateway'],
  ['the gateway died, its server runs', record(), { ...SERVER }, 'reap'],
  ['the gateway pid now belongs to another process', record(), { ...SERVER, 300: { ticks: 9999 } }, 'reap'],
  ['an earlier gateway that had this gateway\'s pid (containers)', record({ gatewayPid: 100, gatewayStartTicks: 4000 }), { ...SERVER }, 'reap'],
  ['an older file naming this gateway\'s pid: written by an earlier one', record({ gatewayPid: 100, gatewayStartTicks: null }), { ...SERVER }, 'reap'],
  ['the gateway died, the server pid now runs another process', record(), { 200: { ticks: 8000, argv: ARGV, pgid: 200 } }, 'drop'],
  ['the gateway died, the server died', record(), {}, 'drop'],
  ['the gateway died, the server leader died, its group lives on (engine core)', record(), { 201: { ticks: 7001, pgid: 200 } }, 'reap'],
  ['older file, no start times: same command line', record({ startTicks: null, gatewayStartTicks: null }), { ...SERVER }, 'reap'],
  ['older file, no start times: another command line', record({ startTicks: null, gatewayStartTicks: null }), { 200: { ticks: 8000, argv: ['/bin/sh'], pgid: 200 } }, 'drop'],
];

describe('pid files: what a starting gateway does with each file', function () {
  for (const [name, given, table, verdict] of CASES) {
    it(`${name}: ${verdict}`, function () {
      expect(judgeRecord(given, SELF, probeOf(table))).to.equal(verdict);
    });
  }
});

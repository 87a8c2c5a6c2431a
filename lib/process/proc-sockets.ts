/**
 * Which process listens on a TCP port, read from Linux's /proc: `/proc/net/tcp{,6}` map a listening
 * port to a socket inode, `/proc/<pid>/fd/*` links (`socket:[inode]`) map the inode to a process,
 * `/proc/<pid>/stat` gives each process's parent and process group.
 *
 * The parsers are pure and tested as tables; the readers resolve null (or nothing found) where
 * /proc cannot be read (not Linux, `hidepid`, another user's processes), so callers can skip the
 * check and say why.
 */
import { readdir, readFile, readlink } from 'node:fs/promises';

export interface TcpListener {
  /** Local address as /proc prints it (hex, host byte order), e.g. `0100007F` for 127.0.0.1. */
  readonly address: string;
  readonly port: number;
  readonly inode: number;
}

/** TCP state 0A in /proc/net/tcp: LISTEN. */
const LISTEN = '0A';

/** The listening sockets in the text of /proc/net/tcp or /proc/net/tcp6. */
export function parseListeners(text: string): TcpListener[] {
  const listeners: TcpListener[] = [];
  for (const line of text.split('\n').slice(1)) {
    // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode ...
    const fields = line.trim().split(/\s+/);
    if (fields.length < 10 || fields[3] !== LISTEN) continue;
    const [address, portHex] = (fields[1] ?? '').split(':');
    const port = Number.parseInt(portHex ?? '', 16);
    const inode = Number(fields[9]);
    if (!address || !Number.isInteger(port) || !Number.isInteger(inode) || inode === 0) continue;
    listeners.push({ address, port, inode });
  }
  return listeners;
}

export interface ProcStat {
  readonly ppid: number;
  readonly pgrp: number;
}

/**
 * The fields of a /proc/<pid>/stat text after the command name, field 3 (the state) first: the
 * name (field 2) is in parentheses and may itself hold spaces and parentheses. Pure; the one
 * reader of that format (parseStat here, process-probe.ts's start times and states).
 */
export function statFieldsAfterName(text: string): string[] {
  return text.slice(text.lastIndexOf(')') + 1).trim().split(/\s+/);
}

/** Parent and process group from the text of /proc/<pid>/stat. */
export function parseStat(text: string): ProcStat | null {
  const afterName = statFieldsAfterName(text);
  // state ppid pgrp session ...
  const ppid = Number(afterName[1]);
  const pgrp = Number(afterName[2]);
  return Number.isInteger(ppid) && Number.isInteger(pgrp) && afterName.length >= 3 ? { ppid, pgrp } : null;
}

/**
 * The processes a spawned command consists of: the leader, every process of its process group
 * (siesta spawns each model in its own group), and their descendants (a child that moved to a group
 * of its own is still a descendant while its parent lives).
 */
export function processTree(leader: number, table: ReadonlyMap<number, ProcStat>): Set<number> {
  const tree = new Set<number>([leader]);
  for (const [pid, stat] of table) if (stat.pgrp === leader) tree.add(pid);
  let grew = true;
  while (grew) {
    grew = false;
    for (const [pid, stat] of table) {
      if (!tree.has(pid) && tree.has(stat.ppid)) {
        tree.add(pid);
        grew = true;
      }
    }
  }
  return tree;
}

/** Listening sockets on `port`, IPv4 and IPv6; null when /proc/net cannot be read. */
export async function readListeners(port: number): Promise<TcpListener[] | null> {
  const texts = await Promise.all(['/proc/net/tcp', '/proc/net/tcp6'].map((path) => readFile(path, 'utf8').catch(() => null)));
  if (texts.every((text) => text === null)) return null;
  return texts.flatMap((text) => (text === null ? [] : parseListeners(text))).filter((listener) => listener.port === port);
}

/** Parent and group of every process this user can see; null when /proc cannot be listed. */
export async function readProcessTable(): Promise<Map<number, ProcStat> | null> {
  let names: string[];
  try {
    names = await readdir('/proc');
  } catch {
    return null;
  }
  const table = new Map<number, ProcStat>();
  await Promise.all(
    names.filter((name) => /^\d+$/.test(name)).map(async (name) => {
      const stat = parseStat(await readFile(`/proc/${name}/stat`, 'utf8').catch(() => ''));
      if (stat) table.set(Number(name), stat);
    }),
  );
  return table;
}

/** Whether process `pid` holds a socket with one of `inodes` open (false where its fds cannot be read). */
export async function holdsSocket(pid: number, inodes: ReadonlySet<number>): Promise<boolean> {
  let fds: string[];
  try {
    fds = await readdir(`/proc/${pid}/fd`);
  } catch {
    return false;
  }
  const links = await Promise.all(fds.map((fd) => readlink(`/proc/${pid}/fd/${fd}`).catch(() => '')));
  return links.some((link) => {
    const match = /^socket:\[(\d+)\]$/.exec(link);
    return match !== null && inodes.has(Number(match[1]));
  });
}

/** The first of `pids` that holds one of `inodes`, or null. */
export async function findHolder(pids: Iterable<number>, inodes: ReadonlySet<number>): Promise<number | null> {
  for (const pid of pids) if (await holdsSocket(pid, inodes)) return pid;
  return null;
}

/** `pid 4242 (node)`: the pid and its program name, short enough for an error message. */
export async function describeProcess(pid: number): Promise<string> {
  const comm = (await readFile(`/proc/${pid}/comm`, 'utf8').catch(() => '')).trim();
  return comm ? `pid ${pid} (${comm})` : `pid ${pid}`;
}

/** The full command line of `pid`, for the model's log ('' when unreadable). */
export async function commandLine(pid: number): Promise<string> {
  return (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).replaceAll('\0', ' ').trim();
}

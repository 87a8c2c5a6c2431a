/**
 * Harness of the real llama-server tier (see README.md here): find the tier that
 * scripts/provision-llama.sh describes in `<chroot>/siesta-llama.json`, build siesta configs whose
 * models run the chroot's `llama-server`, open gateways and close them after each test, and find
 * llama-server processes left behind.
 */
import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import express, { type Express } from 'express';
import { stringify } from 'yaml';
import { createGateway, type Gateway } from '../../lib/index.js';
import type { Logger } from '../../lib/logger.js';
import { freeStartPort, PORT_RANGES } from '../helpers/ports.js';

export const DEFAULT_LLAMA_CHROOT = '/var/cache/siesta/llama-chroot';

export interface LlamaTier {
  readonly chroot: string;
  readonly llamaServer: string;
  /** argv prefix that runs llama-server (`chroot DIR /usr/bin/llama-server`). */
  readonly command: readonly string[];
  /** Model name → GGUF path inside the chroot. */
  readonly models: Readonly<Record<string, string>>;
  readonly version: string;
}

/** The tier, or why its tests must be pending (missing description, not root). */
export function findLlamaTier(): LlamaTier | string {
  const chroot = process.env['SIESTA_LLAMA_CHROOT'] || DEFAULT_LLAMA_CHROOT;
  const path = join(chroot, 'siesta-llama.json');
  if (!existsSync(path)) return `${path} does not exist: the llama-server tier is not provisioned (run scripts/provision-llama.sh as root)`;
  let raw: Partial<LlamaTier>;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8')) as Partial<LlamaTier>;
  } catch (error) {
    return `${path} is unreadable: ${(error as Error).message}`;
  }
  if (typeof raw.chroot !== 'string' || typeof raw.llamaServer !== 'string' || !raw.models || Object.keys(raw.models).length < 2) {
    return `${path} lacks chroot, llamaServer or two models`;
  }
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    return `not running as root (uid ${process.getuid()}): chroot(8) needs root`;
  }
  const command = Array.isArray(raw.command) && raw.command.length > 0 && raw.command.every((word) => typeof word === 'string')
    ? raw.command
    : ['chroot', raw.chroot, raw.llamaServer];
  return { chroot: raw.chroot, llamaServer: raw.llamaServer, command, models: raw.models, version: raw.version ?? 'unknown' };
}

/** Quote a word for siesta's command splitter (POSIX-like words, no expansion but macros). */
function shellWord(word: string): string {
  return /^[\w@%+=:,./${}-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`;
}

/** `cmd` of one model: llama-server in the chroot on `${PORT}`, with the model's name as `--alias`. */
export function llamaCmd(tier: LlamaTier, model: string, extra: readonly string[] = []): string {
  const path = tier.models[model];
  if (!path) throw new Error(`the tier has no model ${model} (has ${Object.keys(tier.models).join(', ')})`);
  return [...tier.command, '-m', path, '--host', '127.0.0.1', '--port', '${PORT}', '--alias', model, ...extra].map(shellWord).join(' ');
}



const tempDirs: string[] = [];

/** Ports of the configs made since the last `cleanup()` (to find our own leftover servers). */
export const usedPorts = new Set<number>();

/** YAML text of a config with `models`: fresh ports, a temporary stateDir, logLevel warn. */
export async function configYaml(models: Record<string, Record<string, unknown>>, global: Record<string, unknown> = {}): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'siesta-real-'));
  tempDirs.push(dir);
  const count = Object.keys(models).length;
  const startPort = await freeStartPort(count, PORT_RANGES.real);
  for (let i = 0; i < count; i++) usedPorts.add(startPort + i);
  return stringify({
    healthCheckTimeout: 20,
    logLevel: 'warn',
    startPort,
    stateDir: join(dir, 'state'),
    pluginDir: join(dir, 'plugins'),
    ...global,
    models,
  });
}

/** One model entry: the llama-server plugin, proxying to 127.0.0.1 (llama-server binds only there). */
export function llamaModel(tier: LlamaTier, model: string, extra: readonly string[] = [], fields: Record<string, unknown> = {}): Record<string, unknown> {
  return { backend: 'llama-server', cmd: llamaCmd(tier, model, extra), proxy: 'http://127.0.0.1:${PORT}', ...fields };
}

/** A logger that keeps every line (printed when a test fails). */
export function memoryLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const at = (level: string) => (message: string, fields: Record<string, unknown> = {}) => {
    lines.push(`${level} ${message} ${JSON.stringify(fields)}`);
  };
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

export interface Harness {
  readonly gateway: Gateway;
  readonly app: Express;
  readonly logger: ReturnType<typeof memoryLogger>;
  /** Every pid the models had while the test looked (checked dead after the test). */
  readonly pids: Set<number>;
  /** Record the current pid of `model` (returns it). */
  pidOf(model: string): number;
}

const open = new Set<Harness>();

/** Build a gateway from YAML, run its start(), mount it in a fresh Express app; closed by `cleanup()`. */
export async function openGateway(configText: string): Promise<Harness> {
  const logger = memoryLogger();
  const gateway = await createGateway({ configText, logger, loadingTickMs: 50 });
  const app = express();
  app.use(gateway.router);
  const pids = new Set<number>();
  const harness: Harness = {
    gateway,
    app,
    logger,
    pids,
    pidOf(model) {
      const pid = gateway.manager.process(model).pid;
      if (pid === null) throw new Error(`${model} has no pid (state ${gateway.manager.state(model)})`);
      pids.add(pid);
      return pid;
    },
  };
  open.add(harness);
  await gateway.start();
  return harness;
}

/** What the gateways logged and the tails of their models' output (for a failed test). */
export function describeHarnesses(): string {
  const parts: string[] = [];
  for (const h of open) {
    parts.push(...h.logger.lines.map((line) => `  gateway: ${line}`));
    for (const id of Object.keys(h.gateway.config.models)) {
      const process = h.gateway.manager.process(id);
      parts.push(`  ${id} (${process.state}, pid ${process.pid ?? '-'}):\n${process.logs.tail(15).replace(/^/gm, '    ')}`);
    }
  }
  return parts.join('\n');
}

/** Close every gateway opened since the last call; returns the pids they had. */
export async function cleanup(): Promise<number[]> {
  const harnesses = [...open];
  open.clear();
  const pids = harnesses.flatMap((h) => {
    for (const id of Object.keys(h.gateway.config.models)) {
      const pid = h.gateway.manager.process(id).pid;
      if (pid !== null) h.pids.add(pid);
    }
    return [...h.pids];
  });
  await Promise.all(harnesses.map((h) => h.gateway.close()));
  await Promise.all(tempDirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
  return pids;
}

function processState(pid: string): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  } catch {
    return null;
  }
}

/**
 * Live llama-server processes of the chroot: the command line names the chroot (a `chroot` that
 * has not exec'd yet) or the executable lives in it (after the exec, the command line is
 * `/usr/bin/llama-server ...` and only `/proc/<pid>/exe` shows the chroot). With `ports`, only
 * those listening on one of them (other sessions may run their own servers in the same chroot).
 */
export function llamaServers(tier: LlamaTier, ports?: ReadonlySet<number>): { pid: number; cmdline: string }[] {
  const found: { pid: number; cmdline: string }[] = [];
  const root = tier.chroot.replace(/\/+$/, '');
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    let cmdline: string;
    let exe = '';
    try {
      cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replaceAll('\0', ' ').trim();
    } catch {
      continue;
    }
    try {
      exe = readlinkSync(`/proc/${entry}/exe`);
    } catch {
      // a zombie or a process that just ended
    }
    const ours = (cmdline.includes(root) && cmdline.includes('llama-server')) || exe.startsWith(`${root}/`) && exe.endsWith('/llama-server');
    if (!ours) continue;
    const state = processState(entry);
    if (state === null || state === 'Z' || state === 'X') continue;
    if (ports) {
      const port = /--port\s+(\d+)/.exec(cmdline)?.[1];
      if (port === undefined || !ports.has(Number(port))) continue;
    }
    found.push({ pid: Number(entry), cmdline });
  }
  return found;
}

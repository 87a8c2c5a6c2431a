/**
 * `npm run cluster:demo`: three siesta nodes on this machine, each in its own Linux network
 * namespace with its own address (veth pairs on a bridge, 10.241.N.0/24, made and removed here;
 * run as root), each with the fake upstream (fake vLLM, sleep mode) and its own fake GPU budget.
 * Without network namespaces (not root, or `ip netns add` refused) the nodes listen on distinct
 * loopback addresses instead (127.0.0.2, .3, .4) and the output says so. Nothing leaves the machine.
 *
 * The cluster tests (test/integration/cluster) start the same cluster through `startDemoCluster`.
 * Run directly, it starts the cluster, prints how to use it and stops it on Ctrl-C.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const DEMO_API_KEY = 'demo-api-key';
export const DEMO_CLUSTER_KEY = 'demo-cluster-key';
/** The models every node serves: each 10 GiB awake, 1 GiB asleep (alpha, beta sleep at level 1; gamma at level 2). */
export const DEMO_MODELS = ['alpha', 'beta', 'gamma', 'delta'] as const;

export type Isolation = 'netns' | 'loopback';

export interface DemoNode {
  readonly name: string;
  readonly address: string;
  readonly url: string;
  readonly vramGiB: number;
  child: ChildProcess;
  output: string;
}

export interface DemoCluster {
  readonly isolation: Isolation;
  /** Why loopback addresses were used, when they were. */
  readonly reason: string;
  readonly nodes: readonly DemoNode[];
  /** SIGKILL a node and every process below it (its model servers). */
  kill(name: string): Promise<void>;
  close(): Promise<void>;
}

/** Whether this process may make network namespaces: root, and `ip netns add` works. Synchronous. */
export function probeNetns(): { ok: boolean; reason: string } {
  if (process.getuid?.() !== 0) return { ok: false, reason: 'not root' };
  const name = `sdprobe${process.pid}`;
  const added = spawnSync('ip', ['netns', 'add', name], { encoding: 'utf8' });
  if (added.status !== 0) return { ok: false, reason: `ip netns add failed: ${(added.stderr || added.error?.message || '').trim()}` };
  spawnSync('ip', ['netns', 'del', name]);
  return { ok: true, reason: '' };
}

function run(args: readonly string[]): void {
  const result = spawnSync(args[0]!, args.slice(1), { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`${args.join(' ')} failed: ${(result.stderr || result.error?.message || '').trim()}`);
}

/** The fake upstream's entry point (its place moved once: both are looked for). */
function fakeUpstreamCommand(): string {
  const entry = [join(ROOT, 'fake-upstream/bin/fake-upstream.js'), join(ROOT, 'bin/fake-upstream.ts')].find((path) => existsSync(path));
  if (!entry) throw new Error('fake upstream not found (fake-upstream/bin/fake-upstream.js or bin/fake-upstream.ts)');
  return `${process.execPath} --import tsx ${entry}`; // model servers run in the gateway's directory (ROOT), where tsx resolves
}

/** One node's configuration: the same models everywhere, this node's budget, the three nodes as peers. */
export function demoConfig(options: { readonly self: string; readonly peers: readonly string[]; readonly vramGiB: number; readonly startPort: number; readonly stateDir: string }): string {
  const model = (id: string, level: number): string => `
  ${id}:
    backend: vllm
    cmd: \${fake} --backend vllm --enable-sleep-mode --model ${id} --port \${PORT} --start-delay 300ms --sleep-delay 50ms --wake-delay 100ms --tokens 4 --token-interval 20ms
    env: [VLLM_SERVER_DEV_MODE=1]
    proxy: http://127.0.0.1:\${PORT}
    concurrencyLimit: 50
    sleep: { level: ${level} }
    resources: { vram: 10GiB, asleep: { vram: 1GiB } }`;
  return `# written by scripts/cluster-demo.ts
healthCheckTimeout: 15
logLevel: info
logFormat: json
apiKeys: [${DEMO_API_KEY}]
startPort: ${options.startPort}
stateDir: ${options.stateDir}
resources: { vram: ${options.vramGiB}GiB }
cluster:
  key: \${env.SIESTA_CLUSTER_KEY}
  self: ${options.self}
  peers: [${options.peers.join(', ')}]
  downAfter: 1500ms
  heartbeat: 300ms
  connectTimeout: 1s
macros:
  fake: ${fakeUpstreamCommand()}
models:${model('alpha', 1)}${model('beta', 1)}${model('gamma', 2)}${model('delta', 1)}
`;
}

/** Every process below `pid`, read from /proc. */
function descendants(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const parent = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(parent, [...(children.get(parent) ?? []), Number(entry)]);
    } catch {
      // gone meanwhile
    }
  }
  const found: number[] = [];
  const walk = (at: number): void => {
    for (const child of children.get(at) ?? []) {
      found.push(child);
      walk(child);
    }
  };
  walk(pid);
  return found;
}

function killTree(pid: number, signal: NodeJS.Signals): void {
  for (const target of [pid, ...descendants(pid)]) {
    try {
      process.kill(target, signal);
    } catch {
      // already gone
    }
  }
}

async function waitHealthy(node: DemoNode, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (node.child.exitCode !== null) throw new Error(`node ${node.name} exited (code ${node.child.exitCode}):\n${node.output}`);
    try {
      const response = await fetch(`${node.url}/health`, { signal: AbortSignal.timeout(1000) });
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`node ${node.name} did not answer /health within ${timeoutMs} ms:\n${node.output}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Start the three nodes and wait until each answers and follows the two others. */
export async function startDemoCluster(options: { readonly isolation?: Isolation; readonly budgetsGiB?: readonly number[] } = {}): Promise<DemoCluster> {
  const probe = options.isolation === 'loopback' ? { ok: false, reason: 'loopback asked for' } : probeNetns();
  const isolation: Isolation = probe.ok ? 'netns' : 'loopback';
  const budgets = options.budgetsGiB ?? [40, 30, 20];
  const names = ['a', 'b', 'c'];
  const tag = String(process.pid % 10000);
  const subnet = `10.241.${(process.pid % 250) + 1}`;
  const bridge = `sdbr${tag}`;
  const namespaces = names.map((name) => `sdemo${tag}${name}`);
  const cleanups: (() => void)[] = [];
  const workDir = mkdtempSync(join(tmpdir(), 'siesta-cluster-'));
  cleanups.push(() => rmSync(workDir, { recursive: true, force: true }));
  const port = isolation === 'netns' ? 8080 : 18000 + (process.pid % 1000);
  const addresses = names.map((_, index) => (isolation === 'netns' ? `${subnet}.${11 + index}` : `127.0.0.${2 + index}`));
  const urls = addresses.map((address) => `http://${address}:${port}`);
  const nodes: DemoNode[] = [];

  const close = async (): Promise<void> => {
    await Promise.all(
      nodes.map(async (node) => {
        if (node.child.exitCode !== null || node.child.signalCode !== null) return;
        const exited = once(node.child, 'exit');
        const below = descendants(node.child.pid!);
        node.child.kill('SIGTERM');
        const timer = setTimeout(() => killTree(node.child.pid!, 'SIGKILL'), 5000);
        await exited;
        clearTimeout(timer);
        for (const pid of below) killTree(pid, 'SIGKILL'); // a model server its siesta could not stop
      }),
    );
    for (const cleanup of cleanups.reverse()) {
      try {
        cleanup();
      } catch {
        // best effort: the rest still runs
      }
    }
  };

  try {
    if (isolation === 'netns') {
      run(['ip', 'link', 'add', bridge, 'type', 'bridge']);
      cleanups.push(() => run(['ip', 'link', 'del', bridge]));
      run(['ip', 'addr', 'add', `${subnet}.1/24`, 'dev', bridge]);
      run(['ip', 'link', 'set', bridge, 'up']);
      names.forEach((name, index) => {
        const ns = namespaces[index]!;
        const host = `sdv${tag}${name}`;
        const inside = `sdp${tag}${name}`;
        run(['ip', 'netns', 'add', ns]);
        cleanups.push(() => run(['ip', 'netns', 'del', ns])); // takes its veth pair with it
        run(['ip', 'link', 'add', host, 'type', 'veth', 'peer', 'name', inside]);
        run(['ip', 'link', 'set', inside, 'netns', ns]);
        run(['ip', 'link', 'set', host, 'master', bridge, 'up']);
        run(['ip', 'netns', 'exec', ns, 'ip', 'addr', 'add', `${addresses[index]}/24`, 'dev', inside]);
        run(['ip', 'netns', 'exec', ns, 'ip', 'link', 'set', inside, 'up']);
        run(['ip', 'netns', 'exec', ns, 'ip', 'link', 'set', 'lo', 'up']);
      });
    }
    names.forEach((name, index) => {
      const file = join(workDir, `${name}.yaml`);
      const startPort = isolation === 'netns' ? 5800 : 20000 + (process.pid % 40) * 300 + index * 100; // below the ephemeral range
      writeFileSync(file, demoConfig({ self: urls[index]!, peers: urls, vramGiB: budgets[index]!, startPort, stateDir: join(workDir, `${name}-state`) }));
      const siesta = [process.execPath, join(ROOT, 'bin/siesta.js'), '-config', file, '-listen', `${addresses[index]}:${port}`];
      const argv = isolation === 'netns' ? ['ip', 'netns', 'exec', namespaces[index]!, ...siesta] : siesta;
      const child = spawn(argv[0]!, argv.slice(1), { cwd: ROOT, env: { ...process.env, NODE_OPTIONS: '', SIESTA_CLUSTER_KEY: DEMO_CLUSTER_KEY }, stdio: ['ignore', 'pipe', 'pipe'] });
      const node: DemoNode = { name, address: addresses[index]!, url: urls[index]!, vramGiB: budgets[index]!, child, output: '' };
      const keep = (chunk: string): void => {
        node.output = (node.output + chunk).slice(-200_000);
      };
      child.stdout.setEncoding('utf8').on('data', keep);
      child.stderr.setEncoding('utf8').on('data', keep);
      nodes.push(node);
    });
    await Promise.all(nodes.map((node) => waitHealthy(node, 20_000)));
    // Each node follows the two others (GET /api/cluster: both peers up).
    const deadline = Date.now() + 15_000;
    for (const node of nodes) {
      for (;;) {
        const view = (await (await fetch(`${node.url}/api/cluster`, { headers: { authorization: `Bearer ${DEMO_API_KEY}` } })).json()) as { nodes: { up: boolean }[] };
        if (view.nodes.filter((peer) => peer.up).length === 3) break;
        if (Date.now() > deadline) throw new Error(`node ${node.name} does not see its peers: ${JSON.stringify(view)}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
  } catch (error) {
    await close();
    throw error;
  }

  return {
    isolation,
    reason: probe.reason,
    nodes,
    async kill(name) {
      const node = nodes.find((candidate) => candidate.name === name);
      if (!node || node.child.exitCode !== null) return;
      const exited = once(node.child, 'exit');
      killTree(node.child.pid!, 'SIGKILL');
      await exited;
    },
    close,
  };
}

async function main(): Promise<void> {
  const cluster = await startDemoCluster();
  const where = cluster.isolation === 'netns' ? 'each in its own network namespace' : `on loopback addresses (network namespaces not available: ${cluster.reason})`;
  console.log(`siesta cluster demo: three nodes ${where}`);
  for (const node of cluster.nodes) console.log(`  node ${node.name}  ${node.url}  budget ${node.vramGiB} GiB VRAM`);
  const first = cluster.nodes[0]!.url;
  console.log(`
Models on every node: ${DEMO_MODELS.join(', ')} (10 GiB awake, 1 GiB asleep). Try:
  curl -s ${first}/v1/chat/completions -H 'Authorization: Bearer ${DEMO_API_KEY}' -H 'Content-Type: application/json' \\
    -d '{"model":"alpha","messages":[{"role":"user","content":"hi"}]}' -D - | grep -i x-siesta-node
  curl -s ${first}/api/cluster -H 'Authorization: Bearer ${DEMO_API_KEY}'
  curl -s ${first}/metrics -H 'Authorization: Bearer ${DEMO_API_KEY}' | grep siesta_route_decisions_total
Status page: ${first}/ (key ${DEMO_API_KEY}). Ctrl-C stops the nodes and removes the namespaces.`);
  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    void cluster.close().then(() => process.exit(0));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : String(error));
    process.exit(1);
  });
}

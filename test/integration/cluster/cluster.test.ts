/**
 * The cluster demo (scripts/cluster-demo.ts): three siesta nodes, each in its own network namespace
 * when this runs as root and `ip netns add` works, else on loopback addresses 127.0.0.2-4 (the
 * suite's title and output say which). One cluster for the whole suite, to keep it short.
 */
import { expect } from 'chai';
import { DEMO_API_KEY, DEMO_CLUSTER_KEY, DEMO_MODELS, probeNetns, startDemoCluster, type DemoCluster, type DemoNode } from '../../../scripts/cluster-demo.js';
import { pollUntil } from '../../helpers/wait.js';

const probe = probeNetns();
const ISOLATION = probe.ok ? 'network namespaces (veth pairs on a bridge, 10.241.N.0/24)' : `loopback addresses 127.0.0.2-4 (network namespaces not available: ${probe.reason})`;
const auth = { authorization: `Bearer ${DEMO_API_KEY}` };

interface Answer {
  readonly status: number;
  readonly node: string | null;
  readonly text: string;
}

async function chat(node: DemoNode, model: string, extra: Record<string, unknown> = {}, headers: Record<string, string> = {}): Promise<Answer> {
  const response = await fetch(`${node.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { ...auth, 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }], ...extra }),
  });
  return { status: response.status, node: response.headers.get('x-siesta-node'), text: await response.text() };
}

async function admin(node: DemoNode, path: string, method = 'POST'): Promise<unknown> {
  const response = await fetch(`${node.url}/api/${path}`, { method, headers: auth });
  expect(response.status, `${method} ${node.name} /api/${path}`).to.equal(200);
  return response.json();
}

type ClusterView = { nodes: { id: string; up: boolean; models: { id: string; state: string; asleepLevel: number | null }[] }[] };

/** What `node` believes the state of `model` on `on` is. */
async function seenState(node: DemoNode, on: DemoNode, model: string): Promise<string | undefined> {
  const view = (await admin(node, 'cluster', 'GET')) as ClusterView;
  const peer = view.nodes.find((candidate) => candidate.id === on.url);
  return peer?.up ? peer.models.find((entry) => entry.id === model)?.state : 'down';
}

async function localState(node: DemoNode, model: string): Promise<string> {
  return ((await admin(node, `models/${model}`, 'GET')) as { state: string }).state;
}

/** `siesta_route_decisions_total` by outcome, summed over cost classes. */
async function decisions(node: DemoNode): Promise<Record<string, number>> {
  const text = await (await fetch(`${node.url}/metrics`, { headers: auth })).text();
  const out: Record<string, number> = {};
  for (const match of text.matchAll(/^siesta_route_decisions_total\{([^}]*)\} (\d+)/gm)) {
    const outcome = /outcome="([^"]+)"/.exec(match[1] ?? '')?.[1] ?? '';
    out[outcome] = (out[outcome] ?? 0) + Number(match[2]);
  }
  return out;
}

async function totals(nodes: readonly DemoNode[]): Promise<Record<string, number>> {
  const sum: Record<string, number> = {};
  for (const node of nodes) for (const [outcome, value] of Object.entries(await decisions(node))) sum[outcome] = (sum[outcome] ?? 0) + value;
  return sum;
}

const delta = (after: Record<string, number>, before: Record<string, number>, outcome: string): number => (after[outcome] ?? 0) - (before[outcome] ?? 0);

describe(`cluster demo: three nodes on ${ISOLATION}`, function () {
  this.timeout(60_000);
  let cluster: DemoCluster;
  let a: DemoNode;
  let b: DemoNode;
  let c: DemoNode;

  before(async function () {
    cluster = await startDemoCluster();
    console.log(`      cluster nodes on ${cluster.isolation === 'netns' ? 'network namespaces' : `loopback addresses (${cluster.reason})`}: ${cluster.nodes.map((node) => node.url).join(' ')}`);
    [a, b, c] = cluster.nodes as [DemoNode, DemoNode, DemoNode];
  });

  after(async function () {
    await cluster?.close();
  });

  it('sends requests to the node where the model is ready', async function () {
    await admin(b, 'models/beta/load');
    await pollUntil(async () => (await seenState(a, b, 'beta')) === 'ready' && (await seenState(c, b, 'beta')) === 'ready', { what: 'a and c to see beta ready on b' });
    const answers = await Promise.all([a, c, a, c, b, a].map((node) => chat(node, 'beta')));
    expect(answers.map((answer) => answer.status)).to.deep.equal([200, 200, 200, 200, 200, 200]);
    expect(answers.map((answer) => answer.node)).to.deep.equal(Array(6).fill(b.url));
    expect(await localState(a, 'beta')).to.equal('stopped');
    expect(await localState(c, 'beta')).to.equal('stopped');
  });

  it('wakes a model asleep on node B rather than cold-starting it on node A', async function () {
    await admin(b, 'models/gamma/load');
    await admin(b, 'models/gamma/sleep');
    await pollUntil(async () => (await seenState(a, b, 'gamma')) === 'asleep', { what: 'a to see gamma asleep on b' });
    const before = await decisions(a);
    const answer = await chat(a, 'gamma');
    expect(answer.status, answer.text).to.equal(200);
    expect(answer.node).to.equal(b.url);
    expect(await localState(b, 'gamma')).to.equal('ready');
    const change = ((await admin(b, 'models/gamma', 'GET')) as { lastChange: { from: string; to: string } }).lastChange;
    expect(change).to.include({ from: 'waking', to: 'ready' });
    expect(await localState(a, 'gamma')).to.equal('stopped');
    expect(await localState(c, 'gamma')).to.equal('stopped');
    expect(delta(await decisions(a), before, 'peer')).to.equal(1);
  });

  it('answers 508 to a request forwarded in a loop and 401 to a forwarded request without the cluster key', async function () {
    const loop = await chat(a, 'alpha', {}, { 'x-siesta-forwarded-by': a.url, 'x-siesta-cluster-key': DEMO_CLUSTER_KEY });
    expect(loop.status).to.equal(508);
    expect(JSON.parse(loop.text)).to.have.nested.property('error.code', 'loop_detected');
    const forged = await chat(a, 'alpha', {}, { 'x-siesta-forwarded-by': b.url, 'x-siesta-cluster-key': 'wrong' });
    expect(forged.status).to.equal(401);
  });

  it('serves 1,000 requests across random models and nodes, losing none, every decision counted', async function () {
    const before = await totals(cluster.nodes);
    let next = 0;
    const failures: string[] = [];
    const served = new Map<string, number>();
    const worker = async (): Promise<void> => {
      while (next < 1000) {
        next++;
        const entry = cluster.nodes[Math.floor(Math.random() * 3)]!;
        const model = DEMO_MODELS[Math.floor(Math.random() * DEMO_MODELS.length)]!;
        const answer = await chat(entry, model, Math.random() < 0.3 ? { stream: true } : {});
        if (answer.status !== 200 || (answer.text.includes('"error"') && !answer.text.includes('tok'))) failures.push(`${entry.name} ${model}: ${answer.status} ${answer.text.slice(0, 200)}`);
        served.set(answer.node ?? '?', (served.get(answer.node ?? '?') ?? 0) + 1);
      }
    };
    await Promise.all(Array.from({ length: 24 }, worker));
    expect(failures, failures.slice(0, 5).join('\n')).to.deep.equal([]);
    const after = await totals(cluster.nodes);
    const routed = delta(after, before, 'local') + delta(after, before, 'peer') - delta(after, before, 'retry');
    console.log(`      served by ${[...served].map(([node, count]) => `${node} ${count}`).join(', ')}; decisions: local ${delta(after, before, 'local')}, peer ${delta(after, before, 'peer')}, retry ${delta(after, before, 'retry')}, forwarded-in ${delta(after, before, 'forwarded-in')}`);
    expect(routed, 'one final decision per request').to.equal(1000);
    expect(delta(after, before, 'forwarded-in')).to.equal(delta(after, before, 'peer') - delta(after, before, 'retry'));
  });

  it('loses no request that had not started streaming when node C is killed mid-run', async function () {
    await admin(a, 'models/delta/unload');
    await admin(b, 'models/delta/unload');
    await admin(c, 'models/delta/load');
    await pollUntil(async () => (await seenState(a, c, 'delta')) === 'ready' && (await seenState(b, c, 'delta')) === 'ready', { what: 'a and b to see delta ready on c' });
    const before = await totals([a, b]);
    const results: { answer: Answer | null; error: string | null; streamed: boolean }[] = [];
    let started = 0;
    let killed = false;
    const worker = async (): Promise<void> => {
      while (started < 120) {
        started++;
        const entry = started % 2 === 0 ? a : b;
        const stream = started % 3 === 0;
        try {
          const answer = await chat(entry, 'delta', { stream, max_tokens: 4 });
          results.push({ answer, error: null, streamed: stream });
        } catch (error) {
          results.push({ answer: null, error: String(error), streamed: stream });
        }
        if (!killed && results.length >= 20) {
          killed = true;
          await cluster.kill('c');
        }
      }
    };
    await Promise.all(Array.from({ length: 12 }, worker));
    expect(killed).to.equal(true);
    // A stream already under way from C may be cut (its error is passed on); nothing else may fail.
    const lost = results.filter((result) => !result.streamed && (result.answer?.status !== 200 || result.error !== null));
    expect(lost.map((result) => result.error ?? `${result.answer?.status} ${result.answer?.text.slice(0, 200)}`)).to.deep.equal([]);
    const cutStreams = results.filter((result) => result.streamed && (result.error !== null || result.answer?.status !== 200 || !result.answer.text.includes('[DONE]') || result.answer.text.includes('"error"')));
    await pollUntil(async () => (await seenState(a, c, 'delta')) === 'down' && (await seenState(b, c, 'delta')) === 'down', { timeoutMs: 3000, what: 'a and b to mark c down' });
    const after = await totals([a, b]);
    console.log(`      ${results.length} requests, C killed after 20: retried ${delta(after, before, 'retry')}, streams cut after their first byte ${cutStreams.length}`);
    expect(results).to.have.length(120);
  });
});

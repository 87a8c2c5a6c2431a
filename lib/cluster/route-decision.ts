/**
 * Sleep-aware routing: where a request for a model that several nodes serve is cheapest. Pure and
 * synchronous, written as numbered rules like lib/scheduler/scheduler.ts, tested as a table.
 *
 * Each node that can serve the model gets a cost class; lower is cheaper:
 *
 *   1. `ready-self`     ready on this node with spare concurrency (no hop, no wait);
 *   2. `ready-peer`     ready on a peer with spare concurrency (one hop);
 *   3. `ready-busy`     ready but at its concurrency limit (the request queues there);
 *   4. `waking`         waking or starting: joins work already paid for, no second load;
 *   5. `asleep-1`       asleep (or going to sleep) at level 1: a wake of seconds;
 *   6. `asleep-2`       asleep at level 2 (weights reloaded from host memory or disk);
 *   7. `stopped-fits`   stopped where the node's free budget holds it (or the node has no budget);
 *   8. `stopped-evicts` stopped where it fits once idle models (nothing in flight or queued) make room;
 *   9. `stopped-crowded` stopped where it would evict a busy model, or cannot fit at all, or the
 *      model is stopping: the last resort.
 *
 * Rule 10 breaks ties in a class by load (in flight + queued + requests this node forwarded there
 * and not yet finished), then this node before a peer, then by node id. Nodes that are down, do not
 * have the model, or are shutting it down for good are not candidates. This node always is (it
 * serves the model too), so the list is never empty.
 */
import type { ModelResources, ResourceAmounts } from '../config/types.js';
import type { ModelStatus, NodeStatus } from './types.js';

export const COST_CLASSES = [
  'ready-self',
  'ready-peer',
  'ready-busy',
  'waking',
  'asleep-1',
  'asleep-2',
  'stopped-fits',
  'stopped-evicts',
  'stopped-crowded',
] as const;
export type CostClass = (typeof COST_CLASSES)[number];

export interface Candidate {
  readonly node: string;
  /** null: this node. */
  readonly url: string | null;
  readonly cost: CostClass;
  readonly load: number;
}

type Usage = { vram: number; ram: number };

/** What a model holds now (lib/scheduler/budget.ts's rule: awake figures unless stopped or asleep). */
export function heldBy(model: Pick<ModelStatus, 'state' | 'resources'>): Usage {
  const { resources } = model;
  switch (model.state) {
    case 'stopped':
    case 'shutdown':
      return { vram: 0, ram: 0 };
    case 'asleep':
      return { vram: resources.asleep?.vram ?? 0, ram: resources.asleep?.ram ?? 0 };
    default:
      return { vram: resources.vram ?? 0, ram: resources.ram ?? 0 };
  }
}

/** Free budget per dimension (Infinity where no budget is set), or null when the node has no budgets. */
export function freeBudget(budgets: ResourceAmounts | null, models: Iterable<ModelStatus>): Usage | null {
  if (budgets === null || (budgets.vram === undefined && budgets.ram === undefined)) return null;
  const used = { vram: 0, ram: 0 };
  for (const model of models) {
    const held = heldBy(model);
    used.vram += held.vram;
    used.ram += held.ram;
  }
  return { vram: (budgets.vram ?? Infinity) - used.vram, ram: (budgets.ram ?? Infinity) - used.ram };
}

function isIdle(model: ModelStatus): boolean {
  return model.inFlight === 0 && model.queued === 0 && (model.state === 'ready' || model.state === 'asleep');
}

/** Rules 7-9: where a stopped model would start on `node`. */
export function stoppedCost(node: Pick<NodeStatus, 'budgets' | 'models'>, target: ModelResources): CostClass {
  const free = freeBudget(node.budgets, node.models.values());
  if (free === null) return 'stopped-fits';
  const need = { vram: target.vram ?? 0, ram: target.ram ?? 0 };
  if (need.vram <= free.vram && need.ram <= free.ram) return 'stopped-fits';
  const reclaimable = { vram: 0, ram: 0 };
  for (const model of node.models.values()) {
    if (!isIdle(model)) continue;
    const held = heldBy(model);
    reclaimable.vram += held.vram;
    reclaimable.ram += held.ram;
  }
  if (need.vram <= free.vram + reclaimable.vram && need.ram <= free.ram + reclaimable.ram) return 'stopped-evicts';
  return 'stopped-crowded';
}

/** Rules 1-9 for one node's copy of the model; null when it is not a candidate. */
export function costOf(node: NodeStatus, model: ModelStatus, concurrencyLimit: number): CostClass | null {
  const self = node.url === null;
  switch (model.state) {
    case 'ready':
      if (model.inFlight + model.queued + node.pending >= concurrencyLimit) return 'ready-busy';
      return self ? 'ready-self' : 'ready-peer';
    case 'waking':
    case 'starting':
      return 'waking';
    case 'sleeping':
    case 'asleep':
      return (model.asleepLevel ?? 1) <= 1 ? 'asleep-1' : 'asleep-2';
    case 'stopped':
      return stoppedCost(node, model.resources);
    case 'stopping':
      return 'stopped-crowded';
    case 'shutdown':
      return self ? 'stopped-crowded' : null;
  }
}

/** Every candidate for `modelId`, cheapest first (rule 10 for ties). */
export function rankCandidates(modelId: string, nodes: readonly NodeStatus[], concurrencyLimit: number): Candidate[] {
  const candidates: (Candidate & { readonly self: boolean })[] = [];
  for (const node of nodes) {
    if (!node.up) continue;
    const model = node.models.get(modelId);
    if (!model) continue;
    const cost = costOf(node, model, concurrencyLimit);
    if (cost === null) continue;
    candidates.push({ node: node.id, url: node.url, cost, load: model.inFlight + model.queued + node.pending, self: node.url === null });
  }
  const rank = (cost: CostClass): number => COST_CLASSES.indexOf(cost);
  candidates.sort((a, b) => rank(a.cost) - rank(b.cost) || a.load - b.load || Number(b.self) - Number(a.self) || (a.node < b.node ? -1 : a.node > b.node ? 1 : 0));
  return candidates.map(({ node, url, cost, load }) => ({ node, url, cost, load }));
}

/**
 * What a node does with an incoming request, by its cluster headers (pure, tested as a table):
 * - no `x-siesta-forwarded-by`: `route` it across the cluster;
 * - forwarded with a wrong or missing cluster key: `unauthorized` (401);
 * - forwarded by this very node (its own name in the header: a peer list that holds itself): `loop` (508);
 * - forwarded once already: `serve` it here, never forward again.
 */
export type IncomingVerdict = 'route' | 'serve' | 'loop' | 'unauthorized';

export function incomingVerdict(facts: { readonly forwardedBy: string | undefined; readonly keyValid: boolean; readonly self: string }): IncomingVerdict {
  if (facts.forwardedBy === undefined) return 'route';
  if (!facts.keyValid) return 'unauthorized';
  const hops = facts.forwardedBy.split(',').map((hop) => hop.trim());
  if (hops.includes(facts.self) || hops.length > 1) return 'loop';
  return 'serve';
}

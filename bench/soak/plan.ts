/**
 * The soak's plan: a list of operations drawn from a seeded generator, so a seed always gives the
 * same operations in the same order (timing, and so the interleaving, still varies from run to run).
 */

/** A small, fast, seedable generator (mulberry32); `next()` is uniform in [0, 1). */
export function seededRandom(seed: number): { next(): number } {
  let state = seed >>> 0;
  return {
    next() {
      state = (state + 0x6d2b79f5) >>> 0;
      let t = state;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
    },
  };
}

export const ADMIN_ACTIONS = ['sleep', 'wake', 'unload', 'load'] as const;
export type AdminAction = (typeof ADMIN_ACTIONS)[number];

/** How the client abandons a request: after some SSE events of a stream, or some ms into a plain request. */
export type Cancel = { readonly afterEvents: number } | { readonly afterMs: number };

export interface ChatOp {
  readonly kind: 'chat';
  readonly index: number;
  readonly model: string;
  readonly stream: boolean;
  readonly maxTokens: number;
  readonly cancel: Cancel | null;
}

export interface AdminOp {
  readonly kind: 'admin';
  readonly index: number;
  readonly model: string;
  readonly action: AdminAction;
}

export type Op = ChatOp | AdminOp;

export interface PlanOptions {
  readonly seed: number;
  readonly count: number;
  readonly models: readonly string[];
  readonly adminRate: number;
  readonly cancelRate: number;
}

/** The operations, in the order they are sent. Pure. */
export function makePlan(options: PlanOptions): Op[] {
  const random = seededRandom(options.seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random.next() * items.length)] as T;
  const between = (low: number, high: number): number => low + Math.floor(random.next() * (high - low + 1));
  const ops: Op[] = [];
  for (let index = 0; index < options.count; index += 1) {
    const model = pick(options.models);
    if (random.next() < options.adminRate) {
      ops.push({ kind: 'admin', index, model, action: pick(ADMIN_ACTIONS) });
      continue;
    }
    const stream = random.next() < 0.5;
    const cancels = random.next() < options.cancelRate;
    // A stream is abandoned after 1-4 events (a loading progress line counts); a plain request 0-80 ms in.
    const cancel: Cancel | null = !cancels ? null : stream ? { afterEvents: between(1, 4) } : { afterMs: between(0, 80) };
    ops.push({ kind: 'chat', index, model, stream, maxTokens: between(2, 12), cancel });
  }
  return ops;
}

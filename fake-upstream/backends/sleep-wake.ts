/**
 * vLLM's sleep-mode dev endpoints (`/sleep`, `/wake_up`, `/collective_rpc`, `/reset_prefix_cache`,
 * `/is_sleeping`), shared with the generic backend's simple sleep endpoints.
 */
import type { FakeContext, RouteHandler, RouteRequest } from '../context.js';
import { delay, parseJsonObject, type Reply } from '../http-util.js';
import { openAiError } from '../openai.js';

const WAKE_TAGS = new Set(['weights', 'kv_cache']);

export interface SleepWakeRules {
  /** vLLM: a level-2 sleep discards the weights, which must be reloaded after `wake_up?tags=weights`. */
  readonly level2DiscardsWeights: boolean;
}

/** `--hang-sleep` / `--hang-wake`: never answer; the caller's disconnect aborts the wait. */
function hang(signal: AbortSignal): Promise<never> {
  return new Promise((_resolve, reject) => {
    signal.throwIfAborted();
    signal.addEventListener('abort', () => reject(signal.reason as Error), { once: true });
  });
}

async function sleepRoute(ctx: FakeContext, request: RouteRequest, rules: SleepWakeRules): Promise<Reply> {
  const { state, options } = ctx;
  // vLLM reads the level from the query string only; a JSON body {"level":2} is ignored (→ level 1).
  const levelText = request.query.get('level') ?? '1';
  const level = Number(levelText);
  if (!Number.isInteger(level) || level < 1 || level > 2) {
    return { status: 400, body: openAiError(`invalid sleep level '${levelText}'`, 'BadRequestError', 400) };
  }
  const mode = request.query.get('mode') ?? 'abort';
  if (!['abort', 'wait', 'keep'].includes(mode)) {
    return { status: 400, body: openAiError(`invalid sleep mode '${mode}'`, 'BadRequestError', 400) };
  }
  if (options.failSleep) return { status: 500, body: openAiError('sleep failed (--fail-sleep)', 'InternalServerError', 500) };
  if (options.hangSleep) await hang(request.signal);
  if (mode === 'wait') await state.waitUntil(() => state.active.size === 0, request.signal);
  if (mode === 'abort') for (const generation of state.active) generation.aborted = true;
  // `keep`: in-flight generations pause (they wait for the wake before each token).
  state.sleepAll(level, rules.level2DiscardsWeights && level === 2);
  await delay(options.sleepDelayMs);
  return { status: 200 };
}

async function wakeRoute(ctx: FakeContext, request: RouteRequest): Promise<Reply> {
  const { state, options } = ctx;
  const tags = request.query.getAll('tags').flatMap((value) => value.split(',')).filter(Boolean);
  const unknown = tags.filter((tag) => !WAKE_TAGS.has(tag));
  if (unknown.length > 0) {
    return { status: 400, body: openAiError(`unknown wake_up tags: ${unknown.join(', ')}`, 'BadRequestError', 400) };
  }
  if (options.failWake) return { status: 500, body: openAiError('wake_up failed (--fail-wake)', 'InternalServerError', 500) };
  if (options.hangWake) await hang(request.signal);
  const all = tags.length === 0;
  const parts = { weights: all || tags.includes('weights'), kvCache: all || tags.includes('kv_cache') };
  const needed = (parts.weights && state.weightsAsleep) || (parts.kvCache && state.kvCacheAsleep);
  if (needed) {
    await delay(options.wakeDelayMs);
    state.wakeParts(parts);
  }
  return { status: 200 };
}

async function collectiveRpcRoute(ctx: FakeContext, request: RouteRequest): Promise<Reply> {
  const { state, options } = ctx;
  const body = parseJsonObject(request.body);
  if (!body) return { status: 400, body: { error: 'JSON decode error' } };
  const method = body['method'];
  if (typeof method !== 'string' || method === '') return { status: 400, body: { error: "Missing 'method' in request body" } };
  if (method === 'reload_weights') {
    if (state.weightsAsleep) {
      return { status: 500, body: openAiError('cannot reload weights while they are asleep: wake_up?tags=weights first', 'InternalServerError', 500) };
    }
    await delay(options.wakeDelayMs);
    state.weightsStale = false;
    state.changed();
  }
  return { status: 200, body: { results: [null] } };
}

/** The routes, keyed `METHOD /path`. */
export function sleepWakeRoutes(ctx: FakeContext, rules: SleepWakeRules): Record<string, RouteHandler> {
  const routes: Record<string, RouteHandler> = {
    'POST /sleep': (request) => sleepRoute(ctx, request, rules),
    'POST /wake_up': (request) => wakeRoute(ctx, request),
    'GET /is_sleeping': () => ({ status: 200, body: { is_sleeping: ctx.state.asleep } }),
  };
  if (rules.level2DiscardsWeights) {
    routes['POST /collective_rpc'] = (request) => collectiveRpcRoute(ctx, request);
    routes['POST /reset_prefix_cache'] = () => ({ status: 200 });
  }
  return routes;
}

/** Hold a generation while any part sleeps; then refuse it if the weights were never reloaded. */
export async function admitWhenAwake(ctx: FakeContext, signal: AbortSignal): Promise<Reply | undefined> {
  await ctx.state.waitUntil(() => !ctx.state.asleep, signal);
  if (ctx.state.weightsStale) {
    // Real vLLM answers 200 with garbage here; a 500 makes the mistake visible to tests.
    return {
      status: 500,
      body: openAiError(
        'weights were discarded by a level-2 sleep and never reloaded (POST /collective_rpc {"method":"reload_weights"}): output would be garbage',
        'InternalServerError',
        500,
      ),
    };
  }
  return undefined;
}

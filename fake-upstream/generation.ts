/** Generation routes: chat and text completions (plain and streamed) and embeddings. */
import type { ServerResponse } from 'node:http';
import type { Backend, FakeContext } from './context.js';
import { delay, parseJsonObject, writeReply, type Reply } from './http-util.js';
import type { ActiveGeneration } from './model-state.js';
import {
  chatCompletion,
  embeddingInputs,
  embeddingsResponse,
  openAiError,
  plannedTokens,
  promptTokens,
  streamChunk,
  textCompletion,
  timings,
  tokenText,
  usage,
  usageChunk,
  type JsonObject,
  type ResponseMeta,
} from './openai.js';

export type GenerationKind = 'chat' | 'completion' | 'embedding';

export const GENERATION_ROUTES: Readonly<Record<string, GenerationKind>> = {
  'POST /v1/chat/completions': 'chat',
  'POST /v1/completions': 'completion',
  'POST /v1/embeddings': 'embedding',
};

let sequence = 0;

function meta(ctx: FakeContext, body: JsonObject, kind: GenerationKind): ResponseMeta {
  sequence += 1;
  const prefix = kind === 'chat' ? 'chatcmpl' : kind === 'completion' ? 'cmpl' : 'embd';
  return {
    id: `${prefix}-fake-${ctx.pid}-${sequence}`,
    created: Math.floor(Date.now() / 1000),
    model: typeof body['model'] === 'string' ? body['model'] : ctx.options.model,
    fingerprint: `fake-${ctx.options.model}`,
  };
}

function sse(res: ServerResponse, payload: JsonObject | '[DONE]'): Promise<void> {
  const text = `data: ${payload === '[DONE]' ? payload : JSON.stringify(payload)}\n\n`;
  return new Promise((resolve) => res.write(text, () => resolve()));
}

function isAbort(error: unknown): boolean {
  return error instanceof Error && error.name === 'AbortError';
}

interface Plan {
  readonly kind: 'chat' | 'completion';
  readonly meta: ResponseMeta;
  readonly promptN: number;
  /** Prompt tokens the slot had cached (llama-server `timings.cache_n`); `prompt_n` is the rest. */
  readonly cacheN: number;
  readonly count: number;
  readonly finishReason: 'stop' | 'length';
  readonly stream: boolean;
  readonly includeUsage: boolean;
}

/**
 * Produce the tokens, pausing while the model sleeps (vLLM `mode=keep`) and stopping early when a
 * sleep in `abort` mode aborted the generation. Calls `emit` once per token.
 */
async function produceTokens(
  ctx: FakeContext,
  plan: Plan,
  generation: ActiveGeneration,
  signal: AbortSignal,
  emit: (index: number) => Promise<void>,
): Promise<number> {
  let produced = 0;
  for (let index = 0; index < plan.count; index += 1) {
    if (index > 0) await delay(ctx.options.tokenIntervalMs, signal);
    await ctx.state.waitUntil(() => generation.aborted || !ctx.state.asleep, signal);
    if (generation.aborted) break;
    await emit(index);
    produced += 1;
  }
  return produced;
}

async function answerStream(ctx: FakeContext, backend: Backend, res: ServerResponse, plan: Plan, generation: ActiveGeneration, signal: AbortSignal): Promise<void> {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
  res.flushHeaders();
  const startedAt = performance.now();
  let firstTokenAt = startedAt;
  const produced = await produceTokens(ctx, plan, generation, signal, async (index) => {
    if (index === 0) firstTokenAt = performance.now();
    await sse(res, streamChunk(plan.kind, plan.meta, index, tokenText(index), null));
    if (ctx.options.crashMidStream && index === 1) ctx.exit(1, 'fake-upstream: crashing mid-stream (--crash-mid-stream)');
  });
  const finishReason = generation.aborted ? 'abort' : plan.finishReason;
  const last = streamChunk(plan.kind, plan.meta, produced, undefined, finishReason);
  if (backend.withTimings) last['timings'] = timings(plan.promptN - plan.cacheN, firstTokenAt - startedAt, produced, performance.now() - firstTokenAt, plan.cacheN);
  await sse(res, last);
  if (plan.includeUsage) await sse(res, usageChunk(plan.kind, plan.meta, usage(plan.promptN, produced)));
  await sse(res, '[DONE]');
  res.end();
  ctx.state.promptTokensTotal += plan.promptN;
  ctx.state.predictedTokensTotal += produced;
}

async function answerWhole(ctx: FakeContext, backend: Backend, plan: Plan, generation: ActiveGeneration, signal: AbortSignal): Promise<Reply> {
  const startedAt = performance.now();
  const produced = await produceTokens(ctx, plan, generation, signal, () => Promise.resolve());
  const text = Array.from({ length: produced }, (_, index) => tokenText(index)).join('');
  const finishReason = generation.aborted ? 'abort' : plan.finishReason;
  const used = usage(plan.promptN, produced);
  const body = plan.kind === 'chat' ? chatCompletion(plan.meta, text, finishReason, used) : textCompletion(plan.meta, text, finishReason, used);
  if (backend.withTimings) body['timings'] = timings(plan.promptN - plan.cacheN, 0, produced, performance.now() - startedAt, plan.cacheN);
  ctx.state.promptTokensTotal += plan.promptN;
  ctx.state.predictedTokensTotal += produced;
  return { status: 200, body };
}

type Checked = { readonly ok: true; readonly body: JsonObject } | { readonly ok: false; readonly reply: Reply };

function refuse(status: number, message: string, type = 'invalid_request_error'): Checked {
  return { ok: false, reply: { status, body: openAiError(message, type, status) } };
}

/** Validate the request before admitting it. */
function validate(ctx: FakeContext, kind: GenerationKind, bodyText: string): Checked {
  const body = parseJsonObject(bodyText);
  if (!body) return refuse(400, 'request body is not a JSON object');
  const model = body['model'];
  if (ctx.options.strictModel && typeof model === 'string' && model !== ctx.options.model) {
    return refuse(404, `The model \`${model}\` does not exist.`, 'NotFoundError');
  }
  if (kind === 'chat' && !Array.isArray(body['messages'])) return refuse(400, "'messages' must be an array");
  if (kind === 'embedding' && !embeddingInputs(body['input'])) return refuse(400, "'input' must be a string or an array");
  return { ok: true, body };
}

/**
 * Answer one generation request. Counts it in flight from arrival (including while it waits for a
 * wake) and counts it served once its response finished; `--exit-after` acts on that count.
 */
export async function handleGeneration(
  ctx: FakeContext,
  backend: Backend,
  kind: GenerationKind,
  bodyText: string,
  res: ServerResponse,
  signal: AbortSignal,
): Promise<void> {
  const checked = validate(ctx, kind, bodyText);
  if (!checked.ok) {
    writeReply(res, checked.reply);
    return;
  }
  const { body } = checked;
  const { state, options } = ctx;
  res.once('finish', () => {
    state.served += 1;
    if (options.exitAfter > 0 && state.served >= options.exitAfter) {
      ctx.exit(1, `fake-upstream: exiting after ${state.served} generation requests (--exit-after)`);
    }
  });
  state.inFlight += 1;
  state.changed();
  backend.onBusy();
  const generation: ActiveGeneration = { aborted: false };
  try {
    const refusal = await backend.admit(signal);
    if (refusal) {
      writeReply(res, refusal);
      return;
    }
    state.active.add(generation);
    state.changed();
    await delay(options.latencyMs, signal);
    const responseMeta = meta(ctx, body, kind);
    if (kind === 'embedding') {
      writeReply(res, { status: 200, body: embeddingsResponse(responseMeta, embeddingInputs(body['input']) ?? []) });
      return;
    }
    const planned = plannedTokens(body, options.tokens);
    const streamOptions = body['stream_options'];
    const promptN = promptTokens(body);
    const plan: Plan = {
      kind,
      meta: responseMeta,
      promptN,
      cacheN: backend.promptCache?.(JSON.stringify(body['messages'] ?? body['prompt'] ?? ''), promptN) ?? 0,
      count: planned.count,
      finishReason: planned.finishReason,
      stream: body['stream'] === true,
      includeUsage:
        typeof streamOptions === 'object' && streamOptions !== null && (streamOptions as JsonObject)['include_usage'] === true,
    };
    if (plan.stream) await answerStream(ctx, backend, res, plan, generation, signal);
    else writeReply(res, await answerWhole(ctx, backend, plan, generation, signal));
  } catch (error) {
    if (!isAbort(error)) throw error;
    // The client went away: nothing left to answer.
  } finally {
    state.active.delete(generation);
    state.inFlight -= 1;
    state.changed();
    if (state.inFlight === 0) backend.onIdle();
  }
}

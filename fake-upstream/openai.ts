/** OpenAI-shaped payloads the fake upstream answers with. Pure functions, no I/O. */

export type JsonObject = Record<string, unknown>;

export interface OpenAiErrorBody {
  error: { message: string; type: string; param: null; code: number | string | null };
}

export function openAiError(message: string, type = 'invalid_request_error', code: number | string | null = null): OpenAiErrorBody {
  return { error: { message, type, param: null, code } };
}

/** The text of token `index`: `tok0`, ` tok1`, ` tok2` … (joined they read `tok0 tok1 tok2`). */
export function tokenText(index: number): string {
  return index === 0 ? 'tok0' : ` tok${index}`;
}

export function completionText(count: number): string {
  return Array.from({ length: count }, (_, index) => tokenText(index)).join('');
}

function words(value: unknown): number {
  if (typeof value === 'string') return value.split(/\s+/).filter(Boolean).length;
  if (Array.isArray(value)) return value.reduce<number>((sum, item) => sum + words(item), 0);
  if (value && typeof value === 'object') {
    const record = value as JsonObject;
    return words(record['content'] ?? record['text'] ?? '');
  }
  return 0;
}

/** A rough, deterministic prompt token count: words in the messages / prompt, at least 1. */
export function promptTokens(body: JsonObject): number {
  return Math.max(1, words(body['messages'] ?? body['prompt'] ?? body['input'] ?? ''));
}

/** How many tokens to generate: `--tokens`, capped by the request's `max_tokens` / `max_completion_tokens`. */
export function plannedTokens(body: JsonObject, configured: number): { count: number; finishReason: 'stop' | 'length' } {
  const limit = body['max_completion_tokens'] ?? body['max_tokens'] ?? body['n_predict'];
  if (typeof limit === 'number' && Number.isFinite(limit) && limit >= 0 && limit < configured) {
    return { count: Math.floor(limit), finishReason: 'length' };
  }
  return { count: configured, finishReason: 'stop' };
}

export interface ResponseMeta {
  readonly id: string;
  readonly created: number;
  /** The request's `model` field, echoed back. */
  readonly model: string;
  /** `fake-<served model>`: tells tests which upstream answered. */
  readonly fingerprint: string;
}

export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

export function usage(prompt: number, completion: number): Usage {
  return { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion };
}

export function chatCompletion(meta: ResponseMeta, text: string, finishReason: string, used: Usage): JsonObject {
  return {
    id: meta.id,
    object: 'chat.completion',
    created: meta.created,
    model: meta.model,
    system_fingerprint: meta.fingerprint,
    choices: [{ index: 0, message: { role: 'assistant', content: text }, logprobs: null, finish_reason: finishReason }],
    usage: used,
  };
}

export function textCompletion(meta: ResponseMeta, text: string, finishReason: string, used: Usage): JsonObject {
  return {
    id: meta.id,
    object: 'text_completion',
    created: meta.created,
    model: meta.model,
    system_fingerprint: meta.fingerprint,
    choices: [{ index: 0, text, logprobs: null, finish_reason: finishReason }],
    usage: used,
  };
}

/** One streamed chunk; `text` undefined = the final chunk carrying only `finish_reason`. */
export function streamChunk(
  kind: 'chat' | 'completion',
  meta: ResponseMeta,
  index: number,
  text: string | undefined,
  finishReason: string | null,
): JsonObject {
  const base = { id: meta.id, created: meta.created, model: meta.model, system_fingerprint: meta.fingerprint };
  if (kind === 'chat') {
    const delta: JsonObject = {};
    if (index === 0) delta['role'] = 'assistant';
    if (text !== undefined) delta['content'] = text;
    return { ...base, object: 'chat.completion.chunk', choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }] };
  }
  return { ...base, object: 'text_completion', choices: [{ index: 0, text: text ?? '', logprobs: null, finish_reason: finishReason }] };
}

/** The usage-only chunk sent when the request asked `stream_options.include_usage`. */
export function usageChunk(kind: 'chat' | 'completion', meta: ResponseMeta, used: Usage): JsonObject {
  return {
    id: meta.id,
    object: kind === 'chat' ? 'chat.completion.chunk' : 'text_completion',
    created: meta.created,
    model: meta.model,
    system_fingerprint: meta.fingerprint,
    choices: [],
    usage: used,
  };
}

function hash32(text: string): number {
  let value = 0x811c9dc5;
  for (let index = 0; index < text.length; index += 1) {
    value ^= text.charCodeAt(index);
    value = Math.imul(value, 0x01000193) >>> 0;
  }
  return value;
}

export const EMBEDDING_DIMENSIONS = 8;

/** A deterministic unit vector of 8 floats for a text. */
export function embeddingFor(text: string): number[] {
  const seed = hash32(text);
  const raw = Array.from({ length: EMBEDDING_DIMENSIONS }, (_, index) => Math.sin(seed + index * 1.7));
  const norm = Math.hypot(...raw) || 1;
  return raw.map((value) => Number((value / norm).toFixed(6)));
}

/** Normalise an embeddings `input` (string, string[], token ids, token id arrays) to texts; undefined if invalid. */
export function embeddingInputs(input: unknown): string[] | undefined {
  if (typeof input === 'string') return [input];
  if (!Array.isArray(input) || input.length === 0) return undefined;
  if (input.every((item) => typeof item === 'number')) return [input.join(',')];
  if (input.every((item) => typeof item === 'string')) return input;
  if (input.every((item) => Array.isArray(item))) return input.map((item: unknown[]) => item.join(','));
  return undefined;
}

export function embeddingsResponse(meta: ResponseMeta, inputs: readonly string[]): JsonObject {
  const prompt = inputs.reduce((sum, text) => sum + Math.max(1, words(text)), 0);
  return {
    object: 'list',
    model: meta.model,
    system_fingerprint: meta.fingerprint,
    data: inputs.map((text, index) => ({ object: 'embedding', index, embedding: embeddingFor(text) })),
    usage: { prompt_tokens: prompt, total_tokens: prompt },
  };
}

export interface Timings {
  cache_n: number;
  prompt_n: number;
  prompt_ms: number;
  prompt_per_second: number;
  predicted_n: number;
  predicted_ms: number;
  predicted_per_token_ms: number;
  predicted_per_second: number;
}

/** llama-server's `timings` object. */
export function timings(promptN: number, promptMs: number, predictedN: number, predictedMs: number, cacheN = 0): Timings {
  const safePromptMs = Math.max(promptMs, 0.001);
  const safePredictedMs = Math.max(predictedMs, 0.001);
  return {
    cache_n: cacheN,
    prompt_n: promptN,
    prompt_ms: promptMs,
    prompt_per_second: (promptN * 1000) / safePromptMs,
    predicted_n: predictedN,
    predicted_ms: predictedMs,
    predicted_per_token_ms: predictedN > 0 ? predictedMs / predictedN : 0,
    predicted_per_second: (predictedN * 1000) / safePredictedMs,
  };
}

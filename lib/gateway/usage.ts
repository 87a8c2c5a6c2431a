/**
 * Token counts and speeds read from a model server's answer, as llama-swap reads them
 * (internal/server/metrics.go): OpenAI `usage` (also `response.usage` and `message.usage`, and the
 * Anthropic/Responses field names), llama-server `timings` (which win over `usage` and give the
 * speeds), and vLLM `metrics` (speculative decoding, time to first token, inter-token latency).
 * A streamed answer is read line by line as it passes; only the last usage/timings/metrics seen
 * are kept. Pure: no I/O, no clock (the caller passes the wall time).
 */

/** llama-swap's `TokenMetrics` JSON (store.TokenMetrics): -1 means "not reported". */
export interface TokenMetrics {
  readonly cache_tokens: number;
  readonly draft_tokens: number;
  readonly draft_acc_tokens: number;
  readonly input_tokens: number;
  readonly output_tokens: number;
  readonly prompt_per_second: number;
  readonly tokens_per_second: number;
}

/** What an answer without usable figures records (llama-swap's zero value). */
export const NO_TOKENS: TokenMetrics = { cache_tokens: 0, draft_tokens: 0, draft_acc_tokens: 0, input_tokens: 0, output_tokens: 0, prompt_per_second: 0, tokens_per_second: 0 };

export interface ParsedUsage {
  readonly tokens: TokenMetrics;
  /** The wall time, or the server's own prompt+generation time when that is longer. */
  readonly durationMs: number;
}

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Dotted paths split once (the same few constant paths are read from every answer). */
const SPLIT_PATHS = new Map<string, readonly string[]>();

function get(value: unknown, path: string): unknown {
  if (!path.includes('.')) return isObject(value) ? value[path] : undefined;
  let keys = SPLIT_PATHS.get(path);
  if (keys === undefined) SPLIT_PATHS.set(path, (keys = path.split('.')));
  let current = value;
  for (const key of keys) {
    if (!isObject(current)) return undefined;
    current = current[key];
  }
  return current;
}

/** gjson's `Int()`: numbers truncated, numeric strings read, anything else 0. */
function int(value: unknown): number {
  const number = typeof value === 'number' ? value : typeof value === 'string' ? Number(value) : NaN;
  return Number.isFinite(number) ? Math.trunc(number) : 0;
}

function float(value: unknown): number {
  const number = typeof value === 'number' ? value : typeof value === 'string' ? Number(value) : NaN;
  return Number.isFinite(number) ? number : 0;
}

/** The paths where one event's usage object can be (llama-swap's `usagePaths`). */
const USAGE_PATHS = ['usage', 'response.usage', 'message.usage'] as const;

interface UsageTokens {
  readonly input: number;
  readonly output: number;
  /** -1 when not reported. */
  readonly cached: number;
  readonly found: boolean;
}

/** llama-swap's `extractUsageTokens`: the field names of chat/completions, responses and messages. */
export function usageTokens(usage: unknown): UsageTokens {
  if (!isObject(usage)) return { input: 0, output: 0, cached: -1, found: false };
  let found = false;
  const pick = (...paths: string[]): number | undefined => {
    for (const path of paths) {
      const value = get(usage, path);
      if (value !== undefined) {
        found = true;
        return int(value);
      }
    }
    return undefined;
  };
  const input = pick('prompt_tokens', 'input_tokens') ?? 0;
  const output = pick('completion_tokens', 'output_tokens') ?? 0;
  const cached = pick('cache_read_input_tokens', 'input_tokens_details.cached_tokens', 'prompt_tokens_details.cached_tokens') ?? -1;
  return { input, output, cached, found };
}

interface Collected {
  input: number;
  output: number;
  cached: number;
  timings: Json | undefined;
  metrics: Json | undefined;
}

/** llama-swap's `buildMetrics`: timings override usage and give the speeds; vLLM metrics give rates. */
export function buildUsage(collected: Readonly<Collected>, wallMs: number): ParsedUsage {
  let { input, output, cached } = collected;
  let durationMs = Math.trunc(wallMs);
  let tokensPerSecond = -1;
  let promptPerSecond = -1;
  let draftTokens = -1;
  let draftAccepted = -1;
  const { timings, metrics } = collected;
  if (timings) {
    input = int(timings['prompt_n']);
    output = int(timings['predicted_n']);
    promptPerSecond = float(timings['prompt_per_second']);
    tokensPerSecond = float(timings['predicted_per_second']);
    durationMs = Math.max(durationMs, Math.trunc(float(timings['prompt_ms']) + float(timings['predicted_ms'])));
    if (timings['cache_n'] !== undefined) cached = int(timings['cache_n']);
    if (timings['draft_n'] !== undefined && timings['draft_n_accepted'] !== undefined) {
      draftTokens = int(timings['draft_n']);
      draftAccepted = int(timings['draft_n_accepted']);
    }
  }
  if (metrics) {
    const drafted = get(metrics, 'speculative_decoding.num_draft_tokens');
    const accepted = get(metrics, 'speculative_decoding.num_accepted_draft_tokens');
    if (drafted !== undefined && accepted !== undefined) {
      draftTokens = int(drafted);
      draftAccepted = int(accepted);
    }
    const firstTokenMs = float(metrics['time_to_first_token_ms']);
    if (firstTokenMs > 0) promptPerSecond = (input - Math.max(cached, 0)) / (firstTokenMs / 1000);
    const interTokenMs = float(metrics['mean_itl_ms']);
    if (interTokenMs > 0) tokensPerSecond = 1000 / interTokenMs;
  }
  return {
    tokens: { cache_tokens: cached, draft_tokens: draftTokens, draft_acc_tokens: draftAccepted, input_tokens: input, output_tokens: output, prompt_per_second: promptPerSecond, tokens_per_second: tokensPerSecond },
    durationMs,
  };
}

/**
 * Whether JSON text can hold any figure read here: each one sits under a key `usage`, `timings` or
 * `metrics`, which a JSON encoder writes as that quoted name (servers do not escape plain ASCII in
 * keys). Lines and answers without any of them (nearly every chunk of a stream) are not parsed.
 */
function mayHoldFigures(text: string): boolean {
  return text.includes('"usage"') || text.includes('"timings"') || text.includes('"metrics"');
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/**
 * A whole (non-streamed) JSON answer: its usage, timings and metrics; null when it is not JSON or
 * has none of them. `/infill` answers are arrays whose last element carries the timings.
 */
export function parseJsonUsage(path: string, body: string, wallMs: number): ParsedUsage | null {
  if (!mayHoldFigures(body)) return null;
  const parsed = parseJson(body);
  if (parsed === undefined) return null;
  let timings = get(parsed, 'timings');
  if (path.startsWith('/infill') && Array.isArray(parsed) && parsed.length > 0) timings = get(parsed[parsed.length - 1], 'timings');
  const usage = get(parsed, 'usage');
  const metrics = get(parsed, 'metrics');
  if (usage === undefined && timings === undefined && metrics === undefined) return null;
  const tokens = usageTokens(usage);
  return buildUsage({ input: tokens.input, output: tokens.output, cached: tokens.cached, timings: isObject(timings) ? timings : undefined, metrics: isObject(metrics) ? metrics : undefined }, wallMs);
}

/** The longest SSE line kept while waiting for its end (a longer one is skipped, not buffered). */
const MAX_LINE_CHARS = 1024 * 1024;

/**
 * A streamed (SSE) answer, fed chunk by chunk: keeps only the latest figures, never the stream.
 * llama-swap's `processStreamingResponse`: every `data:` line that is JSON is looked at; a usage
 * value replaces the previous one when it is positive (cached: when reported).
 */
export class SseUsageScanner {
  readonly #collected: Collected = { input: 0, output: 0, cached: -1, timings: undefined, metrics: undefined };
  #found = false;
  #pending = '';
  #skipping = false;

  push(chunk: string): void {
    let text = chunk;
    for (;;) {
      const newline = text.indexOf('\n');
      if (newline < 0) {
        if (!this.#skipping) this.#pending += text;
        if (this.#pending.length > MAX_LINE_CHARS) {
          this.#pending = '';
          this.#skipping = true;
        }
        return;
      }
      const line = this.#skipping ? null : this.#pending + text.slice(0, newline);
      this.#pending = '';
      this.#skipping = false;
      text = text.slice(newline + 1);
      if (line !== null) this.#line(line);
    }
  }

  /** The figures seen (the last line is read even without its newline); null when there were none. */
  result(wallMs: number): ParsedUsage | null {
    if (this.#pending) {
      this.#line(this.#pending);
      this.#pending = '';
    }
    return this.#found ? buildUsage(this.#collected, wallMs) : null;
  }

  #line(raw: string): void {
    const line = raw.trim();
    if (!line.startsWith('data:')) return;
    const data = line.slice(5).trim();
    if (!data || data === '[DONE]' || !mayHoldFigures(data)) return;
    const parsed = parseJson(data);
    if (!isObject(parsed)) return;
    const collected = this.#collected;
    for (const path of USAGE_PATHS) {
      const tokens = usageTokens(get(parsed, path));
      if (!tokens.found) continue;
      this.#found = true;
      if (tokens.input > 0) collected.input = tokens.input;
      if (tokens.output > 0) collected.output = tokens.output;
      if (tokens.cached >= 0) collected.cached = tokens.cached;
    }
    if (isObject(parsed['timings'])) {
      collected.timings = parsed['timings'];
      this.#found = true;
    }
    if (isObject(parsed['metrics'])) {
      collected.metrics = parsed['metrics'];
      this.#found = true;
    }
  }
}

/** Where OpenAI- and llama.cpp-style error bodies keep their message (llama-swap's `errorMessagePaths`). */
const ERROR_MESSAGE_PATHS = ['error.message', 'error', 'message', 'detail'] as const;

/** llama-swap's `failedErrorMessage`: the body's message (at most 500 characters), else the status. */
export function failedErrorMessage(status: number, statusText: string | undefined, body: string): string {
  const parsed = body ? parseJson(body) : undefined;
  for (const path of ERROR_MESSAGE_PATHS) {
    const value = get(parsed, path);
    if (typeof value === 'string' && value.trim() !== '') {
      const message = value.trim();
      return message.length > 500 ? `${message.slice(0, 500)}...` : message;
    }
  }
  return statusText ? `${status} ${statusText}` : `HTTP ${status}`;
}

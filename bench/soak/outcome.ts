/**
 * What became of one operation, decided from what the client saw. Pure: the rules below are the
 * soak's definition of a correct answer.
 *
 *   1. The planned cancel happened before the answer was complete → `cancelled` (unless a wrong
 *      model's chunk arrived before it: rule 4 first).
 *   2. No complete answer within the hang bound → `hung`; no response at all (socket error) → `lost`.
 *   3. A non-2xx status with an OpenAI-style error body (`{"error":{"code":…}}`) → `refused`, by
 *      status and code; a stream (200) that carries such an error chunk → `refused` with status "sse".
 *   4. Every chunk or body from a model server carries `system_fingerprint: "fake-<served model>"`
 *      (the fake upstream's): another model's fingerprint → `wrong-model`.
 *   5. A 200 stream must end with `[DONE]` (or carry an error chunk, rule 3) → else `truncated`; a
 *      plain 200 must be complete JSON with the fingerprint → else `truncated` / `wrong-model`.
 *   6. Anything else (a body that is neither, an error without a code) → `malformed`.
 */
import type { Op } from './plan.js';

export interface Observed {
  readonly op: Op;
  /** The HTTP status; null when no response head arrived. */
  readonly status: number | null;
  readonly body: string;
  /** The response ended normally ('end'). */
  readonly complete: boolean;
  /** The client abandoned the request as planned. */
  readonly cancelled: boolean;
  /** The hang bound passed first (the client then gave up). */
  readonly hung: boolean;
  /** A socket error not caused by the client. */
  readonly networkError: string | null;
}

export type Outcome =
  | { readonly kind: 'ok' }
  | { readonly kind: 'cancelled' }
  | { readonly kind: 'refused'; readonly status: number | 'sse'; readonly code: string }
  | { readonly kind: 'lost'; readonly detail: string }
  | { readonly kind: 'hung'; readonly detail: string }
  | { readonly kind: 'truncated'; readonly detail: string }
  | { readonly kind: 'wrong-model'; readonly detail: string }
  | { readonly kind: 'malformed'; readonly detail: string };

export type OutcomeKind = Outcome['kind'];

/** Outcomes that fail the soak. `refused` fails only for the codes in FAILING_CODES. */
export const FAILING_KINDS: ReadonlySet<OutcomeKind> = new Set(['lost', 'hung', 'truncated', 'wrong-model', 'malformed']);
/** Error codes that are never a correct answer: the gateway's own crash (500 internal). */
export const FAILING_CODES: ReadonlySet<string> = new Set(['internal']);

export function isFailure(outcome: Outcome): boolean {
  return FAILING_KINDS.has(outcome.kind) || (outcome.kind === 'refused' && FAILING_CODES.has(outcome.code));
}

type Json = Record<string, unknown>;

function parseJson(text: string): Json | null {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Json) : null;
  } catch {
    return null;
  }
}

/** `error.code` of an OpenAI-style error object (a number code as text); null when it is not one. */
function errorCode(value: Json | null): string | null {
  const error = value?.['error'];
  if (typeof error !== 'object' || error === null) return null;
  const code = (error as Json)['code'];
  return typeof code === 'string' || typeof code === 'number' ? String(code) : 'no-code';
}

/** The `data:` payloads of an SSE text; an unfinished last event is left out. */
export function sseData(text: string): string[] {
  const blocks = text.split('\n\n');
  blocks.pop(); // the part after the last blank line is not a complete event
  return blocks
    .map((block) => block.split('\n').filter((line) => line.startsWith('data:')).map((line) => line.slice(5).trim()).join('\n'))
    .filter((data) => data !== '');
}

/** The served model a fingerprint names, or null for a chunk no model server wrote (siesta's loading lines). */
function fingerprintModel(value: Json): string | null {
  const fingerprint = value['system_fingerprint'];
  return typeof fingerprint === 'string' && fingerprint.startsWith('fake-') ? fingerprint.slice(5) : null;
}

function classifyStream(observed: Observed, served: string): Outcome {
  let done = false;
  let modelChunks = 0;
  for (const data of sseData(observed.body)) {
    if (data === '[DONE]') {
      done = true;
      continue;
    }
    const value = parseJson(data);
    if (!value) return { kind: 'malformed', detail: `SSE data is not JSON: ${data.slice(0, 80)}` };
    const code = errorCode(value);
    if (code !== null) return { kind: 'refused', status: 'sse', code };
    const model = fingerprintModel(value);
    if (model === null) continue;
    if (model !== served) return { kind: 'wrong-model', detail: `asked ${served}, a chunk came from ${model}` };
    modelChunks += 1;
  }
  if (observed.cancelled && !observed.complete) return { kind: 'cancelled' };
  if (observed.hung) return { kind: 'hung', detail: `stream open after the hang bound (${modelChunks} model chunks)` };
  if (!done) return { kind: 'truncated', detail: `stream ended without [DONE] or an error chunk (${modelChunks} model chunks)${observed.networkError ? `: ${observed.networkError}` : ''}` };
  if (modelChunks === 0) return { kind: 'malformed', detail: 'stream ended with [DONE] but no model chunk' };
  return { kind: 'ok' };
}

function classifyPlain(observed: Observed, served: string | null): Outcome {
  const value = parseJson(observed.body);
  if (value && served !== null) {
    const model = fingerprintModel(value);
    if (model !== null && model !== served) return { kind: 'wrong-model', detail: `asked ${served}, answered by ${model}` };
  }
  if (observed.cancelled && !observed.complete) return { kind: 'cancelled' };
  if (observed.hung) return { kind: 'hung', detail: `status ${observed.status}, body incomplete after the hang bound` };
  if (!observed.complete) return { kind: 'truncated', detail: `body cut after ${observed.body.length} bytes${observed.networkError ? `: ${observed.networkError}` : ''}` };
  if (!value) return { kind: 'truncated', detail: `body is not complete JSON: ${observed.body.slice(0, 80)}` };
  if (served !== null && fingerprintModel(value) === null) return { kind: 'wrong-model', detail: `asked ${served}, the answer has no fake-upstream fingerprint` };
  return { kind: 'ok' };
}

/** Decide the outcome; `served` maps a gateway model id to the model name its server was started with. */
export function classify(observed: Observed, served: (model: string) => string): Outcome {
  const { op, status } = observed;
  if (status === null) {
    if (observed.cancelled) return { kind: 'cancelled' };
    if (observed.hung) return { kind: 'hung', detail: 'no response head within the hang bound' };
    return { kind: 'lost', detail: observed.networkError ?? 'no response' };
  }
  if (status < 200 || status >= 300) {
    const value = parseJson(observed.body);
    const code = errorCode(value);
    if (code !== null) return { kind: 'refused', status, code };
    if (observed.cancelled && !observed.complete) return { kind: 'cancelled' };
    if (observed.hung) return { kind: 'hung', detail: `status ${status}, body incomplete after the hang bound` };
    return { kind: 'malformed', detail: `status ${status} without an OpenAI-style error: ${observed.body.slice(0, 80)}` };
  }
  if (op.kind === 'admin') return classifyPlain(observed, null);
  return op.stream ? classifyStream(observed, served(op.model)) : classifyPlain(observed, served(op.model));
}

/** Small HTTP helpers shared by the fake upstream's tests. */
import { readFileSync } from 'node:fs';
import { childPids, pollUntil } from '../../helpers/wait.js';

export interface JsonReply {
  status: number;
  headers: Headers;
  text: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- a parsed JSON body whose shape the test asserts
  json: any;
}

export async function request(url: string, method = 'GET', body?: unknown): Promise<JsonReply> {
  const init: RequestInit = { method };
  if (body !== undefined) {
    init.body = typeof body === 'string' ? body : JSON.stringify(body);
    init.headers = { 'content-type': 'application/json' };
  }
  const response = await fetch(url, init);
  const text = await response.text();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  return { status: response.status, headers: response.headers, text, json };
}

export function chat(url: string, extra: Record<string, unknown> = {}): Promise<JsonReply> {
  return request(`${url}/v1/chat/completions`, 'POST', { model: 'client-model', messages: [{ role: 'user', content: 'hello there' }], ...extra });
}

/** A streamed chunk, loosely typed: the tests assert the exact shape. */
export interface Chunk {
  object: string;
  model: string;
  system_fingerprint?: string;
  choices: { index: number; delta?: { role?: string; content?: string }; text?: string; finish_reason: string | null }[];
  usage?: { prompt_tokens: number; completion_tokens: number; total_tokens: number };
  timings?: Record<string, number>;
}

/** The JSON chunks of an SSE body, and whether `data: [DONE]` ended it (nothing after it). */
export function sseChunks(text: string): { chunks: Chunk[]; done: boolean } {
  const payloads = text
    .split('\n\n')
    .map((block) => block.trim())
    .filter((block) => block.startsWith('data: '))
    .map((block) => block.slice('data: '.length));
  const done = payloads.at(-1) === '[DONE]';
  const chunks = (done ? payloads.slice(0, -1) : payloads).map((data) => JSON.parse(data) as Chunk);
  return { chunks, done };
}

/** A promise whose settlement can be observed without awaiting it. */
export interface Tracked<T> {
  readonly promise: Promise<T>;
  settled(): boolean;
}

export function track<T>(promise: Promise<T>): Tracked<T> {
  let done = false;
  const observed = promise.finally(() => {
    done = true;
  });
  observed.catch(() => undefined);
  return { promise: observed, settled: () => done };
}

/** Read a streaming body until it ends or breaks; returns the text received and whether it broke. */
export async function readUntilEnd(response: Response): Promise<{ text: string; broken: boolean }> {
  const reader = response.body?.getReader();
  if (!reader) return { text: '', broken: false };
  const decoder = new TextDecoder();
  let text = '';
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return { text, broken: false };
      text += decoder.decode(value, { stream: true });
    }
  } catch {
    return { text, broken: true };
  }
}

/**
 * `assertNoChildren` from test/helpers/wait.ts, except that it ignores esbuild's transform service:
 * tsx's ESM loader starts `esbuild --service` as a child of the mocha process itself, and it lives
 * as long as mocha does, so the plain check can never pass under `--import=tsx`.
 */
export async function assertNoFakeChildren(timeoutMs = 5000): Promise<void> {
  const strangers = (): number[] => childPids().filter((pid) => !isEsbuildService(pid));
  try {
    await pollUntil(() => strangers().length === 0, { timeoutMs, what: 'child processes to exit' });
  } catch {
    throw new Error(`child processes left behind: ${strangers().map((pid) => `${pid}: ${commandLine(pid)}`).join('; ')}`);
  }
}

function commandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ').trim();
  } catch {
    return '';
  }
}

function isEsbuildService(pid: number): boolean {
  return /\/esbuild(\.exe)? --service=/.test(commandLine(pid));
}

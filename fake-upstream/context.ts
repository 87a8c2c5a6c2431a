/** What every part of the fake upstream is handed: options, state, recorder and the process effects. */
import type { JsonObject } from './openai.js';
import type { BackendName, FakeOptions } from './options.js';
import type { ModelState } from './model-state.js';
import type { CallRecorder } from './recorder.js';
import type { Reply } from './http-util.js';

export interface FakeContext {
  readonly options: FakeOptions;
  readonly state: ModelState;
  readonly recorder: CallRecorder;
  readonly pid: number;
  /** One line to stdout (prefixed by the caller). */
  readonly log: (line: string) => void;
  /** End the process with this code and message (the entry point decides how). */
  readonly exit: (code: number, message: string) => void;
}

export interface RouteRequest {
  readonly method: string;
  readonly path: string;
  readonly query: URLSearchParams;
  readonly body: string;
  /** Aborts when the client goes away. */
  readonly signal: AbortSignal;
}

export type RouteHandler = (request: RouteRequest) => Promise<Reply> | Reply;

/** The behaviour that differs between the emulated servers. */
export interface Backend {
  readonly name: BackendName;
  /** false for vLLM: its port refuses connections until the model is loaded. */
  readonly listenBeforeReady: boolean;
  /** llama-server adds `timings` to completions. */
  readonly withTimings: boolean;
  /** The answer to every request while the model loads (port bound, model not ready). */
  loadingReply(): Reply;
  health(): Reply;
  notFound(path: string): Reply;
  modelEntry(): JsonObject;
  /** Lifecycle and extra routes, keyed `METHOD /path`. */
  readonly routes: Readonly<Record<string, RouteHandler>>;
  /**
   * Gate a generation request before it is answered: wait while asleep, wake by itself, or refuse.
   * Resolves to an error reply, or undefined to go ahead. Rejects when `signal` aborts.
   */
  admit(signal: AbortSignal): Promise<Reply | undefined>;
  /** The model finished loading, or the last in-flight request ended. */
  onIdle(): void;
  /** A generation request arrived. */
  onBusy(): void;
  /** llama-server: how many of the prompt's tokens its slot has cached (`timings.cache_n`); the slot then holds this prompt. */
  promptCache?(prompt: string, promptN: number): number;
  /** Stop any timers (process shutdown). */
  dispose(): void;
}

/** What the request path needs from the model manager, as small interfaces (so middleware tests can fake them). */
import type { Readable } from 'node:stream';
import type { Response } from 'express';
import type { ModelConfig, PeerConfig } from '../config/types.js';
import type { Lease, ReadyOutcome } from '../process/model-process.js';
import type { ModelState } from '../process/states.js';

export interface LoadProgress {
  readonly state: ModelState;
  /** 1-based position in the queue while waiting for another model to make room; null when not queued. */
  readonly position: number | null;
  /** A plugin step under way during a start (e.g. `restoring prompt cache`); absent otherwise. */
  readonly step?: string;
}

export interface AcquireOptions {
  /** Aborted when the client goes away: the request leaves the queue. */
  readonly signal: AbortSignal;
  readonly onProgress?: (progress: LoadProgress) => void;
}

export interface ModelAccess {
  readonly lease: Lease;
  readonly outcome: ReadyOutcome;
  /** Time from asking to being granted (queue + start/wake). */
  readonly waitedMs: number;
}

export interface ModelDirectory {
  /** Find a model by id or alias. */
  resolve(name: string): ModelConfig | undefined;
}

export interface ModelGate extends ModelDirectory {
  state(id: string): ModelState;
  acquire(id: string, options: AcquireOptions): Promise<ModelAccess>;
  /** Admit at once when the model is ready and nothing has to wait (no promise); else undefined, nothing changed. */
  tryAcquire(id: string): ModelAccess | undefined;
}

/** A model that has a process, as `GET /running` lists it (middleware/running.ts). */
export interface RunningModel {
  readonly id: string;
  readonly state: ModelState;
  readonly model: Pick<ModelConfig, 'backend' | 'proxy' | 'name' | 'description'>;
  readonly pid: number | null;
  readonly inFlight: number;
}

/** The models that have a process (every state but stopped and shutdown): a view the manager should offer. */
export interface RunningModels {
  running(): readonly RunningModel[];
}

/** Stops every model once its requests in flight are done (llama-swap's `/unload`). */
export interface ModelUnloader {
  unloadAll(): Promise<void>;
}

/** A body streamed to the upstream as it is read (multipart uploads): sent once, never resent. */
export interface StreamedBody {
  readonly stream: Readable;
  /** Its length in bytes when known (the client sent Content-Length), else undefined (sent chunked). */
  readonly length: number | undefined;
}

/** Per-request data the chain passes along in `res.locals.siesta`. */
export interface RequestContext {
  model: ModelConfig;
  /** The name the client asked for (id or alias). */
  requestedName: string;
  /** The body to forward (after useModelName and filters), or undefined to stream the original. */
  body: Buffer | StreamedBody | undefined;
  /** The client asked for a streamed response. */
  stream: boolean;
  access?: ModelAccess;
}

/** A request for a peer's model (`res.locals.siestaPeer`): no local process, forwarded to the peer. */
export interface PeerRequestContext {
  readonly peer: PeerConfig;
  /** The model id on the peer. */
  readonly model: string;
  /** The body to forward (model renamed, the peer's filters applied), or undefined for the original. */
  readonly body: Buffer | StreamedBody | undefined;
}

export function peerRequestContext(res: Response): PeerRequestContext | undefined {
  return (res.locals as { siestaPeer?: PeerRequestContext }).siestaPeer;
}

export function setPeerRequestContext(res: Response, context: PeerRequestContext): void {
  (res.locals as { siestaPeer?: PeerRequestContext }).siestaPeer = context;
}

/** The request context, or undefined when no model was resolved (any request that is not a local model's, or one refused before). */
export function findRequestContext(res: Response): RequestContext | undefined {
  return (res.locals as { siesta?: RequestContext }).siesta;
}

/** The request context, for the middleware after resolve-model: its absence is a bug in the chain. */
export function requestContext(res: Response): RequestContext {
  const context = findRequestContext(res);
  if (!context) throw new Error('bug: no request context (resolve-model middleware missing from the chain)');
  return context;
}

export function setRequestContext(res: Response, context: RequestContext): void {
  (res.locals as { siesta?: RequestContext }).siesta = context;
}

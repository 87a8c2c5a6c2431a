/** Model states and the allowed transitions: the one table the model owner checks every change against. */
export const MODEL_STATES = ['stopped', 'starting', 'ready', 'sleeping', 'asleep', 'waking', 'stopping', 'shutdown'] as const;
export type ModelState = (typeof MODEL_STATES)[number];

export const TRANSITIONS: Readonly<Record<ModelState, readonly ModelState[]>> = {
  stopped: ['starting', 'shutdown'],
  starting: ['ready', 'stopping', 'stopped'],
  ready: ['sleeping', 'stopping', 'stopped'],
  sleeping: ['asleep', 'stopping', 'stopped'],
  asleep: ['waking', 'stopping', 'stopped'],
  waking: ['ready', 'stopping', 'stopped'],
  stopping: ['stopped'],
  shutdown: [],
};

export function canTransition(from: ModelState, to: ModelState): boolean {
  return TRANSITIONS[from].includes(to);
}

export interface StateChange {
  readonly model: string;
  readonly from: ModelState;
  readonly to: ModelState;
  /** Why: `request`, `evicted`, `idle`, `api`, `sleep failed: ...`, `exited (code 1)`, ... */
  readonly reason: string;
  /** How long the model spent in `from`. */
  readonly durationMs: number;
  readonly at: number;
}

/** The idle ladder as pure decisions: which step is due next, given where the model stands. */
import type { IdleStep } from '../config/types.js';

export interface IdlePosition {
  /** `ready`, or `asleep` at a level. */
  readonly state: 'ready' | 'asleep';
  readonly level?: number;
}

/**
 * The next step to arm after a period of idleness began at `idleSinceMs`: the first step of the
 * ladder that would still change something for a model in `position`. Null when nothing is left.
 */
export function nextIdleStep(
  steps: readonly IdleStep[],
  position: IdlePosition,
  defaultLevel: number,
  doneSteps: number,
): { readonly index: number; readonly step: IdleStep } | null {
  for (let index = doneSteps; index < steps.length; index++) {
    const step = steps[index]!;
    if (step.action === 'stop') return { index, step };
    const level = step.level ?? defaultLevel;
    if (position.state === 'ready') return { index, step };
    if (position.state === 'asleep' && level > (position.level ?? defaultLevel)) return { index, step };
  }
  return null;
}

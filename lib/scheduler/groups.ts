/**
 * Eviction by groups (llama-swap semantics, used when no budget is set).
 *
 * Loading model T requires these other models not to hold memory (its "conflicts"):
 * - when T's group has `swap: true`: every other member of T's group;
 * - when T's group has `exclusive: true`: every member of every other group that is not `persistent`.
 * The relation is checked when T loads, as llama-swap's `swapProcessGroup` does; it is not
 * symmetric (a member of a non-exclusive group may load beside a member of an exclusive one).
 * llama-swap re-applies `exclusive` on every request to an already running model; siesta applies it
 * when the model loads only, so serving a ready model never evicts anything.
 * An asleep or stopped model holds no (meaningful) memory: it is not in the way.
 */
import type { GroupConfig } from '../config/types.js';
import { holdsMemory, planToClear, type ModelView, type Plan } from './plan.js';

/** For each model id, the ids that must not be awake while it loads. */
export function conflictsByModel(groups: readonly GroupConfig[]): ReadonlyMap<string, ReadonlySet<string>> {
  const result = new Map<string, Set<string>>();
  for (const group of groups) {
    for (const member of group.members) {
      const conflicts = new Set<string>();
      if (group.swap) for (const other of group.members) if (other !== member) conflicts.add(other);
      if (group.exclusive) {
        for (const otherGroup of groups) {
          if (otherGroup === group || otherGroup.persistent) continue;
          for (const other of otherGroup.members) conflicts.add(other);
        }
      }
      result.set(member, conflicts);
    }
  }
  return result;
}

/** What loading `target` takes under group rules. Evicted models sleep when they can, else stop. */
export function planByGroups(target: ModelView, conflicts: ReadonlySet<string>, models: readonly ModelView[]): Plan {
  return planToClear(models.filter((m) => m.id !== target.id && conflicts.has(m.id) && holdsMemory(m)));
}

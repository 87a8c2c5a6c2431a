/** This node as a NodeStatus, read from its model manager (what routing compares with its peers). */
import type { ModelResources, ResourceAmounts } from '../config/types.js';
import type { ModelState } from '../process/states.js';
import type { ModelStatus, NodeStatus } from './types.js';

/** The part of the model manager this reads. */
export interface LocalSource {
  processes(): readonly { readonly id: string; readonly state: ModelState; readonly asleepLevel: number | null; readonly inFlight: number; readonly model: { readonly resources: ModelResources } }[];
  snapshot(): { readonly models: readonly { readonly id: string; readonly queued: number }[] };
}

export function localNode(self: string, source: LocalSource, budgets: ResourceAmounts | null): NodeStatus {
  const queued = new Map(source.snapshot().models.map((entry) => [entry.id, entry.queued]));
  const models = new Map<string, ModelStatus>();
  for (const process of source.processes()) {
    models.set(process.id, {
      id: process.id,
      state: process.state,
      asleepLevel: process.asleepLevel,
      inFlight: process.inFlight,
      queued: queued.get(process.id) ?? 0,
      resources: process.model.resources,
    });
  }
  return { id: self, url: null, up: true, budgets, models, pending: 0 };
}

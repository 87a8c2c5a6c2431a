/**
 * Where a requested model name goes, in llama-swap's order (internal/server: profile middleware,
 * selector middleware, then local ids and aliases before peers):
 *
 * 1. **Profile pins.** With a profile active, a pinned name is replaced by its target; an empty
 *    target disables the name (404) while the profile is active.
 * 2. **Selectors.** A selector id picks one of its targets per request:
 *    - `pin`: the first target;
 *    - `warm`: the first target that is ready, else the first that is starting or waking, else —
 *      siesta's addition — the first that is asleep (a wake beats a cold start), else the first;
 *    - `spillover`: targets that are active (ready, starting or waking, or with requests of this
 *      selector in flight) take requests until each has `spillover` of them; then the first cold
 *      target is started; with none left, the least busy active target (round robin among ties).
 * 3. **Local models**: a model id, then an alias (including `setParamsByID` keys).
 * 4. **Peers**: `<peer>/<model>`, or a bare model name that exactly one peer serves.
 *
 * Steps 1 and 2 rewrite the name the request carries (the upstream sees the new name, and
 * `setParamsByID` is looked up by it), as llama-swap's `ReplaceRequestModel` does.
 * Pure except for the spillover bookkeeping, which lives in `SpilloverTracker`.
 */
import type { GatewayConfig, ModelConfig, PeerConfig, SelectorConfig } from '../config/types.js';
import type { ModelState } from '../process/states.js';
import { findPeerModel } from '../config/routing.js';

export type Route =
  | {
      readonly kind: 'local';
      readonly model: ModelConfig;
      /** The name after profile and selector rewriting: what the request now carries. */
      readonly name: string;
      /** The selector that chose it, when one did (spillover bookkeeping). */
      readonly selector?: string;
    }
  | {
      readonly kind: 'peer';
      readonly peer: PeerConfig;
      /** The model id on the peer (what the peer's upstream is sent). */
      readonly model: string;
      readonly name: string;
      readonly selector?: string;
    }
  /** An empty pin of the active profile. */
  | { readonly kind: 'disabled'; readonly name: string; readonly profile: string }
  /** A selector that has no target to offer. */
  | { readonly kind: 'unavailable'; readonly name: string; readonly message: string }
  | { readonly kind: 'unknown'; readonly name: string };

/** What routing reads of the gateway's live state. */
export interface RoutingState {
  readonly activeProfile: string | null;
  /** A local model by id or alias (an index, not a scan: this is on every request). */
  local(name: string): ModelConfig | undefined;
  state(id: string): ModelState;
  /** Spillover reservations in flight for this selector and target model (local id or `<peer>/<model>`). */
  inFlight(selector: string, target: string): number;
  /**
   * The selector's round-robin turn for a pick among equally busy targets, advanced by the call
   * (llama-swap keeps one counter per selector, counting only those picks). Absent: `roundRobin`.
   */
  takeTurn?(selector: string): number;
}

const ACTIVE: ReadonlySet<ModelState> = new Set(['ready', 'starting', 'waking']);

/** The key a spillover target is counted under: the local model id, or `<peer>/<model>`. */
export function spilloverKey(config: GatewayConfig, state: Pick<RoutingState, 'local'>, target: string): string {
  const local = state.local(target);
  if (local) return local.id;
  const peer = findPeerModel(config.peers, target);
  return peer ? `${peer.peer}/${peer.model}` : target;
}

/** A selector's choice for this request (rule 2); null when it has nothing to offer. */
export function chooseTarget(config: GatewayConfig, selector: SelectorConfig, state: RoutingState, roundRobin = 0): string | null {
  const { targets } = selector;
  if (targets.length === 0) return null;
  const stateOf = (target: string): ModelState => {
    const local = state.local(target);
    return local ? state.state(local.id) : 'stopped';
  };
  switch (selector.strategy) {
    case 'pin':
      return targets[0] ?? null;
    case 'warm': {
      for (const wanted of [['ready'], ['starting', 'waking'], ['asleep']] as const) {
        const found = targets.find((target) => (wanted as readonly ModelState[]).includes(stateOf(target)));
        if (found !== undefined) return found;
      }
      return targets[0] ?? null;
    }
    case 'spillover': {
      const active: string[] = [];
      const cold: string[] = [];
      for (const target of targets) {
        const key = spilloverKey(config, state, target);
        const local = state.local(target);
        const busy = state.inFlight(selector.id, key) > 0;
        if (!local) {
          (busy ? active : cold).push(target);
          continue;
        }
        const current = state.state(local.id);
        if (current === 'stopping' || current === 'shutdown') continue;
        if (ACTIVE.has(current) || busy) active.push(target);
        else cold.push(target);
      }
      const load = (target: string): number => state.inFlight(selector.id, spilloverKey(config, state, target));
      if (active.length === 0) return cold[0] ?? null;
      const least = Math.min(...active.map(load));
      if (least >= selector.spillover && cold.length > 0) return cold[0] ?? null;
      const tied = active.filter((target) => load(target) === least);
      const turn = state.takeTurn?.(selector.id) ?? roundRobin;
      return tied[turn % tied.length] ?? null;
    }
  }
}

/**
 * Rule 1 for `/upstream/<name>/<rest>` (llama-swap's `upstreamProfilePin`): the longest pin that
 * is the whole path or a prefix of it followed by `/` is replaced by its target. Null when no pin
 * applies; `target` '' means the pinned name is disabled.
 */
export function pinUpstreamPath(path: string, pins: Readonly<Record<string, string>>): { readonly pin: string; readonly target: string; readonly path: string } | null {
  const trimmed = path.replace(/^\/+/, '');
  let best: string | null = null;
  for (const pin of Object.keys(pins)) {
    if ((trimmed === pin || trimmed.startsWith(`${pin}/`)) && (best === null || pin.length > best.length)) best = pin;
  }
  if (best === null) return null;
  const target = pins[best] ?? '';
  return { pin: best, target, path: target + trimmed.slice(best.length) };
}

/** Rules 1-4 for one requested name. `roundRobin` breaks spillover ties. */
export function routeName(config: GatewayConfig, requested: string, state: RoutingState, roundRobin = 0): Route {
  let name = requested;
  const profile = state.activeProfile === null ? undefined : config.profiles[state.activeProfile];
  if (profile && Object.hasOwn(profile.pins, name)) {
    const target = profile.pins[name] ?? '';
    if (target === '') return { kind: 'disabled', name, profile: profile.id };
    name = target;
  }
  let selectorId: string | undefined;
  const selector = Object.hasOwn(config.selectors, name) ? config.selectors[name] : undefined;
  if (selector) {
    const target = chooseTarget(config, selector, state, roundRobin);
    if (target === null) return { kind: 'unavailable', name, message: `selector "${name}" has no available spillover targets` };
    selectorId = selector.id;
    name = target;
  }
  const extra = selectorId === undefined ? {} : { selector: selectorId };
  const model = state.local(name);
  if (model) return { kind: 'local', model, name, ...extra };
  const peer = findPeerModel(config.peers, name);
  const peerConfig = peer ? config.peers[peer.peer] : undefined;
  if (peer && peerConfig) return { kind: 'peer', peer: peerConfig, model: peer.model, name, ...extra };
  return { kind: 'unknown', name };
}

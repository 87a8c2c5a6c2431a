/**
 * The stateful side of name routing (`name-routing.ts` has the rules; llama-swap's
 * internal/server/{server,selector}.go at 0bdb372: setActiveProfile, selectorSpilloverTracker): the active profile, which
 * outlives config reloads, and the spillover selectors' requests in flight.
 */
import type { GatewayConfig, ModelConfig } from '../config/types.js';
import { GatewayError } from '../errors.js';
import type { ModelState } from '../process/states.js';
import { routeName, spilloverKey, type Route, type RoutingState } from './name-routing.js';

/** Which profile is active (`PUT /api/profiles/active`); none at start, as in llama-swap. */
export class ProfileSwitch {
  #active: string | null = null;
  readonly #listeners = new Set<(active: string | null) => void>();

  get active(): string | null {
    return this.#active;
  }

  /** Activate `name` (null deactivates). Returns whether it changed; unknown names are a 404. */
  set(name: string | null, config: Pick<GatewayConfig, 'profiles'>): boolean {
    if (name !== null && name !== '' && !Object.hasOwn(config.profiles, name)) {
      throw new GatewayError('not_found', `profile "${name}" not found`);
    }
    const next = name === '' ? null : name;
    if (next === this.#active) return false;
    this.#active = next;
    for (const listener of this.#listeners) listener(next);
    return true;
  }

  /** After a reload: a profile that no longer exists is deactivated. */
  revalidate(config: Pick<GatewayConfig, 'profiles'>): void {
    if (this.#active !== null && !Object.hasOwn(config.profiles, this.#active)) this.set(null, config);
  }

  onChange(listener: (active: string | null) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
}

export interface NameRouterOptions {
  readonly config: GatewayConfig;
  readonly profiles: ProfileSwitch;
  /** Local models by id or alias, and their live states (the model manager). */
  readonly models: { resolve(name: string): ModelConfig | undefined; state(id: string): ModelState };
}

export class NameRouter {
  readonly #config: GatewayConfig;
  readonly #profiles: ProfileSwitch;
  readonly #models: NameRouterOptions['models'];
  readonly #inFlight = new Map<string, number>();
  readonly #view: RoutingState;
  readonly #turns = new Map<string, number>();

  constructor(options: NameRouterOptions) {
    this.#config = options.config;
    this.#profiles = options.profiles;
    this.#models = options.models;
    const inFlight = this.#inFlight;
    const turns = this.#turns;
    const profiles = this.#profiles;
    const models = this.#models;
    this.#view = {
      get activeProfile() {
        return profiles.active;
      },
      local: (name) => models.resolve(name),
      state: (id) => models.state(id),
      inFlight: (selector, target) => inFlight.get(`${selector}\u0000${target}`) ?? 0,
      takeTurn: (selector) => {
        const turn = turns.get(selector) ?? 0;
        turns.set(selector, turn + 1);
        return turn;
      },
    };
  }

  /** Where `name` goes now. A spillover choice is reserved until `release(route)`. */
  route(name: string): Route {
    const route = routeName(this.#config, name, this.#view);
    if ((route.kind === 'local' || route.kind === 'peer') && route.selector !== undefined) {
      const selector = this.#config.selectors[route.selector];
      if (selector?.strategy === 'spillover') {
        const key = this.#key(route.selector, route.name);
        this.#inFlight.set(key, (this.#inFlight.get(key) ?? 0) + 1);
      }
    }
    return route;
  }

  /** The request that `route` was for has ended. */
  release(route: Route): void {
    if ((route.kind !== 'local' && route.kind !== 'peer') || route.selector === undefined) return;
    if (this.#config.selectors[route.selector]?.strategy !== 'spillover') return;
    const key = this.#key(route.selector, route.name);
    const left = (this.#inFlight.get(key) ?? 0) - 1;
    if (left > 0) this.#inFlight.set(key, left);
    else this.#inFlight.delete(key);
  }

  #key(selector: string, target: string): string {
    return `${selector}\u0000${spilloverKey(this.#config, this.#view, target)}`;
  }
}

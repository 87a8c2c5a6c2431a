/**
 * The names that rewrite a requested name, resolved with llama-swap's rules and the substance of
 * its messages (`internal/config/selectors.go`, profiles in `load.go`): `selectors` (warm, pin,
 * spillover over local models and peers) and `profiles` (pins). Pure; every problem is collected,
 * none thrown. Where a name goes at run time is lib/gateway/name-routing.ts.
 */
import type { PeerConfig, ProfileConfig, SelectorConfig, SelectorStrategy } from './types.js';
import type { RawConfig } from './raw.js';
import { findPeerModel, type Names, type Report } from './routing.js';

/** A local id, alias or peer model (no profile applied): llama-swap's `ResolveBaseModel`. */
function isBaseModel(name: string, names: Names, peers: Readonly<Record<string, PeerConfig>>): boolean {
  return names.models.has(name) || names.aliases.has(name) || findPeerModel(peers, name) !== null;
}

const STRATEGIES: readonly SelectorStrategy[] = ['warm', 'pin', 'spillover'];

/** Which local models may run together: the spillover check needs the router's view. */
export type CoexistCheck = (localTargets: readonly string[]) => string | null;

export function resolveSelectors(
  raw: RawConfig,
  names: Names,
  peers: Readonly<Record<string, PeerConfig>>,
  coexist: CoexistCheck,
  issue: Report,
): Record<string, SelectorConfig> {
  const selectors: Record<string, SelectorConfig> = {};
  const rawSelectors = raw.selectors ?? {};
  for (const [id, selector] of Object.entries(rawSelectors)) {
    if (selector === null || typeof selector !== 'object') continue;
    const at = ['selectors', id];
    if (id.trim() === '') issue(['selectors'], 'selector names cannot be empty');
    if (names.models.has(id)) issue(at, `name conflicts with model ID "${id}"`);
    if (names.aliases.has(id)) issue(at, `name conflicts with model alias "${id}"`);
    const strategy = selector.strategy ?? '';
    if (strategy === '') issue([...at, 'strategy'], 'is required (warm, pin or spillover)');
    else if (!STRATEGIES.includes(strategy as SelectorStrategy)) issue([...at, 'strategy'], `unknown strategy "${strategy}" (valid: warm, pin, spillover)`);
    const targets = selector.targets ?? [];
    if (targets.length === 0) issue([...at, 'targets'], 'must contain at least one entry');
    const resolved: string[] = [];
    const local: string[] = [];
    targets.forEach((target, index) => {
      if (Object.hasOwn(rawSelectors, target)) {
        issue([...at, 'targets', index], `references selector "${target}"; selector chaining is not supported`);
        return;
      }
      if (!isBaseModel(target, names, peers)) {
        issue([...at, 'targets', index], `references unknown model "${target}"`);
        return;
      }
      const localId = names.models.has(target) ? target : names.aliases.get(target);
      if (strategy === 'warm' && localId === undefined) {
        issue([...at, 'targets', index], `must resolve to a local model for strategy "warm"`);
      }
      if (strategy === 'spillover') {
        if (localId !== undefined) local.push(localId);
        const peer = localId === undefined ? findPeerModel(peers, target) : null;
        resolved.push(localId ?? (peer ? `${peer.peer}/${peer.model}` : target));
      }
    });
    const spillover = selector.settings?.spillover ?? 1;
    if (strategy === 'spillover') {
      if (spillover < 1) issue([...at, 'settings', 'spillover'], 'must be >= 1');
      const duplicate = resolved.find((name, index) => resolved.indexOf(name) !== index);
      if (duplicate !== undefined) issue([...at, 'targets'], `contains duplicate resolved model "${duplicate}"`);
      if (local.length > 1) {
        const problem = coexist(local);
        if (problem !== null) issue([...at, 'targets'], problem);
      }
    }
    selectors[id] = {
      id,
      strategy: (STRATEGIES.includes(strategy as SelectorStrategy) ? strategy : 'pin') as SelectorStrategy,
      targets: [...targets],
      spillover,
      name: selector.name ?? '',
      description: selector.description ?? '',
      unlisted: selector.unlisted === true,
      metadata: { ...(selector.metadata ?? {}) },
    };
  }
  return selectors;
}

export function resolveProfiles(
  raw: RawConfig,
  names: Names,
  peers: Readonly<Record<string, PeerConfig>>,
  issue: Report,
): Record<string, ProfileConfig> {
  const profiles: Record<string, ProfileConfig> = {};
  for (const [id, profile] of Object.entries(raw.profiles ?? {})) {
    if (profile === null || typeof profile !== 'object' || Array.isArray(profile)) continue;
    if (id.trim() === '') issue(['profiles'], 'profile names cannot be empty');
    const rawPins = profile.pins ?? {};
    if (Object.keys(rawPins).length === 0) issue(['profiles', id, 'pins'], 'must contain at least one entry');
    const pins: Record<string, string> = {};
    for (const [pin, target] of Object.entries(rawPins)) {
      if (pin.trim() === '') issue(['profiles', id, 'pins'], 'pin names cannot be empty');
      const value = target ?? '';
      if (value !== '' && !isBaseModel(value, names, peers) && !Object.hasOwn(raw.selectors ?? {}, value)) {
        issue(['profiles', id, 'pins', pin], `references unknown model "${value}"`);
      }
      pins[pin] = value;
    }
    profiles[id] = { id, description: profile.description ?? '', pins };
  }
  return profiles;
}

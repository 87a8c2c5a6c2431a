/**
 * The parts of llama-swap's configuration that decide where a request goes, resolved with
 * llama-swap's rules and the substance of its messages (`internal/config/{load,peer}.go`): the
 * router (`groups`, `matrix`, or `routing.router`), the FIFO scheduler's priorities, filters and
 * timeouts, and peers with their namespace. The names that rewrite a requested name (selectors and
 * profiles) are in selectors.ts. Pure; every problem is collected, none thrown.
 */
import type { Filters, PeerConfig, ProxyTimeouts, RoutingConfig } from './types.js';
import type { RawConfig, RawFilters, RawGroup, RawTimeouts } from './raw.js';
import { checkBaseUrl } from './base-url.js';

export type Report = (docPath: readonly (string | number)[], message: string) => void;

/** What name lookups need: local ids, aliases (→ id), peers (→ served models). */
export interface Names {
  readonly models: ReadonlySet<string>;
  readonly aliases: ReadonlyMap<string, string>;
}

/** http.DefaultTransport's figures, which llama-swap uses for models. */
export const MODEL_TIMEOUTS: ProxyTimeouts = Object.freeze({
  connectMs: 30_000,
  keepAliveMs: 30_000,
  responseHeaderMs: 0,
  tlsHandshakeMs: 10_000,
  expectContinueMs: 1_000,
  idleConnMs: 90_000,
  idleMs: 0,
});

/** Peers wait at most 60 s for response headers (llama-swap's behaviour before its PR #619). */
export const PEER_TIMEOUTS: ProxyTimeouts = Object.freeze({ ...MODEL_TIMEOUTS, responseHeaderMs: 60_000 });

export function resolveTimeouts(raw: RawTimeouts | undefined, defaults: ProxyTimeouts): ProxyTimeouts {
  const pick = (value: number | undefined, fallback: number): number => (typeof value === 'number' ? value : fallback);
  return {
    connectMs: pick(raw?.connect, defaults.connectMs),
    keepAliveMs: pick(raw?.keepalive, defaults.keepAliveMs),
    responseHeaderMs: pick(raw?.responseHeader, defaults.responseHeaderMs),
    tlsHandshakeMs: pick(raw?.tlsHandshake, defaults.tlsHandshakeMs),
    expectContinueMs: pick(raw?.expectContinue, defaults.expectContinueMs),
    idleConnMs: pick(raw?.idleConn, defaults.idleConnMs),
    idleMs: pick(raw?.idle, defaults.idleMs),
  };
}

/** llama-swap's sanitised filters: `model` can never be stripped or set; strip list trimmed, unique, sorted. */
export function resolveFilters(
  raw: RawFilters | undefined,
  expand: (value: unknown, docPath: readonly (string | number)[]) => unknown,
  at: readonly (string | number)[],
  warn: Report,
): Filters {
  const stripKey = raw?.stripParams !== undefined ? 'stripParams' : 'strip_params';
  const stripSource = raw?.stripParams ?? raw?.strip_params;
  const stripList =
    typeof stripSource === 'string'
      ? String(expand(stripSource, [...at, stripKey])).split(',')
      : Array.isArray(stripSource)
        ? stripSource.map((item, index) => (typeof item === 'string' ? String(expand(item, [...at, stripKey, index])) : ''))
        : [];
  const stripParams = [...new Set(stripList.map((item) => item.trim()).filter((item) => item !== '' && item !== 'model'))].sort();
  const params = (source: Readonly<Record<string, unknown>> | null | undefined, where: readonly (string | number)[]): Record<string, unknown> => {
    const out: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(source ?? {})) {
      if (key === 'model') {
        warn([...where, 'model'], 'the model parameter cannot be set; ignored');
        continue;
      }
      out[key] = expand(value, [...where, key]);
    }
    return out;
  };
  const setParams = params(raw?.setParams, [...at, 'setParams']);
  const setParamsByID: Record<string, Record<string, unknown>> = {};
  for (const [id, values] of Object.entries(raw?.setParamsByID ?? {})) {
    setParamsByID[id] = params(values, [...at, 'setParamsByID', id]);
  }
  return { stripParams, setParams, setParamsByID };
}

/**
 * Which router and which groups: the legacy top-level `groups` / `matrix`, or `routing.router`
 * (`use: group | matrix`, both settings may be present). Never both styles.
 */
export interface RouterSource {
  readonly router: RoutingConfig['router'];
  /** The matrix as written and where it sits in the file (for messages and key order). */
  readonly matrix: { readonly raw: Readonly<Record<string, unknown>>; readonly docPath: readonly string[] } | null;
  readonly groups: Readonly<Record<string, RawGroup>>;
}

export function resolveRouter(raw: RawConfig, issue: Report): RouterSource {
  const legacyGroups = raw.groups ?? {};
  const hasTopLevel = raw.matrix !== undefined || Object.keys(legacyGroups).length > 0;
  const router = raw.routing?.router;
  const settings = router?.settings;
  const hasRouting = (router?.use ?? '') !== '' || settings?.matrix !== undefined || Object.keys(settings?.groups ?? {}).length > 0;
  if (hasTopLevel && hasRouting) {
    issue(
      ['routing', 'router'],
      "config uses both the legacy top-level 'matrix'/'groups' keys and the new 'routing.router' block; migrate the top-level keys into 'routing.router' and remove them",
    );
  }
  if (raw.matrix !== undefined && Object.keys(legacyGroups).length > 0) {
    issue(['matrix'], "config cannot use both 'groups' and 'matrix'");
  }
  if (hasTopLevel) {
    return raw.matrix !== undefined
      ? { router: 'matrix', matrix: { raw: raw.matrix, docPath: ['matrix'] }, groups: {} }
      : { router: 'group', matrix: null, groups: legacyGroups };
  }
  const use = router?.use ?? '';
  if (use === 'matrix') {
    if (settings?.matrix === undefined) {
      issue(['routing', 'router', 'use'], "is 'matrix' but routing.router.settings.matrix is not set");
      return { router: 'group', matrix: null, groups: {} };
    }
    return { router: 'matrix', matrix: { raw: settings.matrix, docPath: ['routing', 'router', 'settings', 'matrix'] }, groups: {} };
  }
  if (use !== '' && use !== 'group') issue(['routing', 'router', 'use'], `unknown router "${use}" (valid: group, matrix)`);
  return { router: 'group', matrix: null, groups: settings?.groups ?? {} };
}

/** `routing.scheduler`: only `fifo`; its priorities by model id or alias (unknown = error). */
export function resolvePriorities(raw: RawConfig, names: Names, issue: Report): Map<string, number> {
  const scheduler = raw.routing?.scheduler;
  const use = scheduler?.use ?? '';
  if (use !== '' && use !== 'fifo') issue(['routing', 'scheduler', 'use'], `unknown scheduler "${use}" (valid: fifo)`);
  const priorities = new Map<string, number>();
  for (const [name, priority] of Object.entries(scheduler?.settings?.fifo?.priority ?? {})) {
    const id = names.models.has(name) ? name : names.aliases.get(name);
    if (id === undefined) issue(['routing', 'scheduler', 'settings', 'fifo', 'priority', name], `references unknown model "${name}"`);
    else priorities.set(id, priority);
  }
  return priorities;
}

export function resolvePeers(
  raw: RawConfig,
  expand: (value: unknown, docPath: readonly (string | number)[]) => unknown,
  issue: Report,
  warn: Report,
): Record<string, PeerConfig> {
  const peers: Record<string, PeerConfig> = {};
  for (const [id, peer] of Object.entries(raw.peers ?? {})) {
    if (peer === null || typeof peer !== 'object' || typeof peer.proxy !== 'string') continue;
    const proxy = checkBaseUrl(peer.proxy, ['peers', id, 'proxy'], issue, `invalid peer proxy URL (${peer.proxy})`);
    peers[id] = {
      id,
      proxy,
      apiKey: peer.apiKey ?? '',
      models: [...new Set(peer.models ?? [])],
      filters: resolveFilters(peer.filters, expand, ['peers', id, 'filters'], warn),
      timeouts: resolveTimeouts(peer.timeouts, PEER_TIMEOUTS),
    };
  }
  return peers;
}

/**
 * A peer model by its exact `<peer>/<model>` name, else by a bare model name that exactly one peer
 * serves (llama-swap's `ResolvePeerModel`). Null when none or ambiguous.
 */
export function findPeerModel(peers: Readonly<Record<string, PeerConfig>>, name: string): { peer: string; model: string } | null {
  for (const pass of ['qualified', 'bare'] as const) {
    let found: { peer: string; model: string } | null = null;
    for (const peer of Object.values(peers).sort((a, b) => (a.id < b.id ? -1 : 1))) {
      for (const model of peer.models) {
        if ((pass === 'qualified' ? `${peer.id}/${model}` : model) !== name) continue;
        if (found && (found.peer !== peer.id || found.model !== model)) return null;
        found = { peer: peer.id, model };
      }
    }
    if (found) return found;
  }
  return null;
}

/** llama-swap's `ValidatePeerNamespace`: every `<peer>/<model>` name is unambiguous and reserved. */
export function checkPeerNamespace(
  peers: Readonly<Record<string, PeerConfig>>,
  names: Names,
  raw: RawConfig,
  issue: Report,
): void {
  const owner = new Map<string, { peer: string; model: string }>();
  for (const peer of Object.values(peers).sort((a, b) => (a.id < b.id ? -1 : 1))) {
    for (const model of peer.models) {
      const fqn = `${peer.id}/${model}`;
      const existing = owner.get(fqn);
      if (existing) {
        issue(['peers', peer.id, 'models'], `peer model name "${fqn}" is ambiguous between peers.${existing.peer} model "${existing.model}" and peers.${peer.id} model "${model}"`);
        continue;
      }
      owner.set(fqn, { peer: peer.id, model });
    }
  }
  for (const fqn of [...owner.keys()].sort()) {
    if (names.models.has(fqn)) issue(['models', fqn], `model ID "${fqn}" conflicts with fully qualified peer model name`);
    const aliasOf = names.aliases.get(fqn);
    if (aliasOf !== undefined) issue(['models', aliasOf, 'aliases'], `alias "${fqn}" conflicts with fully qualified peer model name`);
    if (raw.selectors && Object.hasOwn(raw.selectors, fqn)) issue(['selectors', fqn], `selector ID "${fqn}" conflicts with fully qualified peer model name`);
    for (const [profileId, profile] of Object.entries(raw.profiles ?? {})) {
      if (profile?.pins && Object.hasOwn(profile.pins, fqn)) issue(['profiles', profileId, 'pins', fqn], `pin "${fqn}" conflicts with fully qualified peer model name`);
    }
  }
}

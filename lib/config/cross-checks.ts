/**
 * The checks that look across models, run once every model is resolved (llama-swap's rules and
 * messages: internal/config/load.go at 0bdb372, LoadConfigFromReader and AddDefaultGroupToConfig): aliases (unique, and
 * `setParamsByID` keys as extra aliases), groups (with the implicit `(default)` group), ports that
 * two models could use at the same time, the startup preload list, and `trustedProxies`. Pure: each
 * problem is reported through `issue` (an error) or `warn` (a warning), in the order found.
 */
import { isIP } from 'node:net';
import type { GroupConfig, ModelConfig } from './types.js';
import type { RawConfig, RawGroup } from './raw.js';
import { DEFAULTS, list } from './defaults.js';
import { didYouMean } from './keys.js';
import type { Report } from './routing.js';

const LOCAL_HOSTS = new Set(['localhost', '127.0.0.1', '0.0.0.0', '::1', '[::1]', '[::]']);

/**
 * Aliases are unique across models (llama-swap refuses duplicates). An alias that is another
 * model's id loads in llama-swap and is never used (ids win): a warning here. Each
 * `filters.setParamsByID` key other than the model's own id becomes an alias too, as in llama-swap,
 * and there a clash with a model id or another model's alias is an error. Returns the models with
 * those aliases added (the argument is not changed) and the alias map (alias → model id) that every
 * later name lookup uses: the aliases kept, each with its first owner.
 */
export function checkAliases(given: Readonly<Record<string, ModelConfig>>, issue: Report, warn: Report): { models: Record<string, ModelConfig>; aliases: ReadonlyMap<string, string> } {
  const models = { ...given };
  const owner = new Map<string, string>();
  for (const model of Object.values(models)) {
    model.aliases.forEach((alias, index) => {
      if (Object.hasOwn(models, alias)) {
        warn(['models', model.id, 'aliases', index], alias === model.id ? "is the model's own id; ignored" : `"${alias}" is the id of another model, which takes precedence; ignored`);
        return;
      }
      const previous = owner.get(alias);
      if (previous !== undefined) issue(['models', model.id, 'aliases', index], `duplicate alias "${alias}": already an alias of model ${previous}`);
      else owner.set(alias, model.id);
    });
  }
  for (const id of Object.keys(models).sort()) {
    const model = models[id] as ModelConfig;
    const added: string[] = [];
    for (const key of Object.keys(model.filters.setParamsByID)) {
      const where = ['models', id, 'filters', 'setParamsByID', key];
      if (key === id) continue;
      if (Object.hasOwn(models, key)) {
        issue(where, `key "${key}" conflicts with an existing model ID`);
        continue;
      }
      const existing = owner.get(key);
      if (existing !== undefined) {
        if (existing !== id) issue(where, `duplicate alias "${key}", already used by model ${existing}`);
        continue;
      }
      owner.set(key, id);
      added.push(key);
    }
    if (added.length > 0) models[id] = { ...model, aliases: [...model.aliases, ...added] };
  }
  return { models, aliases: owner };
}

/**
 * llama-swap's groups plus the implicit `(default)` group holding every model not in a group.
 * A member that names no model loads in llama-swap and does nothing: a warning here (`aliases`,
 * checkAliases' map, names the id to use when the member is an alias).
 */
export function resolveGroups(
  rawGroups: Readonly<Record<string, RawGroup>>,
  models: Readonly<Record<string, ModelConfig>>,
  aliases: ReadonlyMap<string, string>,
  issue: Report,
  warn: Report,
): GroupConfig[] {
  const groups: GroupConfig[] = [];
  const memberOf = new Map<string, string>();
  const ids = Object.keys(models);
  for (const [groupId, group] of Object.entries(rawGroups)) {
    if (group === null || typeof group !== 'object') continue;
    if (groupId === DEFAULTS.defaultGroupId) {
      issue(['groups', groupId], `${DEFAULTS.defaultGroupId} is reserved for models that are in no group`);
      continue;
    }
    const members: string[] = [];
    const seen = new Set<string>();
    list(group.members).forEach((member, index) => {
      if (typeof member !== 'string') return;
      const where = ['groups', groupId, 'members', index];
      if (seen.has(member)) {
        issue(where, `duplicate model member ${member} found in group: ${groupId}`);
        return;
      }
      seen.add(member);
      const other = memberOf.get(member);
      if (other !== undefined) {
        issue(where, `model member ${member} is used in multiple groups: ${other} and ${groupId}`);
        return;
      }
      memberOf.set(member, groupId);
      if (!Object.hasOwn(models, member)) {
        const alias = aliases.get(member);
        warn(where, alias ? `"${member}" is an alias; groups match model ids, so it has no effect (use "${alias}")` : `"${member}" is not a model; ignored${didYouMean(member, ids)}`);
        return;
      }
      members.push(member);
    });
    groups.push({
      id: groupId,
      swap: group.swap !== false,
      exclusive: group.exclusive !== false,
      persistent: group.persistent === true,
      members,
    });
  }
  groups.push({
    id: DEFAULTS.defaultGroupId,
    swap: true,
    exclusive: true,
    persistent: false,
    members: ids.filter((id) => !memberOf.has(id)).sort(),
  });
  return groups;
}

/**
 * Two models may share a proxy host:port safely only when they can never run together: same group
 * with swap: true. llama-swap does not check this; the second server then fails to bind when both
 * are asked for, so it is a warning here.
 */
export function checkPortsShared(
  models: Readonly<Record<string, ModelConfig>>,
  groups: readonly GroupConfig[],
  warn: Report,
  runTogether?: (a: string, b: string) => boolean,
): void {
  const groupOf = new Map(groups.flatMap((group) => group.members.map((member) => [member, group] as const)));
  const seen = new Map<string, string>();
  for (const id of Object.keys(models).sort()) {
    const model = models[id] as ModelConfig;
    let url: URL;
    try {
      url = new URL(model.proxy);
    } catch {
      continue;
    }
    const portText = url.port !== '' ? url.port : url.protocol === 'https:' ? '443' : '80';
    const host = LOCAL_HOSTS.has(url.hostname) ? 'local' : url.hostname;
    const key = `${host}:${portText}`;
    const other = seen.get(key);
    if (other === undefined) {
      seen.set(key, id);
      continue;
    }
    const group = groupOf.get(id);
    if (runTogether ? !runTogether(id, other) : group && group.swap && groupOf.get(other) === group) continue;
    warn(['models', id, 'proxy'], `port ${portText} is also used by model ${other}, and both could run at the same time: the second one to start will fail (put them in one group with swap: true, or use \${PORT})`);
  }
}

/** `trustedProxies`: each an IP address or a CIDR range (`10.0.0.0/8`, `fd00::/8`). */
export function resolveTrustedProxies(raw: RawConfig, issue: Report): string[] {
  return list(raw.trustedProxies).filter((entry, index) => {
    const [address = '', bits, extra] = entry.split('/');
    const family = isIP(address);
    const maxBits = family === 6 ? 128 : 32;
    const ok = family !== 0 && extra === undefined && (bits === undefined || (/^\d+$/.test(bits) && Number(bits) <= maxBits));
    if (!ok) issue(['trustedProxies', index], `"${entry}" is not an IP address or a CIDR range (such as 10.0.0.0/8)`);
    return ok;
  });
}

/** `hooks.on_startup.preload`: ids or aliases (checkAliases' map); llama-swap drops an entry that names no model (a warning here). */
export function resolvePreload(raw: RawConfig, models: Readonly<Record<string, ModelConfig>>, aliases: ReadonlyMap<string, string>, warn: Report): string[] {
  const entries = list(raw.hooks?.on_startup?.preload);
  const ids = Object.keys(models);
  const preload: string[] = [];
  entries.forEach((entry, index) => {
    if (typeof entry !== 'string' || entry.trim() === '') return;
    const name = entry.trim();
    const id = Object.hasOwn(models, name) ? name : aliases.get(name);
    if (id === undefined) {
      const candidates = [...ids, ...aliases.keys()];
      warn(['hooks', 'on_startup', 'preload', index], `"${name}" is not a model; ignored${didYouMean(name, candidates)}`);
    } else if (!preload.includes(id)) {
      preload.push(id);
    }
  });
  return preload;
}

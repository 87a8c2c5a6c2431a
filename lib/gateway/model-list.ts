/**
 * `GET /v1/models` (and `/models`): llama-swap's listing (internal/server/api.go,
 * `handleListModels`), built by a pure function from the configuration and the models' states.
 *
 * 1. Every listed local model, then (with `includeAliasesInList`) each of its aliases.
 * 2. Every peer model as `<peer>/<model>`, named `<peer>: <model>`, always `unloaded`.
 * 3. Every selector that is not `unlisted`.
 * 4. The active profile's pins that name nothing else and are not disabled (empty target).
 * 5. Sorted by id.
 *
 * Each record has llama-swap's fields: `status.value` (`loaded`/`unloaded`), `meta.llamaswap`
 * (the configured `metadata` plus what kind of entry it is), and, from `capabilities`,
 * `architecture`, `capabilities`, `supported_parameters`, `context_length` and `meta.n_ctx`.
 * Local models and aliases also carry siesta's `state` and `backend`; `owned_by` is `siesta`.
 */
import type { GatewayConfig, ModelCapabilities, SelectorConfig } from '../config/types.js';
import { findPeerModel } from '../config/routing.js';
import type { ModelState } from '../process/states.js';

export interface ModelRecord {
  readonly id: string;
  readonly object: 'model';
  readonly created: number;
  readonly owned_by: string;
  readonly name?: string;
  readonly description?: string;
  readonly architecture?: Record<string, unknown>;
  readonly capabilities?: Record<string, boolean>;
  readonly supported_parameters?: string[];
  readonly context_length?: number;
  readonly meta?: Record<string, unknown>;
  readonly status: { readonly value: 'loaded' | 'unloaded' };
  /** siesta: the local model's state. */
  readonly state?: ModelState;
  /** siesta: the local model's backend plugin. */
  readonly backend?: string;
}

export interface ModelListInput {
  readonly config: Pick<GatewayConfig, 'models' | 'peers' | 'selectors' | 'profiles' | 'includeAliasesInList'>;
  /** A local model's state, by id. */
  readonly state: (id: string) => ModelState;
  /** The active profile's id, or null. */
  readonly activeProfile: string | null;
  /** Unix seconds for `created`. */
  readonly createdSec: number;
}

export const OWNED_BY = 'siesta';

/** llama-swap's `cappedMetadataKeys`: with capabilities configured, these metadata keys give way. */
const CAPPED_METADATA_KEYS: ReadonlySet<string> = new Set(['architecture', 'capabilities', 'supported_parameters', 'context_length']);

/** Not stopped: llama-swap's `RunningModels` (a process that exists), so an asleep model is `loaded`. */
const isRunning = (state: ModelState): boolean => state !== 'stopped' && state !== 'shutdown';

/** What makes a selector `loaded`: a local target that is ready or on its way (llama-swap: ready or starting). */
const SELECTOR_LOADED: ReadonlySet<ModelState> = new Set(['ready', 'starting', 'waking']);

/** llama-swap's `renderCapabilities`: the extra fields a model's capabilities produce. */
export function renderCapabilities(caps: ModelCapabilities | null): Pick<ModelRecord, 'architecture' | 'capabilities' | 'supported_parameters' | 'context_length'> {
  if (!caps) return {};
  const hasIn = caps.in.length > 0;
  const hasOut = caps.out.length > 0;
  const out: { architecture?: Record<string, unknown>; capabilities?: Record<string, boolean>; supported_parameters?: string[]; context_length?: number } = {};
  if (hasIn || hasOut) {
    out.architecture = {
      ...(hasIn ? { input_modalities: [...caps.in] } : {}),
      ...(hasOut ? { output_modalities: [...caps.out] } : {}),
      ...(hasIn && hasOut ? { modality: `${caps.in.join('+')}->${caps.out.join('+')}` } : {}),
    };
  }
  if (hasIn || hasOut || caps.tools || caps.reranker) {
    const flags: Record<string, boolean> = {};
    if (caps.in.includes('image')) flags['vision'] = true;
    if (hasIn && hasOut) {
      if (caps.in.includes('audio') && caps.out.includes('text')) flags['audio_transcriptions'] = true;
      if (caps.in.includes('text') && caps.out.includes('audio')) flags['audio_speech'] = true;
      if (caps.in.includes('text') && caps.out.includes('image')) flags['image_generation'] = true;
      if (caps.in.includes('image') && caps.out.includes('image')) flags['image_to_image'] = true;
    }
    if (caps.tools) {
      flags['function_calling'] = true;
      out.supported_parameters = ['tools', 'tool_choice'];
    }
    if (caps.reranker) flags['reranker'] = true;
    // Go omits an empty map (omitempty): e.g. audio in, image out and nothing else.
    if (Object.keys(flags).length > 0) out.capabilities = flags;
  }
  if (caps.context > 0) out.context_length = caps.context;
  return out;
}

interface RecordSpec {
  readonly id: string;
  readonly name: string;
  readonly description: string;
  readonly metadata: Readonly<Record<string, unknown>>;
  readonly capabilities: ModelCapabilities | null;
  readonly status: 'loaded' | 'unloaded';
  /** llama-swap's internal metadata (`type`, `aliases`, `modelID`, ...): wins over `metadata`. */
  readonly internal: Readonly<Record<string, unknown>>;
  readonly siesta?: Pick<ModelRecord, 'state' | 'backend'>;
}

function record(spec: RecordSpec, createdSec: number): ModelRecord {
  const rendered = renderCapabilities(spec.capabilities);
  const metadata = spec.capabilities ? Object.fromEntries(Object.entries(spec.metadata).filter(([key]) => !CAPPED_METADATA_KEYS.has(key))) : spec.metadata;
  const llamaswap = { ...metadata, ...spec.internal };
  const meta: Record<string, unknown> = {};
  if (Object.keys(llamaswap).length > 0) meta['llamaswap'] = llamaswap;
  if (rendered.context_length !== undefined) meta['n_ctx'] = rendered.context_length;
  const name = spec.name.trim();
  const description = spec.description.trim();
  return {
    id: spec.id,
    object: 'model',
    created: createdSec,
    owned_by: OWNED_BY,
    ...(name ? { name } : {}),
    ...(description ? { description } : {}),
    ...rendered,
    ...(Object.keys(meta).length > 0 ? { meta } : {}),
    status: { value: spec.status },
    ...spec.siesta,
  };
}

/** llama-swap's selector status: the first local target that is ready or starting (only the first for `pin`). */
export function selectorStatus(selector: Pick<SelectorConfig, 'strategy' | 'targets'>, localId: (name: string) => string | undefined, state: (id: string) => ModelState): 'loaded' | 'unloaded' {
  for (const target of selector.targets) {
    const id = localId(target);
    if (id !== undefined && SELECTOR_LOADED.has(state(id))) return 'loaded';
    if (selector.strategy === 'pin') break;
  }
  return 'unloaded';
}

/** The `/v1/models` body. Pure. */
export function buildModelList(input: ModelListInput): { object: 'list'; data: ModelRecord[] } {
  const { config, state, createdSec } = input;
  const data: ModelRecord[] = [];
  /** Every name something answers to (a profile pin may not shadow one). */
  const taken = new Set<string>();
  const aliasOf = new Map<string, string>();

  for (const model of Object.values(config.models)) {
    taken.add(model.id);
    for (const alias of model.aliases) {
      taken.add(alias);
      aliasOf.set(alias, model.id);
    }
    if (model.unlisted) continue;
    const modelState = state(model.id);
    const status = isRunning(modelState) ? 'loaded' : 'unloaded';
    const common = {
      name: model.name !== model.id ? model.name : '',
      description: model.description,
      metadata: model.metadata,
      capabilities: model.capabilities,
      status,
      siesta: { state: modelState, backend: model.backend },
    } as const;
    data.push(record({ ...common, id: model.id, internal: { type: 'model', ...(model.aliases.length > 0 ? { aliases: [...model.aliases] } : {}) } }, createdSec));
    if (config.includeAliasesInList) {
      for (const alias of model.aliases) {
        const trimmed = alias.trim();
        if (trimmed) data.push(record({ ...common, id: trimmed, internal: { type: 'alias', modelID: model.id } }, createdSec));
      }
    }
  }

  for (const peer of Object.values(config.peers)) {
    for (const model of peer.models) {
      const fqn = `${peer.id}/${model}`;
      taken.add(fqn);
      const bare = findPeerModel(config.peers, model);
      if (bare && bare.peer === peer.id && bare.model === model) taken.add(model);
      data.push(record({ id: fqn, name: `${peer.id}: ${model}`, description: '', metadata: {}, capabilities: null, status: 'unloaded', internal: { type: 'peer', peerID: peer.id } }, createdSec));
    }
  }

  const localId = (name: string): string | undefined => (Object.hasOwn(config.models, name) ? name : aliasOf.get(name));
  for (const selector of Object.values(config.selectors)) {
    taken.add(selector.id);
    if (selector.unlisted) continue;
    const internal = {
      type: 'selector',
      strategy: selector.strategy,
      targets: [...selector.targets],
      ...(selector.strategy === 'spillover' ? { spillover: selector.spillover } : {}),
    };
    data.push(
      record(
        { id: selector.id, name: selector.name, description: selector.description, metadata: selector.metadata, capabilities: null, status: selectorStatus(selector, localId, state), internal },
        createdSec,
      ),
    );
  }

  const profile = input.activeProfile === null ? undefined : config.profiles[input.activeProfile];
  if (profile) {
    for (const [pin, target] of Object.entries(profile.pins)) {
      if (target === '' || taken.has(pin)) continue;
      data.push(record({ id: pin, name: '', description: '', metadata: {}, capabilities: null, status: 'unloaded', internal: { type: 'profile' } }, createdSec));
    }
  }

  data.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return { object: 'list', data };
}

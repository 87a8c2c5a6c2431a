import type { CompiledMatrix } from '../scheduler/matrix/types.js';

/**
 * The resolved configuration: what the loader returns after parsing, macro expansion, validation,
 * defaulting and unit conversion. Every duration is in milliseconds (`...Ms`), every size in bytes.
 * The object is deep-frozen by the loader; nothing downstream may mutate it.
 */

/** One HTTP call of a sleep or wake recipe (llmsnap's `sleepEndpoints` / `wakeEndpoints` entries). */
export interface HttpStep {
  /** Path plus optional query string, relative to the model's `proxy` URL, e.g. `/sleep?level=1`. */
  readonly endpoint: string;
  /** Upper-case HTTP method; llmsnap's default is POST. */
  readonly method: string;
  /** Raw request body (JSON text in practice); absent = no body. */
  readonly body?: string;
  /** Per-step timeout; the loader fills it from `sleepRequestTimeout` / `wakeRequestTimeout`. */
  readonly timeoutMs: number;
}

export type IdleAction = 'sleep' | 'stop';

/** One rung of the idle ladder, measured from the last completed request. */
export interface IdleStep {
  readonly afterMs: number;
  readonly action: IdleAction;
  /** Sleep level for `action: 'sleep'`; absent means the model's `sleep.level`. */
  readonly level?: number;
}

export interface ResourceAmounts {
  /** Bytes of GPU memory. */
  readonly vram?: number;
  /** Bytes of host memory. */
  readonly ram?: number;
}

export interface ModelResources extends ResourceAmounts {
  /** What the model still holds while asleep (vLLM keeps ~1-2 GiB VRAM and, at level 1, RAM ≈ weights). */
  readonly asleep?: ResourceAmounts;
}

/** Request-body filters of a model or a peer (llama-swap's `filters`). */
export interface Filters {
  readonly stripParams: readonly string[];
  readonly setParams: Readonly<Record<string, unknown>>;
  /** Parameters to set by the model name the client asked for (applied after setParams). */
  readonly setParamsByID: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
}

export interface ProxyTimeouts {
  readonly connectMs: number;
  readonly keepAliveMs: number;
  /** Time to the upstream's response headers; 0 = wait as long as it takes (models' default). */
  readonly responseHeaderMs: number;
  readonly tlsHandshakeMs: number;
  readonly expectContinueMs: number;
  readonly idleConnMs: number;
  /** siesta's `timeouts.idle`: no byte from the server for this long ends the response with 504; 0 = none. */
  readonly idleMs: number;
}

export type Modality = 'text' | 'audio' | 'image';

export interface ModelCapabilities {
  readonly in: readonly Modality[];
  readonly out: readonly Modality[];
  readonly tools: boolean;
  readonly reranker: boolean;
  /** Context length in tokens; 0 = not said. */
  readonly context: number;
}

/** A remote llama-swap (or any OpenAI server) whose models are served through this gateway. */
export interface PeerConfig {
  readonly id: string;
  /** Base URL without a trailing slash. */
  readonly proxy: string;
  /** Sent as `Authorization: Bearer` and `x-api-key`; empty = none. */
  readonly apiKey: string;
  /** Model ids the peer serves, addressed here as `<peer>/<model>` (or unqualified when unique). */
  readonly models: readonly string[];
  readonly filters: Filters;
  readonly timeouts: ProxyTimeouts;
}

/** A runtime-selectable set of model-name rewrites (`PUT /api/profiles/active`). */
export interface ProfileConfig {
  readonly id: string;
  readonly description: string;
  /** Requested name → the model, alias, peer model or selector it goes to; '' = disabled. */
  readonly pins: Readonly<Record<string, string>>;
}

export type SelectorStrategy = 'warm' | 'pin' | 'spillover';

/** A virtual model id that resolves to one of its targets per request. */
export interface SelectorConfig {
  readonly id: string;
  readonly strategy: SelectorStrategy;
  /** As written: local model ids, aliases or peer models. */
  readonly targets: readonly string[];
  /** `settings.spillover`: requests in flight on a target before the next one is used. */
  readonly spillover: number;
  readonly name: string;
  readonly description: string;
  readonly unlisted: boolean;
  readonly metadata: Readonly<Record<string, unknown>>;
}

export type RouterKind = 'group' | 'matrix';

export interface RoutingConfig {
  /** `group` (llama-swap groups, the default) or `matrix`. */
  readonly router: RouterKind;
  /** The compiled matrix (vars, evict_costs, sets) when `router` is `matrix`; null otherwise. */
  readonly matrix: CompiledMatrix | null;
}

export type LogToStdout = 'proxy' | 'upstream' | 'both' | 'none';

export interface ModelConfig {
  /** The key under `models:`. */
  readonly id: string;
  /** Display name (`name`), defaults to the id. */
  readonly name: string;
  readonly description: string;
  /** `cmd` after macro expansion, split like a POSIX shell would (never run through a shell). */
  readonly cmd: readonly string[];
  /** `cmdStop` split into argv; `${PID}` is kept literally and substituted when stopping. Null = SIGTERM. */
  readonly cmdStop: readonly string[] | null;
  /** Base URL of the upstream, e.g. `http://127.0.0.1:5800` (no trailing slash). */
  readonly proxy: string;
  /** Port allocated for `${PORT}`, or null when `cmd`/`proxy` do not use it. */
  readonly port: number | null;
  readonly aliases: readonly string[];
  /** Extra environment for the child (after the plugin's defaults; the model's entries win). */
  readonly env: Readonly<Record<string, string>>;
  /**
   * Readiness path; null when `checkEndpoint: none`; undefined when the model does not set it (the
   * backend plugin's `defaults.checkEndpoint` then applies, else `/health`: `checkEndpointOf` in
   * lib/plugins/defaults.ts).
   */
  readonly checkEndpoint: string | null | undefined;
  readonly unlisted: boolean;
  /** Model name written into forwarded request bodies, or null to forward unchanged. */
  readonly useModelName: string | null;
  readonly concurrencyLimit: number;
  readonly filters: Filters;
  /** Proxy timeouts (llama-swap's `timeouts`), in ms; 0 = none. */
  readonly timeouts: ProxyTimeouts;
  /** What the model can do, shown in `/v1/models`; null when not configured. */
  readonly capabilities: ModelCapabilities | null;
  /** llama-swap's `compat.ignoreWebsockets`: websocket upgrades do not count as use. */
  readonly ignoreWebsockets: boolean;
  readonly metadata: Readonly<Record<string, unknown>>;
  readonly sendLoadingState: boolean;
  /** Plugin name (`backend`), default `generic`. */
  readonly backend: string;
  /**
   * `sleepMode` + `sleep.level` + `sleep.method`. `enabled` false = never sleep, always stop.
   * `method` absent or `http` = the plugin's HTTP recipes (or `sleepEndpoints`); `cuda-checkpoint` =
   * NVIDIA's cuda-checkpoint on every CUDA process of the model (levels do not apply), run from
   * `checkpointBinary` (the global `cudaCheckpoint.path`, else `cuda-checkpoint` found on PATH).
   */
  readonly sleep: { readonly enabled: boolean; readonly level: number; readonly method?: 'http' | 'cuda-checkpoint'; readonly checkpointBinary?: string };
  /** Explicit recipes that override the plugin's; null when not configured. */
  readonly sleepEndpoints: readonly HttpStep[] | null;
  readonly wakeEndpoints: readonly HttpStep[] | null;
  /** Idle ladder, sorted by `afterMs`; `ttl`/`globalTTL` become a final stop step. */
  readonly idle: readonly IdleStep[];
  readonly resources: ModelResources;
  /** Grace period between SIGTERM and SIGKILL. */
  readonly unloadTimeoutMs: number;
  /** Readiness deadline for a cold start. */
  readonly healthCheckTimeoutMs: number;
  /** Queue priority; higher goes first, FIFO among equals. Default 0. */
  readonly priority: number;
  /** Plugin-specific options (`options:`), validated against the plugin's schema. */
  readonly options: Readonly<Record<string, unknown>>;
}

export interface GroupConfig {
  readonly id: string;
  /** Only one member may run at a time (llama-swap default true). */
  readonly swap: boolean;
  /** Loading a member evicts the members of every other non-persistent group (default true). */
  readonly exclusive: boolean;
  /** Other groups cannot evict this group's members (default false). */
  readonly persistent: boolean;
  readonly members: readonly string[];
}

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface GatewayConfig {
  /** Absolute path of the file this came from, or null for an in-memory config. */
  readonly configPath: string | null;
  readonly logLevel: LogLevel;
  readonly logFormat: 'text' | 'json';
  readonly healthCheckTimeoutMs: number;
  readonly startPort: number;
  readonly sendLoadingState: boolean;
  readonly includeAliasesInList: boolean;
  readonly apiKeys: readonly string[];
  /** Keys for `/api` and the status page; empty = same as `apiKeys`. */
  readonly adminKeys: readonly string[];
  /** Every group, including the implicit `(default)` group of models not listed in any group. */
  readonly groups: readonly GroupConfig[];
  /** `hooks.on_startup.preload`. */
  readonly preload: readonly string[];
  /** Global budgets; when any is set the scheduler evicts by need instead of by groups. */
  readonly resources: ResourceAmounts;
  /** Absolute directory of user plugins (default `./plugins` beside the config file). */
  readonly pluginDir: string;
  /** Absolute directory for pid files (default `.siesta-state` beside the config file). */
  readonly stateDir: string;
  /** Largest accepted request body in bytes (default 32 MiB). */
  readonly maxBodyBytes: number;
  readonly models: Readonly<Record<string, ModelConfig>>;
  /** Default per-step timeout of plugin sleep recipes (llmsnap `sleepRequestTimeout`, default 10 s). */
  readonly sleepRequestTimeoutMs: number;
  /** Default per-step timeout of plugin wake recipes (llmsnap `wakeRequestTimeout`, default 10 s). */
  readonly wakeRequestTimeoutMs: number;
  /** Which router decides evictions (groups by default). */
  readonly routing: RoutingConfig;
  readonly peers: Readonly<Record<string, PeerConfig>>;
  readonly profiles: Readonly<Record<string, ProfileConfig>>;
  readonly selectors: Readonly<Record<string, SelectorConfig>>;
  /** `upstream.ignorePaths`: regular expressions; a matching /upstream path does not load the model. */
  readonly upstreamIgnorePaths: readonly string[];
  /** llama-swap's `logToStdout`: which logs go to the gateway's own output. */
  readonly logToStdout: LogToStdout;
  /** llama-swap's `logTimeFormat` (a Go time layout name or layout); '' = no timestamps. */
  readonly logTimeFormat: string;
  /** llama-swap's `metricsMaxInMemory`: entries of the activity log kept in memory (default 1000). */
  readonly metricsMaxInMemory: number;
  /** llama-swap's `captureBuffer` in bytes (the file says MB): request/response captures kept; 0 = none. */
  readonly captureBufferBytes: number;
  /** Origins allowed by CORS (`cors.origins`); `['*']` (llama-swap's behaviour) by default. */
  readonly corsOrigins: readonly string[];
  /** `shutdownTimeout`: on SIGTERM/SIGINT, how long requests in flight may finish before the models stop (default 30 s, llama-swap's). */
  readonly shutdownTimeoutMs: number;
  /** `allowedHosts`: Host names besides loopback ones for keyless admin access (DNS-rebinding guard). */
  readonly allowedHosts: readonly string[];
  /** `trustedProxies`: addresses and CIDR ranges whose `X-Forwarded-*` headers are kept (default none). */
  readonly trustedProxies: readonly string[];
  /** Largest multipart upload (audio, images) in bytes, streamed, not held in memory (default 2 GiB). */
  readonly maxUploadBytes: number;
  /** `cluster:` (siesta only): absent when the file has none. */
  readonly cluster?: ClusterConfig;
}

/** `cluster:`: the other siesta nodes this one follows and routes to (lib/cluster). */
export interface ClusterConfig {
  /** The shared secret nodes authenticate each other with (`x-siesta-cluster-key`). */
  readonly key: string;
  /** This node: an address (`10.0.0.5`) or URL; the peer with that host (and port, if given) is dropped. Its name in the cluster. */
  readonly self: string;
  /** Static peers: base URLs (`http://10.0.0.6:8080`), without a trailing slash. */
  readonly peers: readonly string[];
  /** A DNS name whose A/AAAA records are peers (a headless Service); '' = none. */
  readonly dns: string;
  /** The port of peers found through `dns` (default 8080). */
  readonly port: number;
  readonly dnsRefreshMs: number;
  /** A peer silent this long (no event, no heartbeat, no poll answer) is marked down. */
  readonly downAfterMs: number;
  /** How often this node sends a heartbeat to the peers that follow it. */
  readonly heartbeatMs: number;
  /** How long a connection to a peer may take before the peer counts as failed. */
  readonly connectTimeoutMs: number;
}

/** A problem found while loading: `path` is dotted with [i] indices, e.g. `models.qwen.idle[1].after`. */
export interface ConfigIssue {
  readonly path: string;
  readonly message: string;
}

export interface LoadedConfig {
  readonly config: GatewayConfig;
  /** Keys of newer llama-swap versions that siesta does not implement, and other non-fatal notes. */
  readonly warnings: readonly ConfigIssue[];
}

/** The shape of the document after joi validation and conversion (durations in ms, sizes in bytes). */

export interface RawHttpStep {
  readonly endpoint: string;
  readonly method?: string;
  readonly body?: string | Record<string, unknown> | unknown[];
  readonly timeout?: number;
}

export interface RawIdleStep {
  readonly after: number;
  readonly do: 'sleep' | 'stop';
  readonly level?: number;
}

export interface RawAmounts {
  readonly vram?: number;
  readonly ram?: number;
}

export interface RawFilters {
  readonly stripParams?: string | readonly string[];
  readonly strip_params?: string | readonly string[];
  readonly setParams?: Readonly<Record<string, unknown>>;
  readonly setParamsByID?: Readonly<Record<string, Readonly<Record<string, unknown>> | null>>;
}

/** Milliseconds (converted from llama-swap's seconds). */
export interface RawTimeouts {
  readonly connect?: number;
  readonly keepalive?: number;
  readonly responseHeader?: number;
  readonly tlsHandshake?: number;
  readonly expectContinue?: number;
  readonly idleConn?: number;
  readonly idle?: number;
}

export interface RawPeer {
  readonly proxy?: string;
  readonly apiKey?: string;
  readonly models?: readonly string[];
  readonly filters?: RawFilters;
  readonly timeouts?: RawTimeouts;
}

export interface RawProfile {
  readonly description?: string;
  readonly pins?: Readonly<Record<string, string | null>>;
}

export interface RawSelector {
  readonly strategy?: string;
  readonly targets?: readonly string[];
  readonly settings?: { readonly spillover?: number };
  readonly name?: string;
  readonly description?: string;
  readonly unlisted?: boolean;
  readonly metadata?: Readonly<Record<string, unknown>>;
}

export interface RawRouting {
  readonly scheduler?: { readonly use?: string; readonly settings?: { readonly fifo?: { readonly priority?: Readonly<Record<string, number>> } } };
  readonly router?: {
    readonly use?: string;
    readonly settings?: { readonly groups?: Readonly<Record<string, RawGroup>>; readonly matrix?: Readonly<Record<string, unknown>> };
  };
}

export interface RawModel {
  readonly cmd?: string;
  readonly cmdStop?: string;
  readonly proxy?: string;
  readonly aliases?: readonly (string | { readonly id: string })[];
  readonly env?: readonly string[] | Readonly<Record<string, string | number | boolean>>;
  readonly checkEndpoint?: string;
  readonly ttl?: number;
  readonly unloadTimeout?: number;
  readonly unlisted?: boolean;
  readonly useModelName?: string;
  readonly name?: string;
  readonly description?: string;
  readonly concurrencyLimit?: number;
  readonly filters?: RawFilters;
  readonly timeouts?: RawTimeouts;
  readonly compat?: { readonly ignoreWebsockets?: boolean };
  readonly capabilities?: {
    readonly in?: readonly string[];
    readonly out?: readonly string[];
    readonly tools?: boolean;
    readonly reranker?: boolean;
    readonly context?: number;
  };
  readonly macros?: Readonly<Record<string, unknown>>;
  readonly metadata?: Readonly<Record<string, unknown>>;
  readonly sendLoadingState?: boolean;
  readonly sleepMode?: 'enable' | 'disable' | '';
  readonly sleepEndpoints?: readonly RawHttpStep[];
  readonly wakeEndpoints?: readonly RawHttpStep[];
  readonly backend?: string;
  readonly sleep?: { readonly level?: number; readonly method?: 'http' | 'cuda-checkpoint' };
  readonly idle?: readonly RawIdleStep[];
  readonly resources?: RawAmounts & { readonly asleep?: RawAmounts };
  readonly priority?: number;
  readonly options?: Readonly<Record<string, unknown>>;
}

export interface RawGroup {
  readonly swap?: boolean;
  readonly exclusive?: boolean;
  readonly persistent?: boolean;
  readonly members?: readonly string[];
}

export interface RawConfig {
  readonly healthCheckTimeout?: number;
  readonly logLevel?: 'debug' | 'info' | 'warn' | 'error';
  readonly startPort?: number;
  readonly macros?: Readonly<Record<string, unknown>>;
  readonly groups?: Readonly<Record<string, RawGroup>>;
  readonly hooks?: { readonly on_startup?: { readonly preload?: readonly string[] } };
  readonly sendLoadingState?: boolean;
  readonly includeAliasesInList?: boolean;
  readonly globalTTL?: number;
  readonly unloadTimeout?: number;
  readonly apiKeys?: readonly string[];
  readonly models?: Readonly<Record<string, RawModel>>;
  readonly sleepRequestTimeout?: number;
  readonly cudaCheckpoint?: { readonly path?: string };
  readonly wakeRequestTimeout?: number;
  readonly resources?: RawAmounts;
  readonly pluginDir?: string;
  readonly stateDir?: string;
  readonly logFormat?: 'text' | 'json';
  readonly adminKeys?: readonly string[];
  readonly maxBodySize?: number;
  readonly logTimeFormat?: string;
  readonly logToStdout?: 'proxy' | 'upstream' | 'both' | 'none';
  readonly logRequests?: boolean;
  readonly matrix?: Readonly<Record<string, unknown>>;
  readonly routing?: RawRouting;
  readonly peers?: Readonly<Record<string, RawPeer>>;
  readonly profiles?: Readonly<Record<string, RawProfile>>;
  readonly selectors?: Readonly<Record<string, RawSelector>>;
  readonly upstream?: { readonly ignorePaths?: readonly string[] };
  readonly metricsMaxInMemory?: number;
  readonly captureBuffer?: number;
  readonly cors?: { readonly origins?: readonly string[] };
  readonly maxUploadSize?: number;
  readonly trustedProxies?: readonly string[];
  readonly allowedHosts?: readonly string[];
  readonly shutdownTimeout?: number;
  readonly cluster?: RawCluster;
}

/** `cluster:` (durations already in ms). */
export interface RawCluster {
  readonly key?: string;
  readonly self?: string;
  readonly peers?: readonly string[];
  readonly dns?: string;
  readonly port?: number;
  readonly dnsRefresh?: number;
  readonly downAfter?: number;
  readonly heartbeat?: number;
  readonly connectTimeout?: number;
}

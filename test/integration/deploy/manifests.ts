/**
 * What the Kubernetes manifest tests check, separate from the tests themselves:
 *   - `renderKustomization`: `kubectl kustomize DIR` (offline), parsed into objects;
 *   - `schemaProblems`: one object against its Kubernetes schema (kubernetes-models, and
 *     @kubernetes-models/prometheus-operator for the PodMonitor CRD);
 *   - `designProblems`: the rules these manifests exist for (numbered below), on the rendered set.
 *
 * Trap: kubernetes-models' schemas accept unknown fields (Kubernetes' OpenAPI has no
 * `additionalProperties: false`), so a misspelt optional key (`nodeSelecter`) passes the schema.
 * The design rules catch the keys that matter here by requiring their effect.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { parseAllDocuments } from 'yaml';
import { Namespace, ConfigMap, Service } from 'kubernetes-models/v1';
import type { IContainer, IEnvVar, IProbe, IService, IConfigMap } from 'kubernetes-models/v1';
import { DaemonSet } from 'kubernetes-models/apps/v1';
import type { IDaemonSet } from 'kubernetes-models/apps/v1';
import { PodMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1';
import type { IPodMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1';

const run = promisify(execFile);

export interface K8sObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: { readonly name: string; readonly namespace?: string; readonly labels?: Record<string, string> };
  readonly [key: string]: unknown;
}

/** The kinds these manifests may contain, each with its schema. A new kind must be added here. */
const MODELS: Readonly<Record<string, new (data: never) => { validate(): void }>> = {
  'v1/Namespace': Namespace,
  'v1/ConfigMap': ConfigMap,
  'v1/Service': Service,
  'apps/v1/DaemonSet': DaemonSet,
  'monitoring.coreos.com/v1/PodMonitor': PodMonitor,
};

/** kubectl's embedded kustomize version (`v5.5.0`), or null when kubectl has none. */
export async function kustomizeVersion(): Promise<string | null> {
  const { stdout } = await run('kubectl', ['version', '--client'], { timeout: 30_000 });
  return /Kustomize Version:\s*(v[\d.]+)/.exec(stdout)?.[1] ?? null;
}

export async function renderKustomization(dir: string): Promise<K8sObject[]> {
  const { stdout } = await run('kubectl', ['kustomize', dir], { timeout: 60_000, maxBuffer: 16 * 1024 * 1024 });
  return parseAllDocuments(stdout).map((document) => {
    if (document.errors.length > 0) throw new Error(`kubectl kustomize ${dir}: unparsable output: ${document.errors[0]?.message}`);
    return document.toJS() as K8sObject;
  });
}

/** Problems of one object against its schema; an empty list when it is valid. */
export function schemaProblems(object: K8sObject): string[] {
  const where = `${object.kind}/${object.metadata?.name ?? '?'}`;
  const Model = MODELS[`${object.apiVersion}/${object.kind}`];
  if (!Model) return [`${where}: no schema for ${object.apiVersion} ${object.kind} (add it to MODELS)`];
  const problems: string[] = [];
  if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(object.metadata?.name ?? '') || object.metadata.name.length > 63) {
    problems.push(`${where}: metadata.name must be a DNS-1123 label`); // the schemas do not check names
  }
  try {
    new Model(object as never).validate();
  } catch (error) {
    problems.push(`${where}: ${(error as Error).message}`);
  }
  return problems;
}

export interface PoolConfig {
  /** The ConfigMap that holds this config.yaml. */
  readonly configMap: string;
  /** The largest unloadTimeout of its models, as siesta resolves it (defaults included). */
  readonly maxUnloadTimeoutMs: number;
}

/** A margin after the last SIGKILL, for the GPU driver to release the memory of killed servers. */
export const SHUTDOWN_MARGIN_S = 10;

/**
 * The grace period one pod needs (docs/kubernetes.md, "Shutdown timing"): the preStop delay, the
 * preStop's bounded GET /unload (drain then SIGTERM to SIGKILL, every model at once), the SIGTERM
 * path for what /unload left (the largest unloadTimeout), and the margin.
 */
export function requiredGraceSeconds(options: { delayMs: number; unloadMs: number; maxUnloadTimeoutMs: number }): number {
  return Math.ceil((options.delayMs + options.unloadMs + options.maxUnloadTimeoutMs) / 1000) + SHUTDOWN_MARGIN_S;
}

function selects(selector: Readonly<Record<string, string>> | undefined, labels: Readonly<Record<string, string>> | undefined): boolean {
  if (!selector || Object.keys(selector).length === 0) return false;
  return Object.entries(selector).every(([key, value]) => labels?.[key] === value);
}

function envValue(env: readonly IEnvVar[] | undefined, name: string): string | undefined {
  return env?.find((variable) => variable.name === name)?.value;
}

function probeProblems(where: string, what: string, probe: IProbe | undefined, ports: ReadonlySet<string>): string[] {
  if (!probe?.httpGet) return [`${where}: ${what} must be an httpGet probe`];
  const problems: string[] = [];
  if (probe.httpGet.path !== '/health') problems.push(`${where}: ${what} must ask /health`);
  if (!ports.has(String(probe.httpGet.port))) problems.push(`${where}: ${what} port ${String(probe.httpGet.port)} is not a named container port`);
  return problems;
}

/**
 * The rules the manifests exist for; each problem names the object and the rule broken.
 *  1. A DaemonSet runs on GPU nodes only (nodeSelector) and requests GPUs (request = limit >= 1).
 *  2. It runs siesta with -config /etc/siesta/config.yaml, -listen :8080 and -watch-config, the
 *     config directory being a rendered ConfigMap mounted whole (a subPath never sees updates).
 *  3. Startup, liveness and readiness probes ask /health on a named port.
 *  4. Shutdown: a preStop hook, SIESTA_PRESTOP_UNLOAD_MS >= 2 x the largest unloadTimeout, and
 *     terminationGracePeriodSeconds >= requiredGraceSeconds(...).
 *  5. An env value's $(NAME) refers to a variable defined before it (else Kubernetes leaves it).
 *  6. Non-root, no privilege escalation, read-only root filesystem, every capability dropped.
 *  7. Each Service selects at least one DaemonSet's pods, on a port they name; the headless
 *     siesta-peers selects every DaemonSet, publishing ready pods only.
 *  8. The PodMonitor selects every DaemonSet's pods and scrapes /metrics on a port they name.
 */
export function designProblems(objects: readonly K8sObject[], configs: readonly PoolConfig[]): string[] {
  const problems: string[] = [];
  const daemonSets = objects.filter((object) => object.kind === 'DaemonSet') as unknown as IDaemonSet[];
  const services = objects.filter((object) => object.kind === 'Service') as unknown as IService[];
  const podMonitors = objects.filter((object) => object.kind === 'PodMonitor') as unknown as IPodMonitor[];
  const configMaps = new Set((objects.filter((object) => object.kind === 'ConfigMap') as unknown as IConfigMap[]).map((map) => map.metadata?.name));
  if (daemonSets.length === 0) problems.push('no DaemonSet rendered');
  const podPorts = new Set<string>();
  const podLabels: Record<string, string>[] = [];

  for (const daemonSet of daemonSets) {
    const where = `DaemonSet/${daemonSet.metadata?.name}`;
    const pod = daemonSet.spec?.template.spec;
    const labels = daemonSet.spec?.template.metadata?.labels ?? {};
    podLabels.push(labels);
    if (!selects(daemonSet.spec?.selector.matchLabels, labels)) problems.push(`${where}: its selector does not select its own pods`);
    const container: IContainer | undefined = pod?.containers.find((candidate) => candidate.name === 'siesta');
    if (!pod || !container) {
      problems.push(`${where}: no container named siesta`);
      continue;
    }
    const ports = new Set((container.ports ?? []).map((port) => port.name).filter((name): name is string => name !== undefined));
    for (const port of ports) podPorts.add(port);

    // 1
    if (Object.keys(pod.nodeSelector ?? {}).length === 0) problems.push(`${where}: rule 1: no nodeSelector`);
    const gpuRequest = String(container.resources?.requests?.['nvidia.com/gpu'] ?? '');
    const gpuLimit = String(container.resources?.limits?.['nvidia.com/gpu'] ?? '');
    if (!(Number(gpuLimit) >= 1) || gpuRequest !== gpuLimit) problems.push(`${where}: rule 1: nvidia.com/gpu request (${gpuRequest}) and limit (${gpuLimit}) must be equal and >= 1`);

    // 2
    const argv = [...(container.command ?? []), ...(container.args ?? [])].join(' ');
    for (const flag of ['-config /etc/siesta/config.yaml', '-listen :8080', '-watch-config']) {
      if (!argv.includes(flag)) problems.push(`${where}: rule 2: siesta's command line lacks ${flag}`);
    }
    const configMount = container.volumeMounts?.find((mount) => mount.mountPath === '/etc/siesta');
    const configVolume = pod.volumes?.find((volume) => volume.name === configMount?.name);
    const configMap = configVolume?.configMap?.name;
    if (!configMount || configMount.subPath !== undefined || !configMap || !configMaps.has(configMap)) {
      problems.push(`${where}: rule 2: /etc/siesta must be a rendered ConfigMap mounted whole`);
    }

    // 3
    problems.push(...probeProblems(where, 'startupProbe', container.startupProbe, ports));
    problems.push(...probeProblems(where, 'livenessProbe', container.livenessProbe, ports));
    problems.push(...probeProblems(where, 'readinessProbe', container.readinessProbe, ports));

    // 4
    const config = configs.find((candidate) => candidate.configMap === configMap);
    const delayMs = Number(envValue(container.env, 'SIESTA_PRESTOP_DELAY_MS'));
    const unloadMs = Number(envValue(container.env, 'SIESTA_PRESTOP_UNLOAD_MS'));
    if (!container.lifecycle?.preStop) problems.push(`${where}: rule 4: no preStop hook`);
    if (!config) {
      problems.push(`${where}: rule 4: no siesta config loaded for ConfigMap ${String(configMap)}`);
    } else if (![delayMs, unloadMs, config.maxUnloadTimeoutMs].every((value) => Number.isFinite(value) && value >= 0)) {
      // A NaN would make every comparison below false, and the rule pass.
      problems.push(`${where}: rule 4: SIESTA_PRESTOP_DELAY_MS, SIESTA_PRESTOP_UNLOAD_MS and the unloadTimeouts must be numbers`);
    } else {
      if (unloadMs < 2 * config.maxUnloadTimeoutMs) {
        problems.push(`${where}: rule 4: SIESTA_PRESTOP_UNLOAD_MS ${unloadMs} < 2 x the largest unloadTimeout (${config.maxUnloadTimeoutMs} ms)`);
      }
      const required = requiredGraceSeconds({ delayMs, unloadMs, maxUnloadTimeoutMs: config.maxUnloadTimeoutMs });
      const grace = pod.terminationGracePeriodSeconds ?? 30;
      if (grace < required) problems.push(`${where}: rule 4: terminationGracePeriodSeconds ${grace} < ${required} s needed`);
    }

    // 5
    const defined = new Set<string>();
    for (const variable of container.env ?? []) {
      for (const [, name] of (variable.value ?? '').matchAll(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g)) {
        if (!defined.has(name!)) problems.push(`${where}: rule 5: ${variable.name} uses $(${name}) before it is defined`);
      }
      defined.add(variable.name);
    }

    // 6
    const security = container.securityContext;
    if (pod.securityContext?.runAsNonRoot !== true) problems.push(`${where}: rule 6: runAsNonRoot must be true`);
    if (security?.allowPrivilegeEscalation !== false) problems.push(`${where}: rule 6: allowPrivilegeEscalation must be false`);
    if (security?.readOnlyRootFilesystem !== true) problems.push(`${where}: rule 6: readOnlyRootFilesystem must be true`);
    if (!security?.capabilities?.drop?.includes('ALL')) problems.push(`${where}: rule 6: capabilities must drop ALL`);
  }

  // 7
  for (const service of services) {
    const where = `Service/${service.metadata?.name}`;
    const selected = podLabels.filter((labels) => selects(service.spec?.selector, labels));
    if (selected.length === 0) problems.push(`${where}: rule 7: selects no DaemonSet's pods`);
    for (const port of service.spec?.ports ?? []) {
      if (!podPorts.has(String(port.targetPort))) problems.push(`${where}: rule 7: targetPort ${String(port.targetPort)} is not a named pod port`);
    }
  }
  const peers = services.find((service) => service.metadata?.name === 'siesta-peers');
  if (!peers) {
    problems.push('rule 7: no headless Service siesta-peers');
  } else {
    if (peers.spec?.clusterIP !== 'None') problems.push('Service/siesta-peers: rule 7: must be headless (clusterIP: None)');
    if (peers.spec?.publishNotReadyAddresses === true) problems.push('Service/siesta-peers: rule 7: must publish ready pods only');
    if (!podLabels.every((labels) => selects(peers.spec?.selector, labels))) problems.push('Service/siesta-peers: rule 7: must select every pool');
  }

  // 8
  if (podMonitors.length === 0) problems.push('rule 8: no PodMonitor');
  for (const monitor of podMonitors) {
    const where = `PodMonitor/${monitor.metadata?.name}`;
    if (!podLabels.every((labels) => selects(monitor.spec.selector.matchLabels, labels))) problems.push(`${where}: rule 8: must select every pool`);
    const endpoints = monitor.spec.podMetricsEndpoints ?? [];
    if (!endpoints.some((endpoint) => endpoint.path === '/metrics' && podPorts.has(String(endpoint.port)))) {
      problems.push(`${where}: rule 8: no endpoint scrapes /metrics on a named pod port`);
    }
  }
  return problems;
}

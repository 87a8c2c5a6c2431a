/**
 * deploy/kubernetes: each kustomization renders offline with `kubectl kustomize`, every rendered
 * object passes its Kubernetes schema, the set keeps the design rules (manifests.ts), and every
 * siesta config.yaml in a ConfigMap loads with siesta's own loader, strictly.
 */
import { resolve } from 'node:path';
import { expect } from 'chai';
import { loadGatewayConfig } from '../../../lib/gateway/load-config.js';
import {
  designProblems,
  kustomizeVersion,
  renderKustomization,
  requiredGraceSeconds,
  schemaProblems,
  type K8sObject,
  type PoolConfig,
} from './manifests.js';

const ROOT = resolve(import.meta.dirname, '../../../deploy/kubernetes');

/** What the DaemonSet's environment gives siesta's ${env.NAME} (values are placeholders). */
const POD_ENV = { SIESTA_API_KEY: 'test-key', SIESTA_CLUSTER_KEY: 'test-cluster-key', SIESTA_POD_IP: '10.0.0.5', SIESTA_PEERS_DNS: 'siesta-peers.siesta.svc', SIESTA_NAMESPACE: 'siesta', SIESTA_NODE_NAME: 'gpu-node-1' };

const KUSTOMIZATIONS = [
  {
    dir: 'base',
    kinds: ['ConfigMap', 'DaemonSet', 'Namespace', 'PodMonitor', 'Service', 'Service'],
    daemonSets: ['siesta'],
  },
  {
    dir: 'overlays/two-pools',
    kinds: ['ConfigMap', 'ConfigMap', 'DaemonSet', 'DaemonSet', 'Namespace', 'PodMonitor', 'Service', 'Service', 'Service', 'Service'],
    daemonSets: ['siesta-large', 'siesta-small'],
  },
] as const;

async function poolConfigs(objects: readonly K8sObject[]): Promise<PoolConfig[]> {
  const configs: PoolConfig[] = [];
  for (const object of objects.filter((candidate) => candidate.kind === 'ConfigMap')) {
    const text = (object.data as Record<string, string> | undefined)?.['config.yaml'];
    if (text === undefined) throw new Error(`ConfigMap/${object.metadata.name} has no config.yaml`);
    // Throws a ConfigError listing every problem (warnings included: strict) when it is not valid.
    const loaded = await loadGatewayConfig({ configText: text, env: POD_ENV, strict: true });
    // Each model's unloadTimeout as siesta resolved it: its own, else the global one, else 10 s.
    const timeouts = Object.values(loaded.config.models).map((model) => model.unloadTimeoutMs);
    configs.push({ configMap: object.metadata.name, maxUnloadTimeoutMs: Math.max(0, ...timeouts) });
  }
  return configs;
}

describe('deploy/kubernetes manifests', function () {
  this.timeout(60_000);

  before(async function () {
    // `resources:` naming directories, `labels:` and `patches:` need kustomize 4 or later
    // (kubectl 1.21+); Debian bookworm's kubernetes-client is kubectl 1.20 with kustomize 2.0.3.
    const version = await kustomizeVersion();
    expect(version, 'kubectl with an embedded kustomize (kubectl version --client)').to.be.a('string');
    expect(Number(/^v(\d+)/.exec(version!)?.[1]), `kustomize ${version} is too old: these manifests need kustomize 4 or later`).to.be.at.least(4);
  });

  for (const kustomization of KUSTOMIZATIONS) {
    describe(kustomization.dir, function () {
      let objects: K8sObject[];
      let configs: PoolConfig[];

      before(async function () {
        objects = await renderKustomization(resolve(ROOT, kustomization.dir));
        configs = await poolConfigs(objects);
      });

      it('renders the expected objects, all in the siesta namespace', function () {
        expect(objects.map((object) => object.kind).sort()).to.deep.equal([...kustomization.kinds]);
        expect(objects.filter((object) => object.kind === 'DaemonSet').map((object) => object.metadata.name).sort()).to.deep.equal([...kustomization.daemonSets]);
        for (const object of objects.filter((candidate) => candidate.kind !== 'Namespace')) {
          expect(object.metadata.namespace, `${object.kind}/${object.metadata.name}`).to.equal('siesta');
        }
      });

      it('validates every object against its Kubernetes schema', function () {
        expect(objects.flatMap(schemaProblems)).to.deep.equal([]);
      });

      it('loads every config.yaml with siesta, strictly', function () {
        expect(configs.map((config) => config.configMap).sort()).to.have.length(kustomization.daemonSets.length);
      });

      it('keeps the design rules (GPU nodes, probes, shutdown timing, selectors, security)', function () {
        expect(designProblems(objects, configs)).to.deep.equal([]);
      });
    });
  }

  describe('the checks fail on invalid manifests', function () {
    let base: K8sObject[];
    let configs: PoolConfig[];

    before(async function () {
      base = await renderKustomization(resolve(ROOT, 'base'));
      configs = await poolConfigs(base);
    });

    /** The base's DaemonSet, deep-copied and changed by `edit`. */
    function brokenDaemonSet(edit: (daemonSet: { spec: { template: { spec: Record<string, unknown> } } } & Record<string, unknown>) => void): K8sObject {
      const daemonSet = structuredClone(base.find((object) => object.kind === 'DaemonSet')!) as never;
      edit(daemonSet);
      return daemonSet;
    }

    it('reports an object that breaks its schema', function () {
      const broken = brokenDaemonSet((daemonSet) => {
        daemonSet.spec.template.spec.containers = 'siesta'; // must be a list
        delete (daemonSet.spec as Record<string, unknown>).selector; // required
      });
      const problems = schemaProblems(broken);
      expect(problems.join('\n')).to.match(/containers must be array/).and.to.match(/must have required property selector/);
    });

    it('reports a kind without a schema, and a name Kubernetes refuses', function () {
      expect(schemaProblems({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'siesta' } })).to.deep.equal(['Deployment/siesta: no schema for apps/v1 Deployment (add it to MODELS)']);
      expect(schemaProblems({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'Siesta_Models' } })).to.deep.equal(['Namespace/Siesta_Models: metadata.name must be a DNS-1123 label']);
    });

    it('reports a grace period too short for the unloadTimeouts', function () {
      const required = requiredGraceSeconds({ delayMs: 5000, unloadMs: 65_000, maxUnloadTimeoutMs: configs[0]!.maxUnloadTimeoutMs });
      expect(required).to.equal(110); // 5 + 65 + 30 + 10, as the DaemonSet's comment says
      const broken = brokenDaemonSet((daemonSet) => {
        daemonSet.spec.template.spec.terminationGracePeriodSeconds = 60;
      });
      const objects = base.map((object) => (object.kind === 'DaemonSet' ? broken : object));
      expect(designProblems(objects, configs)).to.deep.equal([`DaemonSet/siesta: rule 4: terminationGracePeriodSeconds 60 < ${required} s needed`]);
    });

    it('reports a config mounted through a subPath and a Service that selects nothing', function () {
      const broken = brokenDaemonSet((daemonSet) => {
        const [container] = daemonSet.spec.template.spec.containers as { volumeMounts: { mountPath: string; subPath?: string }[] }[];
        container!.volumeMounts.find((mount) => mount.mountPath === '/etc/siesta')!.subPath = 'config.yaml';
      });
      const lonely = structuredClone(base.find((object) => object.metadata.name === 'siesta' && object.kind === 'Service')!) as K8sObject & { spec: { selector: Record<string, string> } };
      lonely.spec.selector = { 'app.kubernetes.io/name': 'nobody' };
      const objects = base.map((object) => (object.kind === 'DaemonSet' ? broken : object.kind === 'Service' && object.metadata.name === 'siesta' ? lonely : object));
      expect(designProblems(objects, configs)).to.deep.equal([
        'DaemonSet/siesta: rule 2: /etc/siesta must be a rendered ConfigMap mounted whole',
        'Service/siesta: rule 7: selects no DaemonSet\'s pods',
      ]);
    });

    it('refuses a config.yaml that siesta would refuse', async function () {
      const configMap = structuredClone(base.find((object) => object.kind === 'ConfigMap')!) as K8sObject & { data: Record<string, string> };
      configMap.data['config.yaml'] = configMap.data['config.yaml']!.replace('unloadTimeout: 30', 'unloadTimout: 30');
      let failure: unknown;
      await poolConfigs([configMap]).catch((error: unknown) => (failure = error));
      expect(String((failure as Error | undefined)?.message ?? failure)).to.match(/unloadTimout/);
    });
  });
});

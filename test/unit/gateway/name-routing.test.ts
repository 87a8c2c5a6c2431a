/**
 * The pure name-routing rules (`lib/gateway/name-routing.ts`) against llama-swap's
 * internal/server/{profiles,selector}_test.go and internal/router/peer_test.go, ported as tables:
 * profile pins first, then selectors (pin, warm, spillover), then local ids and aliases, then peers.
 * Configs are loaded from YAML the way the gateway loads them (deep-frozen: routing cannot mutate them).
 */
import { expect } from 'chai';
import type { GatewayConfig, ModelConfig } from '../../../lib/config/types.js';
import { loadConfigText } from '../../../lib/config/index.js';
import { findPeerModel } from '../../../lib/config/routing.js';
import { chooseTarget, routeName, spilloverKey, type Route, type RoutingState } from '../../../lib/gateway/name-routing.js';
import type { ModelState } from '../../../lib/process/states.js';

function load(text: string): GatewayConfig {
  return loadConfigText(text, { env: {}, baseDir: '/srv/siesta' }).config;
}

interface View {
  readonly states?: Readonly<Record<string, ModelState>>;
  /** `selector/target` → requests in flight. */
  readonly inFlight?: Readonly<Record<string, number>>;
  readonly activeProfile?: string | null;
}

/** The routing view of a config: ids first, then aliases (as the model manager indexes them). */
function viewOf(config: GatewayConfig, view: View = {}): RoutingState {
  const names = new Map<string, ModelConfig>();
  for (const model of Object.values(config.models)) names.set(model.id, model);
  for (const model of Object.values(config.models)) for (const alias of model.aliases) if (!names.has(alias)) names.set(alias, model);
  return {
    activeProfile: view.activeProfile ?? null,
    local: (name) => names.get(name),
    state: (id) => view.states?.[id] ?? 'stopped',
    inFlight: (selector, target) => view.inFlight?.[`${selector}/${target}`] ?? 0,
  };
}

/** A route in one line: `local:<id> as <name>`, `peer:<peer>/<model> as <name>`, `disabled`, `unavailable`, `unknown`. */
function summary(route: Route): string {
  switch (route.kind) {
    case 'local':
      return `local:${route.model.id} as ${route.name}${route.selector ? ` via ${route.selector}` : ''}`;
    case 'peer':
      return `peer:${route.peer.id}/${route.model} as ${route.name}${route.selector ? ` via ${route.selector}` : ''}`;
    case 'disabled':
      return `disabled by ${route.profile}`;
    case 'unavailable':
      return `unavailable: ${route.message}`;
    case 'unknown':
      return `unknown ${route.name}`;
  }
}

// llama-swap's profileTestConfig (internal/server/profiles_test.go).
const PROFILES = load(`
models:
  real:
    cmd: echo \${PORT}
    name: Real Model
    filters:
      setParamsByID:
        variant:
          thinking: true
  hidden:
    cmd: echo hidden
    proxy: http://localhost:1234
    name: Hidden Model
    unlisted: true
peers:
  remote:
    proxy: http://example.com
    models: [remote-model]
profiles:
  coding:
    description: Coding profile
    pins:
      public: variant
      disabled: ~
      real: hidden
      expose: hidden
      remote-model: hidden
`);

// llama-swap's selectorTestConfig (internal/server/selector_test.go), groups under routing.router.
const SELECTORS = load(`
models:
  a:
    cmd: echo \${PORT}
    aliases: [alias-a]
    filters:
      setParamsByID:
        variant:
          thinking: true
  b:
    cmd: echo \${PORT}
  c:
    cmd: echo \${PORT}
groups:
  balanced:
    swap: false
    members: [a, b, c]
peers:
  remote:
    proxy: http://example.com
    models: [remote-model]
selectors:
  public:
    strategy: pin
    targets: [variant, remote/remote-model]
    name: Public Model
  warm:
    strategy: warm
    targets: [a, b, c]
  balanced:
    strategy: spillover
    targets: [a, b, c]
    settings:
      spillover: 1
  pool:
    strategy: spillover
    targets: [a, b, c]
    settings:
      spillover: 2
  remote-pool:
    strategy: spillover
    targets: [remote/remote-model, a]
  hidden-selector:
    strategy: pin
    targets: [a]
    unlisted: true
profiles:
  coding:
    pins:
      llm-code: public
`);

describe('name-routing: llama-swap’s rules as pure functions', function () {
  it('the configs under test are deep-frozen (routing never mutates them)', function () {
    expect(Object.isFrozen(PROFILES.profiles['coding']!.pins)).to.equal(true);
    expect(Object.isFrozen(SELECTORS.selectors['public']!.targets)).to.equal(true);
  });

  describe('rule 1: profile pins (profiles_test.go)', function () {
    const cases: [profile: string | null, requested: string, expected: string][] = [
      // TestServer_ProfileMiddleware_JSONAndFilters: public → variant (an alias of real via setParamsByID).
      ['coding', 'public', 'local:real as variant'],
      ['coding', 'disabled', 'disabled by coding'],
      // A pin may rename a local id or a peer's bare model to another local model.
      ['coding', 'real', 'local:hidden as hidden'],
      ['coding', 'expose', 'local:hidden as hidden'],
      ['coding', 'remote-model', 'local:hidden as hidden'],
      // Names without a pin route as usual.
      ['coding', 'hidden', 'local:hidden as hidden'],
      ['coding', 'variant', 'local:real as variant'],
      ['coding', 'remote/remote-model', 'peer:remote/remote-model as remote/remote-model'],
      // No active profile: pins are just unknown names, and the pinned names are themselves again.
      [null, 'public', 'unknown public'],
      [null, 'disabled', 'unknown disabled'],
      [null, 'expose', 'unknown expose'],
      [null, 'real', 'local:real as real'],
      [null, 'remote-model', 'peer:remote/remote-model as remote-model'],
    ];
    for (const [profile, requested, expected] of cases) {
      it(`profile ${profile ?? '(none)'}: ${requested} → ${expected}`, function () {
        expect(summary(routeName(PROFILES, requested, viewOf(PROFILES, { activeProfile: profile })))).to.equal(expected);
      });
    }

    it('an active profile that the config does not know pins nothing', function () {
      expect(summary(routeName(PROFILES, 'public', viewOf(PROFILES, { activeProfile: 'gone' })))).to.equal('unknown public');
    });

    it('a pin whose target is unknown reports the target name, not the requested one', function () {
      const route = routeName(PROFILES, 'public', { ...viewOf(PROFILES, { activeProfile: 'coding' }), local: () => undefined });
      expect(route).to.deep.equal({ kind: 'unknown', name: 'variant' });
    });
  });

  describe('rule 2: selectors (selector_test.go)', function () {
    it('pin: the first target; the routed name is the target, the selector is recorded (RewritesBeforeFilters)', function () {
      const route = routeName(SELECTORS, 'public', viewOf(SELECTORS, { states: { a: 'stopped' } }));
      expect(summary(route)).to.equal('local:a as variant via public');
    });

    it('pin: the first target even when a later target is the only one running', function () {
      expect(chooseTarget(SELECTORS, SELECTORS.selectors['public']!, viewOf(SELECTORS, { states: { a: 'stopped' } }))).to.equal('variant');
    });

    it('the profile runs first: llm-code → public → variant → a (ProfileRunsFirst)', function () {
      expect(summary(routeName(SELECTORS, 'llm-code', viewOf(SELECTORS, { activeProfile: 'coding' })))).to.equal('local:a as variant via public');
      expect(summary(routeName(SELECTORS, 'llm-code', viewOf(SELECTORS)))).to.equal('unknown llm-code');
    });

    it('an unlisted selector still routes', function () {
      expect(summary(routeName(SELECTORS, 'hidden-selector', viewOf(SELECTORS)))).to.equal('local:a as a via hidden-selector');
    });

    describe('warm (TestServer_SelectorStrategyWarm, plus siesta’s asleep rule)', function () {
      const cases: [states: Record<string, ModelState>, expected: string][] = [
        // llama-swap's four cases.
        [{ a: 'starting', c: 'ready' }, 'c'],
        [{ a: 'starting', b: 'ready', c: 'ready' }, 'b'],
        [{ a: 'starting', b: 'starting' }, 'a'],
        [{}, 'a'],
        // waking counts as starting.
        [{ b: 'waking' }, 'b'],
        [{ a: 'waking', b: 'ready' }, 'b'],
        // siesta: asleep beats stopped (a wake is cheaper than a cold start) ...
        [{ c: 'asleep' }, 'c'],
        [{ b: 'asleep', c: 'asleep' }, 'b'],
        // ... but not a model that is already starting or ready.
        [{ a: 'asleep', c: 'starting' }, 'c'],
        [{ b: 'asleep', c: 'ready' }, 'c'],
        // stopping and failed models are not warm.
        [{ a: 'stopping', b: 'stopped' }, 'a'],
      ];
      for (const [states, expected] of cases) {
        it(`${JSON.stringify(states)} → ${expected}`, function () {
          expect(chooseTarget(SELECTORS, SELECTORS.selectors['warm']!, viewOf(SELECTORS, { states }))).to.equal(expected);
          expect(summary(routeName(SELECTORS, 'warm', viewOf(SELECTORS, { states })))).to.equal(`local:${expected} as ${expected} via warm`);
        });
      }
    });

    describe('spillover (TestServer_SelectorStrategySpillover), one decision at a time', function () {
      const cases: [what: string, selector: string, view: View, expected: string | null][] = [
        ['nothing running, nothing in flight: the first cold target', 'pool', {}, 'a'],
        ['a has 1 of 2 in flight (still starting): a again', 'pool', { inFlight: { 'pool/a': 1 } }, 'a'],
        ['a is full (2 of 2): the next cold target', 'pool', { inFlight: { 'pool/a': 2 } }, 'b'],
        ['a full, b full: c', 'pool', { inFlight: { 'pool/a': 2, 'pool/b': 2 } }, 'c'],
        ['all ready, a:1 b:2 c:0: the least busy', 'pool', { states: { a: 'ready', b: 'ready', c: 'ready' }, inFlight: { 'pool/a': 1, 'pool/b': 2 } }, 'c'],
        ['all full and no cold target left: the least busy active one', 'pool', { inFlight: { 'pool/a': 3, 'pool/b': 2, 'pool/c': 4 } }, 'b'],
        ['a ready with none in flight is active: it takes the request before a cold one', 'balanced', { states: { a: 'stopped', b: 'ready' } }, 'b'],
        ['spillover 1: a busy → b starts', 'balanced', { states: { a: 'ready' }, inFlight: { 'balanced/a': 1 } }, 'b'],
        ['stopping targets are skipped', 'balanced', { states: { a: 'stopping', b: 'shutdown' } }, 'c'],
        ['every target stopping or shut down: nothing to offer', 'pool', { states: { a: 'stopping', b: 'stopping', c: 'shutdown' } }, null],
        ['counts are per selector: balanced’s load does not fill pool', 'pool', { inFlight: { 'balanced/a': 5 }, states: { a: 'ready' } }, 'a'],
        // A peer target is active only while it has requests of this selector in flight.
        ['a peer target is cold until used', 'remote-pool', {}, 'remote/remote-model'],
        ['a busy peer target spills to a local one', 'remote-pool', { inFlight: { 'remote-pool/remote/remote-model': 1 } }, 'a'],
      ];
      for (const [what, selector, view, expected] of cases) {
        it(`${selector}: ${what} → ${expected ?? 'null'}`, function () {
          expect(chooseTarget(SELECTORS, SELECTORS.selectors[selector]!, viewOf(SELECTORS, view))).to.equal(expected);
        });
      }

      it('ties among active targets go round robin', function () {
        const view = viewOf(SELECTORS, { states: { a: 'ready', b: 'ready', c: 'ready' } });
        const picks = [0, 1, 2, 3].map((roundRobin) => chooseTarget(SELECTORS, SELECTORS.selectors['balanced']!, view, roundRobin));
        expect(picks).to.deep.equal(['a', 'b', 'c', 'a']);
      });

      it('nothing to offer → an unavailable route naming the selector (AllSpilloverTargetsStopping)', function () {
        const route = routeName(SELECTORS, 'balanced', viewOf(SELECTORS, { states: { a: 'stopping', b: 'stopping', c: 'shutdown' } }));
        expect(route.kind).to.equal('unavailable');
        expect(route).to.have.property('message').that.matches(/selector "balanced" has no available/);
      });

      it('spilloverKey: a local target by id (alias resolved), a peer target by <peer>/<model>', function () {
        const view = viewOf(SELECTORS);
        expect(spilloverKey(SELECTORS, view, 'alias-a')).to.equal('a');
        expect(spilloverKey(SELECTORS, view, 'variant')).to.equal('a');
        expect(spilloverKey(SELECTORS, view, 'remote-model')).to.equal('remote/remote-model');
        expect(spilloverKey(SELECTORS, view, 'remote/remote-model')).to.equal('remote/remote-model');
      });
    });
  });

  describe('rules 3 and 4: local ids and aliases, then peers (peer_test.go)', function () {
    const config = load(`
models:
  shared:
    cmd: echo \${PORT}
    aliases: [shared-alias]
  own:
    cmd: echo \${PORT}
peers:
  peer1:
    proxy: http://peer1.example.com:8080
    models: [model-a, model-b, shared, shared-alias, dup]
  peer2:
    proxy: http://peer2.example.com:8080
    models: [model-c, dup]
  p1:
    proxy: http://peer.example.com
    models: [model]
  p2:
    proxy: http://peer.example.com
    models: [p1/model]
`);
    const cases: [requested: string, expected: string][] = [
      // TestNewPeer_SinglePeer / MultiplePeers: bare and qualified names both route.
      ['model-a', 'peer:peer1/model-a as model-a'],
      ['peer1/model-b', 'peer:peer1/model-b as peer1/model-b'],
      ['model-c', 'peer:peer2/model-c as model-c'],
      ['peer2/model-c', 'peer:peer2/model-c as peer2/model-c'],
      ['model-x', 'unknown model-x'],
      ['peer1/model-c', 'unknown peer1/model-c'],
      // TestNewPeer_DuplicateModel: a bare name two peers serve is not routed; qualified ones are.
      ['dup', 'unknown dup'],
      ['peer1/dup', 'peer:peer1/dup as peer1/dup'],
      ['peer2/dup', 'peer:peer2/dup as peer2/dup'],
      // TestNewPeer_FQNPrecedesCollidingBareModel.
      ['p1/model', 'peer:p1/model as p1/model'],
      ['p2/p1/model', 'peer:p2/p1/model as p2/p1/model'],
      // A local id or alias wins over a peer's bare model of the same name; the qualified name still reaches the peer.
      ['shared', 'local:shared as shared'],
      ['shared-alias', 'local:shared as shared-alias'],
      ['peer1/shared', 'peer:peer1/shared as peer1/shared'],
      ['own', 'local:own as own'],
    ];
    for (const [requested, expected] of cases) {
      it(`${requested} → ${expected}`, function () {
        expect(summary(routeName(config, requested, viewOf(config)))).to.equal(expected);
      });
    }

    it('findPeerModel (ResolvePeerModel) agrees, independent of peer order', function () {
      expect(findPeerModel(config.peers, 'model-a')).to.deep.equal({ peer: 'peer1', model: 'model-a' });
      expect(findPeerModel(config.peers, 'dup')).to.equal(null);
      expect(findPeerModel(config.peers, 'p1/model')).to.deep.equal({ peer: 'p1', model: 'model' });
      const reversed = Object.fromEntries(Object.entries(config.peers).reverse());
      expect(findPeerModel(reversed, 'p1/model')).to.deep.equal({ peer: 'p1', model: 'model' });
      expect(findPeerModel(reversed, 'dup')).to.equal(null);
      expect(findPeerModel({}, 'model-a')).to.equal(null);
    });
  });
});

/**
 * The stateful side of name routing (`lib/gateway/name-router.ts`): the active profile
 * (`ProfileSwitch`, llama-swap's setActiveProfile) and the spillover reservations a `NameRouter`
 * holds from `route()` to `release()` (llama-swap's selectorSpilloverTracker), driven with a fake
 * model directory whose states the test sets. No processes, no timers.
 */
import { expect } from 'chai';
import type { GatewayConfig, ModelConfig } from '../../../lib/config/types.js';
import { loadConfigText } from '../../../lib/config/index.js';
import { GatewayError } from '../../../lib/errors.js';
import { NameRouter, ProfileSwitch } from '../../../lib/gateway/name-router.js';
import type { Route } from '../../../lib/gateway/name-routing.js';
import type { ModelState } from '../../../lib/process/states.js';

function load(text: string): GatewayConfig {
  return loadConfigText(text, { env: {}, baseDir: '/srv/siesta' }).config;
}

const CONFIG = load(`
models:
  a:
    cmd: echo \${PORT}
    aliases: [alias-a]
  b:
    cmd: echo \${PORT}
  c:
    cmd: echo \${PORT}
groups:
  all:
    swap: false
    members: [a, b, c]
peers:
  remote:
    proxy: http://example.com
    models: [a, b]
selectors:
  pool:
    strategy: spillover
    targets: [a, b, c]
    settings:
      spillover: 2
  balanced:
    strategy: spillover
    targets: [alias-a, b, c]
    settings:
      spillover: 1
  remote-pool:
    strategy: spillover
    targets: [remote/a, remote/b]
    settings:
      spillover: 1
  first:
    strategy: pin
    targets: [b]
profiles:
  coding:
    pins:
      code: pool
  chat:
    pins:
      talk: b
`);

/** A NameRouter over CONFIG whose model states the test sets in `states`. */
function router(states: Record<string, ModelState> = {}, profiles = new ProfileSwitch()): { router: NameRouter; states: Record<string, ModelState>; profiles: ProfileSwitch } {
  const names = new Map<string, ModelConfig>();
  for (const model of Object.values(CONFIG.models)) names.set(model.id, model);
  for (const model of Object.values(CONFIG.models)) for (const alias of model.aliases) if (!names.has(alias)) names.set(alias, model);
  const nameRouter = new NameRouter({ config: CONFIG, profiles, models: { resolve: (name) => names.get(name), state: (id) => states[id] ?? 'stopped' } });
  return { router: nameRouter, states, profiles };
}

function target(route: Route): string {
  if (route.kind === 'local') return route.model.id;
  if (route.kind === 'peer') return `${route.peer.id}/${route.model}`;
  return route.kind;
}

describe('name-router: the active profile and spillover reservations', function () {
  describe('ProfileSwitch (llama-swap’s setActiveProfile)', function () {
    it('starts with no profile; set reports whether it changed; "" and null deactivate', function () {
      const profiles = new ProfileSwitch();
      expect(profiles.active).to.equal(null);
      expect(profiles.set('coding', CONFIG)).to.equal(true);
      expect(profiles.active).to.equal('coding');
      expect(profiles.set('coding', CONFIG), 'same profile again').to.equal(false);
      expect(profiles.set('chat', CONFIG)).to.equal(true);
      expect(profiles.set('', CONFIG)).to.equal(true);
      expect(profiles.active).to.equal(null);
      expect(profiles.set(null, CONFIG)).to.equal(false);
    });

    it('an unknown profile is a 404 with llama-swap’s message and leaves the active one', function () {
      const profiles = new ProfileSwitch();
      profiles.set('coding', CONFIG);
      let thrown: unknown;
      try {
        profiles.set('missing', CONFIG);
      } catch (error) {
        thrown = error;
      }
      expect(thrown).to.be.instanceOf(GatewayError);
      expect((thrown as GatewayError).status).to.equal(404);
      expect((thrown as GatewayError).message).to.equal('profile "missing" not found');
      expect(profiles.active).to.equal('coding');
    });

    it('an inherited property name is not a profile', function () {
      expect(() => new ProfileSwitch().set('toString', CONFIG)).to.throw(GatewayError, 'profile "toString" not found');
    });

    it('listeners hear each change once, and not after unsubscribing', function () {
      const profiles = new ProfileSwitch();
      const heard: (string | null)[] = [];
      const off = profiles.onChange((active) => heard.push(active));
      profiles.set('coding', CONFIG);
      profiles.set('coding', CONFIG);
      profiles.set(null, CONFIG);
      off();
      profiles.set('chat', CONFIG);
      expect(heard).to.deep.equal(['coding', null]);
    });

    it('revalidate after a reload keeps a profile that still exists and drops one that does not', function () {
      const profiles = new ProfileSwitch();
      profiles.set('coding', CONFIG);
      profiles.revalidate({ profiles: { coding: { id: 'coding', description: 'new text', pins: {} } } });
      expect(profiles.active).to.equal('coding');
      const heard: (string | null)[] = [];
      profiles.onChange((active) => heard.push(active));
      profiles.revalidate({ profiles: {} });
      expect(profiles.active).to.equal(null);
      expect(heard).to.deep.equal([null]);
    });
  });

  describe('NameRouter: profiles', function () {
    it('reads the switch on every route: a pin applies while its profile is active', function () {
      const { router: nameRouter, profiles } = router();
      expect(nameRouter.route('talk').kind).to.equal('unknown');
      profiles.set('chat', CONFIG);
      expect(target(nameRouter.route('talk'))).to.equal('b');
      profiles.set(null, CONFIG);
      expect(nameRouter.route('talk').kind).to.equal('unknown');
    });
  });

  describe('NameRouter: spillover reservations (TestServer_SelectorStrategySpillover)', function () {
    it('spillover 2 with nothing running: a, a, b; after releasing one a and with all ready, c (the least busy)', function () {
      const { router: nameRouter, states } = router();
      const first = nameRouter.route('pool');
      const second = nameRouter.route('pool');
      const third = nameRouter.route('pool');
      expect([first, second, third].map(target)).to.deep.equal(['a', 'a', 'b']);

      nameRouter.release(first);
      Object.assign(states, { a: 'ready', b: 'ready', c: 'ready' });
      expect(target(nameRouter.route('pool'))).to.equal('c');
    });

    it('all targets stopping or shut down: unavailable, and nothing is reserved', function () {
      const { router: nameRouter, states } = router({ a: 'stopping', b: 'stopping', c: 'shutdown' });
      const route = nameRouter.route('pool');
      expect(route.kind).to.equal('unavailable');
      nameRouter.release(route);
      Object.assign(states, { a: 'stopped', b: 'stopped', c: 'stopped' });
      expect([nameRouter.route('pool'), nameRouter.route('pool')].map(target)).to.deep.equal(['a', 'a']);
    });

    it('remote targets (RemoteModels): remote/a, then remote/b; released, remote/a again', function () {
      const { router: nameRouter } = router();
      const first = nameRouter.route('remote-pool');
      const second = nameRouter.route('remote-pool');
      expect([first, second].map(target)).to.deep.equal(['remote/a', 'remote/b']);
      expect(first.kind).to.equal('peer');
      nameRouter.release(first);
      nameRouter.release(second);
      expect(target(nameRouter.route('remote-pool'))).to.equal('remote/a');
    });

    it('concurrent requests on ready targets go to different models (SpilloverReservations)', function () {
      const { router: nameRouter } = router({ a: 'ready', b: 'ready', c: 'ready' });
      const first = nameRouter.route('balanced');
      const second = nameRouter.route('balanced');
      expect(target(first)).to.not.equal(target(second));
    });

    it('a target named by its alias is counted under the model id: a busy alias-a spills over to b', function () {
      const { router: nameRouter, states } = router();
      const first = nameRouter.route('balanced');
      expect(first).to.include({ kind: 'local', name: 'alias-a', selector: 'balanced' });
      states['a'] = 'starting';
      expect(target(nameRouter.route('balanced'))).to.equal('b');
    });

    it('released reservations make a target cold again: the first cold target is chosen, not a spill', function () {
      const { router: nameRouter } = router();
      const first = nameRouter.route('balanced');
      const second = nameRouter.route('balanced');
      expect([first, second].map(target)).to.deep.equal(['a', 'b']);
      nameRouter.release(first);
      nameRouter.release(second);
      // Stopped and without reservations, both are cold again: a, then b (not c).
      expect([nameRouter.route('balanced'), nameRouter.route('balanced')].map(target)).to.deep.equal(['a', 'b']);
    });

    it('a leaked reservation would be visible: without release the third request goes to c', function () {
      const { router: nameRouter } = router();
      nameRouter.route('balanced');
      nameRouter.route('balanced');
      expect(target(nameRouter.route('balanced'))).to.equal('c');
    });

    it('a profile pin to a spillover selector reserves under the selector', function () {
      const { router: nameRouter, profiles } = router();
      profiles.set('coding', CONFIG);
      const routes = [nameRouter.route('code'), nameRouter.route('code'), nameRouter.route('code')];
      expect(routes.map(target)).to.deep.equal(['a', 'a', 'b']);
      expect(routes[0]).to.include({ selector: 'pool', name: 'a' });
    });

    it('release of a route no selector chose, or of a pin selector, changes nothing', function () {
      const { router: nameRouter } = router();
      const held = nameRouter.route('balanced');
      nameRouter.release(nameRouter.route('a'));
      nameRouter.release(nameRouter.route('first'));
      nameRouter.release({ kind: 'unknown', name: 'nope' });
      expect(target(held)).to.equal('a');
      expect(target(nameRouter.route('balanced')), 'a still holds its reservation').to.equal('b');
    });

    it('releasing more often than reserved never makes a count negative', function () {
      const { router: nameRouter } = router();
      const first = nameRouter.route('balanced');
      nameRouter.release(first);
      nameRouter.release(first);
      // With a count of -1, a would look free even with one request in flight.
      nameRouter.route('balanced');
      expect(target(nameRouter.route('balanced'))).to.equal('b');
    });
  });
});

/**
 * middleware/upstream-route.ts: one owner for what an /upstream path names and the rules that
 * refuse it, shared by plain requests and WebSocket upgrades. A table: pins (longest pinned
 * prefix, an empty pin disables), the longest prefix among local models and peers (local first),
 * the trailing-slash redirect, lifecycle paths (local only), ignorePaths on the decoded rest.
 */
import { expect } from 'chai';
import type { ModelConfig, PeerConfig } from '../../../lib/config/types.js';
import { MODEL_TIMEOUTS } from '../../../lib/config/routing.js';
import { GatewayError } from '../../../lib/errors.js';
import type { ModelState } from '../../../lib/process/states.js';
import { createUpstreamRouter, type UpstreamRoute } from '../../../middleware/upstream-route.js';
import { makeModel } from '../../helpers/model-config.js';

function peer(id: string, models: readonly string[]): PeerConfig {
  return { id, proxy: `http://${id}.invalid`, apiKey: '', models, filters: { stripParams: [], setParams: {}, setParamsByID: {} }, timeouts: MODEL_TIMEOUTS };
}

const models: Record<string, ModelConfig> = {
  m1: makeModel({ id: 'm1', cmd: ['x'], aliases: ['alias-1'] }),
  'org/m2': makeModel({ id: 'org/m2', cmd: ['x'] }),
};

function router(state: ModelState = 'stopped') {
  return createUpstreamRouter({
    models: { resolve: (name) => Object.values(models).find((model) => model.id === name || model.aliases.includes(name)), state: () => state },
    peers: { p1: peer('p1', ['remote', 'm1']), p2: peer('p2', ['other']) },
    pins: () => ({ fast: 'm1', 'fast/deep': 'org/m2', off: '', 'to-peer': 'p2/other' }),
    ignorePaths: ['^/assets/'],
  });
}

/** What a route looks like in the table: kind, target and rest, or the refusing error's code. */
function summary(route: () => UpstreamRoute): string {
  try {
    const found = route();
    if (found.kind === 'redirect') return 'redirect';
    if (found.kind === 'peer') return `peer ${found.peer.id}:${found.model} as ${found.name} ${found.rest}`;
    return `local ${found.model.id} as ${found.name} ${found.rest}`;
  } catch (error) {
    if (error instanceof GatewayError) return `error ${error.code}`;
    throw error;
  }
}

describe('upstream-route: what an /upstream path names', function () {
  const table: readonly (readonly [string, string, ModelState?])[] = [
    ['/upstream/m1/ws', 'local m1 as m1 /ws'],
    ['/upstream/alias-1/a/b', 'local m1 as alias-1 /a/b'],
    ['/upstream/org/m2/', 'local org/m2 as org/m2 /'],
    ['/upstream/org%2Fm2/x', 'local org/m2 as org/m2 /x'],
    ['/upstream/m1', 'redirect'],
    ['/upstream/nothing/x', 'error model_not_found'],
    ['/upstream/%zz/x', 'error bad_request'],
    // Pins: the longest pinned prefix; an empty pin disables the name; a pin can name a peer.
    ['/upstream/fast/ws', 'local m1 as m1 /ws'],
    ['/upstream/fast/deep/ws', 'local org/m2 as org/m2 /ws'],
    ['/upstream/off/ws', 'error model_not_found'],
    ['/upstream/to-peer/x', 'peer p2:other as p2/other /x'],
    // Peers: local models first (m1 is local although p1 serves one too), then <peer>/<model> or a unique bare name.
    ['/upstream/remote/ws', 'peer p1:remote as remote /ws'],
    ['/upstream/p2/other/x', 'peer p2:other as p2/other /x'],
    ['/upstream/p1/m1/ws', 'peer p1:m1 as p1/m1 /ws'],
    // Lifecycle paths: local models only (decoded first); a peer gets them as is.
    ['/upstream/m1/%73leep', 'error forbidden_path'],
    ['/upstream/remote/sleep', 'peer p1:remote as remote /sleep'],
    // ignorePaths: matched against the decoded rest, refused while the model is not ready.
    ['/upstream/m1/assets/app.js', 'error invalid_state'],
    ['/upstream/m1/%61ssets/app.js', 'error invalid_state'],
    ['/upstream/m1/%61ssets/app.js', 'local m1 as m1 /%61ssets/app.js', 'ready'],
    ['/upstream/remote/assets/app.js', 'peer p1:remote as remote /assets/app.js'],
  ];
  for (const [path, expected, state] of table) {
    it(`${path}${state ? ` (${state})` : ''} → ${expected}`, function () {
      const route = router(state);
      expect(summary(() => route(path))).to.equal(expected);
    });
  }

  it('pins are read per call (a profile switched at run time applies at once)', function () {
    const active: { pins?: Record<string, string> } = {};
    const route = createUpstreamRouter({ models: { resolve: (name) => models[name], state: () => 'ready' }, pins: () => active.pins });
    expect(summary(() => route('/upstream/fast/x'))).to.equal('error model_not_found');
    active.pins = { fast: 'm1' };
    expect(summary(() => route('/upstream/fast/x'))).to.equal('local m1 as m1 /x');
  });
});

import { expect } from 'chai';
import { applyEvent, backoffMs, modelsOfList, SseParser, statusOfView } from '../../../lib/cluster/peer-state.js';
import { isSelf, peerList } from '../../../lib/cluster/discovery.js';
import { clusterKeyMatches } from '../../../lib/cluster/peer-api.js';
import { parseBudgets } from '../../../lib/cluster/peer-follower.js';

const view = (id: string, state: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({ id, state, asleepLevel: null, inFlight: 0, queued: 0, resources: {}, ...extra });

describe('cluster peer state', function () {
  it('parses server-sent events across chunk boundaries, skipping comments', function () {
    const parser = new SseParser();
    expect(parser.push('retry: 2000\n\n: heartbeat\n\nevent: snap')).to.deep.equal([]);
    expect(parser.push('shot\ndata: {"a":1}\n\nevent: model\r\ndata: {"b"')).to.deep.equal([{ event: 'snapshot', data: '{"a":1}' }]);
    expect(parser.push(':2}\r\n\r\n')).to.deep.equal([{ event: 'model', data: '{"b":2}' }]);
  });

  it('builds the models from a snapshot and updates them from state and model events', function () {
    let models = applyEvent(new Map(), 'snapshot', { models: [view('a', 'stopped'), view('b', 'ready', { inFlight: 2 }), { id: 'broken' }] });
    expect([...models.keys()]).to.deep.equal(['a', 'b']);
    models = applyEvent(models, 'state', { change: { model: 'a', from: 'stopped', to: 'starting' }, model: view('a', 'starting') });
    expect(models.get('a')?.state).to.equal('starting');
    models = applyEvent(models, 'model', view('b', 'asleep', { asleepLevel: 2 }));
    expect(models.get('b')).to.include({ state: 'asleep', asleepLevel: 2, inFlight: 0 });
    const same = applyEvent(models, 'log', { text: 'x' });
    expect(same).to.equal(models);
  });

  it('reads a model view defensively', function () {
    expect(statusOfView(view('a', 'flying'))).to.equal(null);
    expect(statusOfView(view('a', 'sleeping', { sleepLevel: 2 }))?.asleepLevel).to.equal(2);
    expect(statusOfView(view('a', 'ready', { inFlight: -3, queued: 'x' }))).to.include({ inFlight: 0, queued: 0 });
    expect(modelsOfList({ nope: [] })).to.equal(null);
  });

  it('backs off 250 ms, doubling, up to 2 s', function () {
    expect([1, 2, 3, 4, 5, 9].map((failures) => backoffMs(failures))).to.deep.equal([250, 500, 1000, 2000, 2000, 2000]);
  });

  it('reads the budgets header', function () {
    expect(parseBudgets('{"vram":10}')).to.deep.equal({ vram: 10 });
    expect(parseBudgets('{}')).to.equal(null);
    expect(parseBudgets('not json')).to.equal(null);
    expect(parseBudgets(undefined)).to.equal(null);
  });

  it('compares cluster keys whatever their lengths', function () {
    expect(clusterKeyMatches('secret', 'secret')).to.equal(true);
    expect(clusterKeyMatches('secret2', 'secret')).to.equal(false);
    expect(clusterKeyMatches(undefined, 'secret')).to.equal(false);
    expect(clusterKeyMatches('', '')).to.equal(false);
  });
});

describe('cluster discovery', function () {
  const table: [string, string, boolean][] = [
    ['http://10.0.0.5:8080', '10.0.0.5', true],
    ['http://10.0.0.5:8080', 'http://10.0.0.5:8080', true],
    ['http://10.0.0.5:9090', 'http://10.0.0.5:8080', false],
    ['http://10.0.0.6:8080', '10.0.0.5', false],
    ['http://[fd00::5]:8080', 'fd00::5', true],
  ];
  for (const [url, self, expected] of table) {
    it(`${url} is ${expected ? '' : 'not '}self ${self}`, function () {
      expect(isSelf(url, self)).to.equal(expected);
    });
  }

  it('lists static then DNS peers once, without this node', function () {
    expect(peerList(['http://a:8080', 'http://10.0.0.6:8080'], ['10.0.0.5', '10.0.0.6', 'fd00::7'], 8080, '10.0.0.5')).to.deep.equal(['http://a:8080', 'http://10.0.0.6:8080', 'http://[fd00::7]:8080']);
  });
});

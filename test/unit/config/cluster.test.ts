import { expect } from 'chai';
import { issueLines, load, oneModel, warningLines } from './helpers.js';

const MODEL = 'cmd: server --port ${PORT}';

describe('config: cluster', function () {
  it('is absent unless configured', function () {
    expect(load(oneModel(MODEL)).config.cluster).to.equal(undefined);
  });

  it('resolves the keys, with defaults, env macros and peer URLs normalised', function () {
    const text = oneModel(MODEL, 'cluster:\n  key: ${env.KEY}\n  self: 10.0.0.5\n  peers: [http://10.0.0.6:8080/, http://10.0.0.6:8080]\n  dns: siesta-peers.siesta.svc\n  downAfter: 2s\n');
    expect(load(text, { env: { KEY: 'k1' } }).config.cluster).to.deep.equal({
      key: 'k1',
      self: '10.0.0.5',
      peers: ['http://10.0.0.6:8080'],
      dns: 'siesta-peers.siesta.svc',
      port: 8080,
      dnsRefreshMs: 10_000,
      downAfterMs: 2000,
      heartbeatMs: 1000,
      connectTimeoutMs: 2000,
    });
  });

  it('refuses a missing key, a bad peer URL and a heartbeat not shorter than downAfter', function () {
    expect(issueLines(oneModel(MODEL, 'cluster:\n  peers: [ftp://x, "not a url"]\n  heartbeat: 3s\n'))).to.deep.equal([
      'cluster.key: is required: the secret every node of the cluster shares (e.g. ${env.SIESTA_CLUSTER_KEY})',
      'cluster.peers[0]: must be an http:// or https:// URL',
      'cluster.peers[1]: invalid peer URL (not a url); write it as http://host:port',
      'cluster.heartbeat: must be shorter than downAfter (3000 ms), or healthy peers would be marked down',
    ]);
  });

  it('warns about a cluster with nobody in it and about unknown keys', function () {
    expect(warningLines(oneModel(MODEL, 'cluster:\n  key: k\n  peer: [http://a:1]\n'))).to.deep.equal(['cluster.peer: unknown key, ignored (did you mean `peers`?)', 'cluster: no peers and no dns: this node has nobody to route to']);
  });
});

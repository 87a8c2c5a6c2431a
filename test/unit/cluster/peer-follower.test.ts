/** The follower against a real HTTP peer on loopback: up from the snapshot, down within downAfterMs of silence, back by itself. */
import { expect } from 'chai';
import { once } from 'node:events';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PeerFollower } from '../../../lib/cluster/peer-follower.js';
import { createLogger } from '../../../lib/logger.js';
import { pollUntil } from '../../helpers/wait.js';

const log = createLogger({ level: 'error' });
const snapshot = `event: snapshot\ndata: ${JSON.stringify({ at: 0, models: [{ id: 'm', state: 'asleep', asleepLevel: 1, inFlight: 0, queued: 0, resources: {} }], logs: [] })}\n\n`;

describe('cluster peer follower', function () {
  const cleanups: (() => void)[] = [];
  afterEach(function () {
    for (const cleanup of cleanups.splice(0)) cleanup();
  });

  /** A peer whose event stream sends a heartbeat every 50 ms while `silent` is false; `/api/events` 404 when `events` is false. */
  async function peer(options: { events: boolean }) {
    const state = { silent: false, key: '', requests: 0 };
    const streams = new Set<ServerResponse>();
    const server = createServer((req, res) => {
      state.key = String(req.headers['x-siesta-cluster-key']);
      state.requests++;
      if (req.headers['x-siesta-cluster-key'] !== 'k') return void res.writeHead(401).end();
      if (req.url === '/api/events' && options.events) {
        res.writeHead(200, { 'content-type': 'text/event-stream', 'x-siesta-node': 'peer-1', 'x-siesta-budgets': '{"vram":100}' });
        res.write(snapshot);
        streams.add(res);
        const timer = setInterval(() => state.silent || res.write(': heartbeat\n\n'), 50);
        res.on('close', () => {
          clearInterval(timer);
          streams.delete(res);
        });
        return;
      }
      if (req.url === '/api/models') return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ models: [{ id: 'm', state: 'ready', inFlight: 1, queued: 0, resources: {} }] }));
      res.writeHead(404).end();
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    cleanups.push(() => {
      server.closeAllConnections();
      server.close();
    });
    return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, state, streams };
  }

  function follow(url: string, key = 'k'): PeerFollower {
    const follower = new PeerFollower({ url, key, downAfterMs: 300, connectTimeoutMs: 1000, log });
    cleanups.push(() => follower.close());
    follower.start();
    return follower;
  }

  it('is up from the snapshot, down within downAfterMs of silence, and up again when the peer speaks', async function () {
    const { url, state } = await peer({ events: true });
    const follower = follow(url);
    await once(follower, 'up');
    expect(follower.models.get('m')).to.include({ state: 'asleep', asleepLevel: 1 });
    expect(follower.budgets).to.deep.equal({ vram: 100 });
    expect(follower.name).to.equal('peer-1');
    state.silent = true;
    const silentAt = Date.now();
    await once(follower, 'down');
    const tookMs = Date.now() - silentAt;
    expect(tookMs).to.be.within(200, 1000);
    state.silent = false;
    await once(follower, 'up');
    expect(follower.up).to.equal(true);
  });

  it('is marked down at once when the event stream breaks', async function () {
    const { url, streams } = await peer({ events: true });
    const follower = follow(url);
    await once(follower, 'up');
    const brokenAt = Date.now();
    for (const stream of streams) stream.destroy();
    await once(follower, 'down');
    expect(Date.now() - brokenAt).to.be.below(200);
  });

  it('polls /api/models when the peer has no event stream', async function () {
    const { url } = await peer({ events: false });
    const follower = follow(url);
    await once(follower, 'up');
    expect(follower.mode).to.equal('poll');
    expect(follower.models.get('m')).to.include({ state: 'ready', inFlight: 1 });
  });

  it('stays down with a wrong cluster key', async function () {
    const { url, state } = await peer({ events: true });
    const follower = follow(url, 'wrong');
    await pollUntil(() => state.requests >= 2, { what: 'the follower to try twice' }); // refused, then retried after a backoff
    expect(state.key).to.equal('wrong');
    expect(follower.up).to.equal(false);
  });
});

/**
 * WebSockets through /upstream/<model>/... (issue 11 defect 11): the upgrade reaches the model
 * server (the fake upstream's /ws echo), loads the model first and holds it while open; llama-swap's
 * compat.ignoreWebsockets makes it neither load nor hold the model. Upgrades follow the rules of
 * plain /upstream requests (issue 12): the trailing-slash redirect, ignorePaths on the decoded
 * path, the active profile's pins and peers (middleware/upstream-route.ts owns them for both).
 */
import { createHash, randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { expect } from 'chai';
import request from 'supertest';
import express from 'express';
import { createExpressServer } from '../../lib/http/express-server.js';
import { frame, handleUpgrade as fakeWebSocket, readFrames } from '../../fake-upstream/websocket.js';
import { assertNoChildren, pollUntil } from '../helpers/wait.js';
import { cleanup, configYaml, genericCmd, listenOnLoopback, openGateway, track } from './support.js';
import type { Gateway } from '../../lib/gateway/create-gateway.js';
import type { PeerConfig } from '../../lib/config/types.js';
import { MODEL_TIMEOUTS } from '../../lib/config/routing.js';
import { silentLogger } from '../../lib/logger.js';
import { createUpgradeHandler, type UpgradeHandler } from '../../middleware/upstream-upgrade.js';

async function serve(gateway: Gateway, handleUpgrade: UpgradeHandler = gateway.handleUpgrade): Promise<{ port: number }> {
  const server: Server = createExpressServer(express().use(gateway.router));
  server.on('upgrade', handleUpgrade);
  return { port: Number(new URL(await listenOnLoopback(server)).port) };
}

/** A client masked frame (clients must mask). */
function clientFrame(text: string): Buffer {
  const payload = Buffer.from(text);
  const mask = randomBytes(4);
  const masked = Buffer.from(payload.map((byte, i) => byte ^ mask[i % 4]!));
  return Buffer.concat([Buffer.from([0x81, 0x80 | payload.length]), mask, masked]);
}

interface Ws {
  readonly socket: Socket;
  readonly status: number;
  readonly headers: string;
  next(): Promise<string>;
}

async function openWs(port: number, path: string, headers: Record<string, string> = {}): Promise<Ws> {
  const socket = connect(port, '127.0.0.1');
  const key = randomBytes(16).toString('base64');
  const extra = Object.entries(headers).map(([name, value]) => `${name}: ${value}\r\n`).join('');
  socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n${extra}\r\n`);
  let buffered: Buffer = Buffer.alloc(0);
  const messages: string[] = [];
  const waiters: ((text: string) => void)[] = [];
  const head = await new Promise<string>((resolve, reject) => {
    const onData = (chunk: Buffer): void => {
      buffered = Buffer.concat([buffered, chunk]);
      const end = buffered.indexOf('\r\n\r\n');
      if (end < 0) return;
      socket.off('data', onData);
      const text = buffered.subarray(0, end).toString('latin1');
      buffered = buffered.subarray(end + 4);
      resolve(text);
    };
    socket.on('data', onData);
    socket.once('error', reject);
  });
  const status = Number(/^HTTP\/1\.1 (\d+)/.exec(head)?.[1]);
  if (status === 101) {
    const accept = createHash('sha1').update(key + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest('base64');
    expect(head.toLowerCase()).to.include(`sec-websocket-accept: ${accept.toLowerCase()}`);
  }
  const pump = (chunk: Buffer): void => {
    const { frames, rest } = readFrames(Buffer.concat([buffered, chunk]));
    buffered = rest;
    for (const { payload } of frames) {
      const waiter = waiters.shift();
      if (waiter) waiter(payload.toString());
      else messages.push(payload.toString());
    }
  };
  socket.on('data', pump);
  pump(Buffer.alloc(0));
  return {
    socket,
    status,
    headers: head,
    next: () => new Promise<string>((resolve) => {
      const ready = messages.shift();
      if (ready !== undefined) resolve(ready);
      else waiters.push(resolve);
    }),
  };
}

describe('e2e: WebSockets through /upstream', function () {
  afterEach(async function () {
    await cleanup();
    await assertNoChildren();
  });

  it('loads the model, passes the handshake and frames both ways, and holds the model while open', async function () {
    const h = await openGateway(await configYaml({ comfy: { cmd: genericCmd('comfy') } }));
    const { port } = await serve(h.gateway);
    const ws = await openWs(port, '/upstream/comfy/ws?clientId=7');
    expect(ws.status).to.equal(101);
    expect(await ws.next()).to.equal('hello comfy');
    ws.socket.write(clientFrame('ping'));
    expect(await ws.next()).to.equal('echo:ping');
    expect(h.gateway.manager.process('comfy').inFlight, 'an open WebSocket counts as in flight').to.equal(1);
    ws.socket.write(Buffer.concat([Buffer.from([0x88, 0x80]), randomBytes(4)]));
    await pollUntil(() => h.gateway.manager.process('comfy').inFlight === 0, { what: 'the lease released after close' });
  });

  it('compat.ignoreWebsockets: refused while the model is not loaded, and never counted as use', async function () {
    const h = await openGateway(await configYaml({ comfy: { cmd: genericCmd('comfy'), compat: { ignoreWebsockets: true } } }));
    const { port } = await serve(h.gateway);
    const refused = await openWs(port, '/upstream/comfy/ws');
    expect(refused.status).to.equal(503);
    expect(h.gateway.manager.state('comfy'), 'the WebSocket did not load it').to.equal('stopped');
    await h.gateway.manager.load('comfy');
    const ws = await openWs(port, '/upstream/comfy/ws');
    expect(ws.status).to.equal(101);
    expect(await ws.next()).to.equal('hello comfy');
    expect(h.gateway.manager.process('comfy').inFlight).to.equal(0);
    ws.socket.destroy();
  });

  it('the API key and the lifecycle block apply to upgrades too', async function () {
    const h = await openGateway(await configYaml({ comfy: { cmd: genericCmd('comfy') } }, { apiKeys: ['k1'] }));
    const { port } = await serve(h.gateway);
    expect((await openWs(port, '/upstream/comfy/ws')).status).to.equal(401);
    expect((await openWs(port, '/upstream/comfy/%73leep', { Authorization: 'Bearer k1' })).status).to.equal(403);
    expect((await openWs(port, '/v1/chat/completions', { Authorization: 'Bearer k1' })).status).to.equal(404);
    const ws = await openWs(port, '/upstream/comfy/ws', { Authorization: 'Bearer k1' });
    expect(ws.status).to.equal(101);
    ws.socket.destroy();
  });

  it('/upstream/<model> without the slash: the redirect plain requests get (301, query kept), the model not loaded', async function () {
    const h = await openGateway(await configYaml({ comfy: { cmd: genericCmd('comfy') } }));
    const { port } = await serve(h.gateway);
    const ws = await openWs(port, '/upstream/comfy?clientId=7');
    expect(ws.status).to.equal(301);
    expect(ws.headers).to.match(/\r\nLocation: \/upstream\/comfy\/\?clientId=7(\r\n|$)/);
    expect(h.gateway.manager.state('comfy')).to.equal('stopped');
  });

  it('upstream.ignorePaths is matched against the decoded path, as for plain requests (409, the model not loaded)', async function () {
    const h = await openGateway(await configYaml({ comfy: { cmd: genericCmd('comfy') } }, { upstream: { ignorePaths: ['^/ws$'] } }));
    const { port } = await serve(h.gateway);
    expect((await openWs(port, '/upstream/comfy/%77s')).status).to.equal(409);
    expect((await openWs(port, '/upstream/comfy/ws')).status).to.equal(409);
    expect(h.gateway.manager.state('comfy'), 'no upgrade loaded it').to.equal('stopped');
    await h.gateway.manager.load('comfy');
    const ws = await openWs(port, '/upstream/comfy/ws');
    expect(ws.status, 'passed once the model is ready').to.equal(101);
    expect(await ws.next()).to.equal('hello comfy');
    ws.socket.destroy();
  });

  describe('pins and peers (the handler given the gateway’s pins and peers)', function () {
    /** A peer that answers WebSocket upgrades as the fake upstream does (`hello <model>`, under an optional `/prefix`) and records each upgrade's URL and headers. */
    async function startWebSocketPeer(model: string): Promise<{ url: string; upgrades: { url: string; headers: IncomingHttpHeaders }[] }> {
      const upgrades: { url: string; headers: IncomingHttpHeaders }[] = [];
      const server = createServer((_req, res) => res.writeHead(404).end());
      const sockets = new Set<import('node:stream').Duplex>();
      server.on('upgrade', (req, socket) => {
        upgrades.push({ url: req.url ?? '', headers: req.headers });
        sockets.add(socket);
        req.url = (req.url ?? '').replace(/^\/prefix/, ''); // the fake answers /ws only
        fakeWebSocket(req, socket, model);
      });
      track({
        close: () => {
          for (const socket of sockets) socket.destroy();
          return Promise.resolve();
        },
      });
      return { url: await listenOnLoopback(server), upgrades };
    }

    function peer(id: string, proxy: string, models: readonly string[], apiKey = ''): PeerConfig {
      return { id, proxy, apiKey, models, filters: { stripParams: [], setParams: {}, setParamsByID: {} }, timeouts: MODEL_TIMEOUTS };
    }

    it('a pinned name reaches its target and an empty pin is a 404; a peer’s model goes to the peer with its key replacing the client’s', async function () {
      const remote = await startWebSocketPeer('remote-model');
      const h = await openGateway(await configYaml({ comfy: { cmd: genericCmd('comfy') } }, { apiKeys: ['client-key'] }));
      let pins: Record<string, string> | undefined = { ui: 'comfy', off: '' };
      const handleUpgrade = createUpgradeHandler({
        models: h.gateway.manager,
        apiKeys: ['client-key'],
        pins: () => pins,
        peers: { far: peer('far', `${remote.url}/prefix/`, ['remote-model'], 'peer-key') },
        log: silentLogger,
      });
      const { port } = await serve(h.gateway, handleUpgrade);
      const key = { Authorization: 'Bearer client-key', 'X-Api-Key': 'client-key' };

      const pinned = await openWs(port, '/upstream/ui/ws', key);
      expect(pinned.status).to.equal(101);
      expect(await pinned.next()).to.equal('hello comfy');
      pinned.socket.destroy();
      expect((await openWs(port, '/upstream/off/ws', key)).status).to.equal(404);
      pins = undefined;
      expect((await openWs(port, '/upstream/ui/ws', key)).status, 'no profile, no pin').to.equal(404);

      const viaPeer = await openWs(port, '/upstream/far/remote-model/ws?x=1', key);
      expect(viaPeer.status).to.equal(101);
      expect(await viaPeer.next()).to.equal('hello remote-model');
      viaPeer.socket.write(clientFrame('ping'));
      expect(await viaPeer.next()).to.equal('echo:ping');
      viaPeer.socket.destroy();
      expect(remote.upgrades).to.have.length(1);
      const [upgrade] = remote.upgrades;
      expect(upgrade!.url, 'the peer URL’s path, then the rest').to.equal('/prefix/ws?x=1');
      expect(upgrade!.headers.authorization).to.equal('Bearer peer-key');
      expect(upgrade!.headers['x-api-key']).to.equal('peer-key');
      expect(upgrade!.headers.upgrade).to.equal('websocket');
      expect(h.gateway.manager.state('comfy'), 'only the pinned upgrade loaded a local model').to.equal('ready');
    });

    it('the gateway wires them: the active profile’s pins and the configured peers apply to upgrades', async function () {
      const remote = await startWebSocketPeer('remote-model');
      const h = await openGateway(
        await configYaml(
          { comfy: { cmd: genericCmd('comfy') } },
          { profiles: { ui: { pins: { studio: 'comfy' } } }, peers: { far: { proxy: `${remote.url}/prefix/`, models: ['remote-model'], apiKey: 'peer-key' } } },
        ),
      );
      const { port } = await serve(h.gateway);
      expect((await openWs(port, '/upstream/studio/ws')).status, 'no profile active: no pin').to.equal(404);
      await request(h.app).put('/api/profiles/active').send({ name: 'ui' }).expect(200);
      const pinned = await openWs(port, '/upstream/studio/ws');
      expect(pinned.status).to.equal(101);
      expect(await pinned.next()).to.equal('hello comfy');
      pinned.socket.destroy();
      const viaPeer = await openWs(port, '/upstream/far/remote-model/ws');
      expect(viaPeer.status).to.equal(101);
      expect(await viaPeer.next()).to.equal('hello remote-model');
      viaPeer.socket.destroy();
      expect(remote.upgrades.map((upgrade) => upgrade.headers['x-api-key'])).to.deep.equal(['peer-key']);
    });
  });

  it('sends the upstream frame written with frame() (helper sanity)', function () {
    expect(readFrames(frame(Buffer.from('x'))).frames[0]?.payload.toString()).to.equal('x');
  });
});

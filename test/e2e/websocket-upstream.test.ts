/**
 * WebSockets through /upstream/<model>/... (issue 11 defect 11): the upgrade reaches the model
 * server (the fake upstream's /ws echo), loads the model first and holds it while open; llama-swap's
 * compat.ignoreWebsockets makes it neither load nor hold the model.
 */
import { createHash, randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import type { Server } from 'node:http';
import { expect } from 'chai';
import express from 'express';
import { createExpressServer } from '../../lib/http/express-server.js';
import { frame, readFrames } from '../../fake-upstream/websocket.js';
import { assertNoChildren, pollUntil } from '../helpers/wait.js';
import { cleanup, configYaml, genericCmd, openGateway, track } from './support.js';
import type { Gateway } from '../../lib/gateway/create-gateway.js';

async function serve(gateway: Gateway): Promise<{ port: number }> {
  const server: Server = createExpressServer(express().use(gateway.router));
  server.on('upgrade', gateway.handleUpgrade);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  track({
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return { port: address.port };
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

  it('sends the upstream frame written with frame() (helper sanity)', function () {
    expect(readFrames(frame(Buffer.from('x'))).frames[0]?.payload.toString()).to.equal('x');
  });
});

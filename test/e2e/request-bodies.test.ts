/**
 * Request bodies the gateway refuses, with the status that names the client's mistake (issue 11
 * defects 9 and 12): an unsupported Content-Encoding is 415, a body that does not decode as its
 * Content-Encoding says is 400, a malformed percent-encoding in a path is 400; a declared
 * Content-Length over the limit is 413 at once, without reading the body; a body that trickles is
 * cut after bodyTimeoutMs. A gzip body is forwarded inflated, without its Content-Encoding.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { expect } from 'chai';
import express from 'express';
import request from 'supertest';
import { serve } from '../../lib/cli/serve.js';
import { bodyReaders } from '../../lib/gateway/routes.js';
import { createForwarder } from '../../middleware/proxy.js';
import { createErrorHandler } from '../../middleware/error-handler.js';
import { assertNoChildren } from '../helpers/wait.js';
import { chat, cleanup, configYaml, genericCmd, memoryLogger, openGateway, tempDir, track, upstreamCalls, type Harness } from './support.js';

function expectOpenAiError(body: unknown, code: string, status: number, response: { status: number }): string {
  expect(response.status, JSON.stringify(body)).to.equal(status);
  expect(body).to.have.all.keys('error');
  const error = (body as { error: { code: string; message: string; type: string } }).error;
  expect(error).to.include({ code, type: 'invalid_request_error' });
  return error.message;
}

/** Listen on a free loopback port; closed by `cleanup()`. */
async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  track({ close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }) });
  return (server.address() as AddressInfo).port;
}

/**
 * Send `head` (and `firstBytes` of the body) on a raw socket and never the rest; resolve with what
 * came back once the server closed the connection, or reject after `withinMs`.
 */
function rawExchange(port: number, head: string, firstBytes: string, withinMs: number): Promise<{ text: string; ms: number }> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const socket = connect(port, '127.0.0.1');
    let text = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer and no close within ${withinMs} ms (got ${JSON.stringify(text)})`));
    }, withinMs);
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (text += chunk));
    socket.on('error', () => undefined); // a reset after the answer is fine
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ text, ms: Date.now() - started });
    });
    socket.write(head + firstBytes);
  });
}

/** superagent would serialise a Buffer as JSON under a JSON content type: send the bytes as they are. */
const asIs = (body: unknown): string => body as string;

function jsonOf(raw: string): unknown {
  return JSON.parse(raw.slice(raw.indexOf('\r\n\r\n') + 4)) as unknown;
}

describe('e2e: request bodies', function () {
  afterEach(async function () {
    await cleanup();
    await assertNoChildren();
  });

  describe('Content-Encoding and paths', function () {
    let h: Harness;
    beforeEach(async function () {
      h = await openGateway(await configYaml({ echo: { cmd: genericCmd('echo') } }));
    });

    it('415 for an encoding siesta cannot read, 400 for a body that does not decode (br, gzip and deflate on a plain body)', async function () {
      const plain = JSON.stringify(chat('echo'));
      const compress = await request(h.app).post('/v1/chat/completions').set('content-type', 'application/json').set('content-encoding', 'compress').send(plain);
      expectOpenAiError(compress.body, 'unsupported_encoding', 415, compress);
      for (const encoding of ['br', 'gzip', 'deflate']) {
        const response = await request(h.app).post('/v1/chat/completions').set('content-type', 'application/json').set('content-encoding', encoding).send(plain);
        expect(expectOpenAiError(response.body, 'bad_encoding', 400, response)).to.include('Content-Encoding');
      }
      expect(h.gateway.manager.state('echo'), 'no refused request starts the model').to.equal('stopped');
    });

    it('a gzip body is read inflated and reaches the model', async function () {
      const response = await request(h.app).post('/v1/chat/completions').set('content-type', 'application/json').set('content-encoding', 'gzip').serialize(asIs).send(gzipSync(JSON.stringify(chat('echo'))));
      expect(response.status, JSON.stringify(response.body)).to.equal(200);
      const calls = await upstreamCalls(h.gateway, 'echo');
      expect(calls.at(-1)?.model).to.equal('echo');
    });

    it('400 for malformed percent-encoding in an admin path', async function () {
      const response = await request(h.app).get('/api/models/%');
      expectOpenAiError(response.body, 'bad_path', 400, response);
      const upstream = await request(h.app).get('/upstream/%/health');
      expect(upstream.status).to.equal(400);
    });
  });

  it('the forwarded body of an inflated gzip request carries no Content-Encoding and its own length', async function () {
    let seen: { headers: IncomingHttpHeaders; body: string } | undefined;
    const model = createServer((req, res) => {
      let body = '';
      req.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
      req.on('end', () => {
        seen = { headers: req.headers, body };
        res.end('{}');
      });
    });
    const modelPort = await listen(model);
    const forward = createForwarder();
    const { readBody } = bodyReaders({ maxBodyBytes: 1024, maxUploadBytes: 1024 });
    const app = express();
    app.post('/v1/embeddings', readBody, (req, res) => {
      forward(req, res, { url: `http://127.0.0.1:${modelPort}`, timeouts: { connectMs: 0, tlsHandshakeMs: 0, responseHeaderMs: 0, idleMs: 0 }, describe: (reason) => reason }, req.body as Buffer);
    });
    app.use(createErrorHandler({ log: memoryLogger() }));
    const text = JSON.stringify({ model: 'm', input: 'x'.repeat(300) });
    await request(app).post('/v1/embeddings').set('content-type', 'application/json').set('content-encoding', 'gzip').serialize(asIs).send(gzipSync(text)).expect(200);
    expect(seen?.body).to.equal(text);
    expect(seen?.headers['content-encoding'], 'the body went on inflated').to.equal(undefined);
    expect(seen?.headers['content-length']).to.equal(String(Buffer.byteLength(text)));
  });

  it('413 for a declared Content-Length over maxBodySize before the body is sent, and the connection is closed', async function () {
    const h = await openGateway(await configYaml({ echo: { cmd: genericCmd('echo') } }, { maxBodySize: 1024 }));
    const port = await listen(createServer(h.app));
    const head = 'POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 10000000\r\n\r\n';
    const { text } = await rawExchange(port, head, '{"model":"echo",', 5000);
    expect(text).to.match(/^HTTP\/1\.1 413 /);
    expect(text.toLowerCase()).to.include('connection: close');
    expect(jsonOf(text)).to.have.nested.property('error.code', 'body_too_large');
    expect(h.gateway.manager.state('echo')).to.equal('stopped');
  });

  it('a body that trickles is cut with 408 after bodyTimeoutMs (the CLI server)', async function () {
    const dir = await tempDir();
    const configPath = join(dir, 'config.yaml');
    await writeFile(configPath, await configYaml({ echo: { cmd: genericCmd('echo') } }));
    const serving = track(await serve({ configPath, listen: '127.0.0.1:0', logger: memoryLogger(), bodyTimeoutMs: 300 }));
    const port = Number(new URL(serving.url).port);
    const head = 'POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n';
    const { text, ms } = await rawExchange(port, head, '{"model":', 5000);
    expect(text).to.match(/^HTTP\/1\.1 408 /);
    expect(jsonOf(text)).to.nested.include({ 'error.code': 'body_timeout' });
    expect(ms).to.be.within(250, 4000);
    expect(serving.gateway.manager.state('echo')).to.equal('stopped');
  });

  it('serve() bounds request bodies by default (60 s), not by Node\'s 300 s', async function () {
    const dir = await tempDir();
    const configPath = join(dir, 'config.yaml');
    await writeFile(configPath, await configYaml({ echo: { cmd: genericCmd('echo') } }));
    const serving = track(await serve({ configPath, listen: '127.0.0.1:0', logger: memoryLogger() }));
    expect(serving.bodyTimeoutMs).to.equal(60_000);
  });
});

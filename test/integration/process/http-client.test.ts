import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { expect } from 'chai';
import { nodeHttpClient } from '../../../lib/process/http.js';
import { freePort } from '../../helpers/wait.js';
import { startStaleSocketServer } from '../../helpers/stale-socket-server.js';

describe('nodeHttpClient', function () {
  let server: Server;
  let base: string;
  const seen: { method: string; url: string; type: string | undefined; body: string }[] = [];
  let handler: (req: IncomingMessage, res: ServerResponse, body: string) => void;

  before(async function () {
    server = createServer((req, res) => {
      let body = '';
      req.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
      req.on('end', () => {
        seen.push({ method: req.method ?? '', url: req.url ?? '', type: req.headers['content-type'], body });
        handler(req, res, body);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  });

  after(async function () {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  beforeEach(function () {
    seen.length = 0;
    handler = (_req, res) => res.end('{"ok":true}');
  });

  it('returns the status and body without throwing on an HTTP error status', async function () {
    handler = (_req, res) => res.writeHead(503).end('{"error":"Loading model"}');
    expect(await nodeHttpClient.request({ url: `${base}/health`, timeoutMs: 2000 })).to.deep.equal({ status: 503, body: '{"error":"Loading model"}' });
  });

  it('sends a JSON body with its content type and the method asked for', async function () {
    const result = await nodeHttpClient.request({ method: 'POST', url: `${base}/collective_rpc`, json: { method: 'reload_weights' }, timeoutMs: 2000 });
    expect(result.status).to.equal(200);
    expect(seen).to.deep.equal([{ method: 'POST', url: '/collective_rpc', type: 'application/json', body: '{"method":"reload_weights"}' }]);
  });

  it('sends a raw body as given (recipe steps)', async function () {
    await nodeHttpClient.request({ method: 'POST', url: `${base}/sleep?level=2`, body: '{}', timeoutMs: 2000 });
    expect(seen[0]).to.deep.equal({ method: 'POST', url: '/sleep?level=2', type: 'application/json', body: '{}' });
  });

  it('rejects with ECONNREFUSED when nothing listens', async function () {
    const port = await freePort();
    const error = await nodeHttpClient.request({ url: `http://127.0.0.1:${port}/health`, timeoutMs: 2000 }).then(() => null, (caught: unknown) => caught);
    expect((error as { code?: string }).code).to.equal('ECONNREFUSED');
  });

  it('rejects with ETIMEDOUT when the answer does not come in time', async function () {
    handler = () => undefined; // never answers
    const error = await nodeHttpClient.request({ url: `${base}/sleep`, timeoutMs: 50 }).then(() => null, (caught: unknown) => caught);
    expect((error as { code?: string }).code).to.equal('ETIMEDOUT');
    expect((error as Error).message).to.include('no answer within 50 ms');
  });

  it('rejects when its abort signal fires', async function () {
    handler = () => undefined;
    const controller = new AbortController();
    const pending = nodeHttpClient.request({ url: `${base}/wake_up`, timeoutMs: 10_000, signal: controller.signal });
    controller.abort();
    const error = await pending.then(() => null, (caught: unknown) => caught);
    expect((error as Error).name).to.equal('AbortError');
  });

  it('sends a request once more, on a new connection, when the server closed the kept-alive one it went out on', async function () {
    const stale = await startStaleSocketServer();
    try {
      const first = await nodeHttpClient.request({ url: `${stale.url}/a`, timeoutMs: 2000 });
      const second = await nodeHttpClient.request({ method: 'POST', url: `${stale.url}/b`, json: { x: 1 }, timeoutMs: 2000 });
      expect([first.status, second.status]).to.deep.equal([200, 200]);
      expect(stale.connections(), 'the second request was resent on a new connection').to.equal(2);
      expect(stale.answered()).to.equal(2);
    } finally {
      await stale.close();
    }
  });
});

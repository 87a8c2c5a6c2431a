/**
 * `sendError` once the headers are out (issue 11 defect 8): an SSE stream gets a final OpenAI-style
 * error event and `[DONE]`, anything else is cut. The headers are written the way the loading
 * stream and the forwarder write them, `writeHead(status, object)` on a response that had no
 * header set before: Node then keeps them where `getHeader()` cannot read them back.
 */
import { createServer, request, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Response } from 'express';
import { expect } from 'chai';
import { GatewayError } from '../../../lib/errors.js';
import { sendError } from '../../../middleware/error-handler.js';
import { markEventStream } from '../../../lib/http/sse.js';

type Outcome = { status: number; body: string; aborted: boolean };

/** Serve one response with `handle`, fetch it, and report what the client saw. */
async function exchange(handle: (res: ServerResponse) => void): Promise<Outcome> {
  const server: Server = createServer((_req, res) => handle(res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const { port } = server.address() as AddressInfo;
    return await new Promise<Outcome>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path: '/' }, (res) => {
        let body = '';
        let aborted = false;
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('aborted', () => (aborted = true));
        res.on('error', () => (aborted = true));
        res.on('close', () => resolve({ status: res.statusCode ?? 0, body, aborted: aborted || !res.complete }));
      });
      req.on('error', reject);
      req.end();
    });
  } finally {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

/** A bare node:http response seen as Express's (sendError uses only node:http members and `locals`). */
function asExpress(res: ServerResponse): Response {
  return Object.assign(res, { locals: {} }) as unknown as Response;
}

const failure = new GatewayError('start_failed', 'Model "m" could not start: exited with code 1');

describe('sendError after the headers were sent', function () {
  it('an SSE stream marked by its writer ends with the error event, then [DONE]', async function () {
    const outcome = await exchange((raw) => {
      const res = asExpress(raw);
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      markEventStream(res);
      res.write('data: {"progress":1}\n\n');
      sendError(res, failure);
    });
    expect(outcome.status).to.equal(200);
    expect(outcome.aborted, 'the stream ends cleanly').to.equal(false);
    expect(outcome.body).to.equal(`data: {"progress":1}\n\ndata: ${JSON.stringify(failure.toJSON())}\n\ndata: [DONE]\n\n`);
  });

  it('any other response whose headers are out is cut, with no second header', async function () {
    const outcome = await exchange((raw) => {
      const res = asExpress(raw);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"partial":', () => sendError(res, failure));
    });
    expect(outcome.status).to.equal(200);
    expect(outcome.aborted, 'the client sees a broken response').to.equal(true);
    expect(outcome.body).to.not.include('start_failed');
  });

  it('an SSE stream already ended is left alone', async function () {
    const outcome = await exchange((raw) => {
      const res = asExpress(raw);
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      markEventStream(res);
      res.end('data: [DONE]\n\n');
      sendError(res, failure);
    });
    expect(outcome).to.deep.equal({ status: 200, body: 'data: [DONE]\n\n', aborted: false });
  });
});

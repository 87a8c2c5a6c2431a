import type { IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import { expect } from 'chai';
import { isPlainDeclaredBody, readDeclaredBody } from '../../../lib/http/read-declared-body.js';
import type { GatewayError } from '../../../lib/errors.js';

/** A request body as a stream with headers: what readDeclaredBody uses of an IncomingMessage. */
function request(headers: Record<string, string> = {}): Readable & IncomingMessage {
  const stream = new Readable({ read() {} }) as Readable & IncomingMessage;
  Object.assign(stream, { headers });
  return stream;
}

function read(req: IncomingMessage, length: number): Promise<{ error: GatewayError | null; body?: Buffer }> {
  return new Promise((resolve) => readDeclaredBody(req, length, (error, body) => resolve({ error, ...(body ? { body } : {}) })));
}

describe('readDeclaredBody', () => {
  it('joins a body that arrives in several chunks into one buffer', async () => {
    const req = request();
    const reading = read(req, 11);
    req.push(Buffer.from('{"model":'));
    setImmediate(() => {
      req.push(Buffer.from('1}'));
      req.push(null);
    });
    const { error, body } = await reading;
    expect(error).to.equal(null);
    expect(body?.toString()).to.equal('{"model":1}');
    expect(req.listenerCount('data') + req.listenerCount('end') + req.listenerCount('error') + req.listenerCount('close')).to.equal(0);
  });

  it('reads an empty body (Content-Length: 0) as an empty buffer', async () => {
    const req = request();
    const reading = read(req, 0);
    req.push(null);
    const { error, body } = await reading;
    expect(error).to.equal(null);
    expect(body?.length).to.equal(0);
  });

  it('a client that goes away mid-body: client_gone (499), never a partial body', async () => {
    const req = request();
    const reading = read(req, 100);
    req.push(Buffer.from('{"model"'));
    setImmediate(() => req.destroy(new Error('aborted')));
    const { error, body } = await reading;
    expect(error?.code).to.equal('client_gone');
    expect(error?.status).to.equal(499);
    expect(body).to.equal(undefined);
  });

  it('a stream that ends short of its declared length: bad_request naming both sizes', async () => {
    const req = request();
    const reading = read(req, 10);
    req.push(Buffer.from('abc'));
    req.push(null);
    const { error } = await reading;
    expect(error?.code).to.equal('bad_request');
    expect(error?.message).to.include('3 bytes').and.include('(10)');
  });
});

describe('isPlainDeclaredBody', () => {
  it('takes a declared, unencoded, unread body only', () => {
    expect(isPlainDeclaredBody(request({ 'content-length': '5' }), 5)).to.equal(true);
    expect(isPlainDeclaredBody(request(), undefined)).to.equal(false);
    expect(isPlainDeclaredBody(request({ 'content-encoding': 'gzip' }), 5)).to.equal(false);
    expect(isPlainDeclaredBody(request({ 'transfer-encoding': 'chunked' }), 5)).to.equal(false);
    const consumed = request();
    consumed.push(Buffer.from('x'));
    consumed.read();
    expect(isPlainDeclaredBody(consumed, 1)).to.equal(false);
  });
});

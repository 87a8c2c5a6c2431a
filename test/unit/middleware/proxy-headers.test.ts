import { expect } from 'chai';
import { forwardHeaders } from '../../../lib/http/forward-headers.js';

describe('forwardHeaders', function () {
  const cases: [string, Record<string, string | string[]>, Record<string, string | string[]>][] = [
    ['keeps end-to-end headers', { 'content-type': 'application/json', authorization: 'Bearer k', 'x-request-id': '7' }, { 'content-type': 'application/json', authorization: 'Bearer k', 'x-request-id': '7' }],
    ['drops the client hop: connection, keep-alive, proxy-connection, te, trailer, upgrade', { connection: 'close', 'keep-alive': 'timeout=5', 'proxy-connection': 'keep-alive', te: 'trailers', trailer: 'x', upgrade: 'h2c', accept: '*/*' }, { accept: '*/*' }],
    ['drops host and framing, which the forwarder sets itself', { host: 'gateway:8080', 'content-length': '12', 'transfer-encoding': 'chunked', 'content-type': 'text/plain' }, { 'content-type': 'text/plain' }],
    ['drops proxy credentials meant for the gateway hop', { 'proxy-authorization': 'Basic x', accept: 'text/event-stream' }, { accept: 'text/event-stream' }],
    ['keeps repeated headers as arrays', { 'set-cookie': ['a=1', 'b=2'] }, { 'set-cookie': ['a=1', 'b=2'] }],
  ];
  for (const [name, input, expected] of cases) {
    it(name, function () {
      expect(forwardHeaders(input)).to.deep.equal(expected);
    });
  }
});

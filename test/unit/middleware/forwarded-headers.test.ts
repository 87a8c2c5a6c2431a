import { expect } from 'chai';
import { forwardedHeaders, forwardHeaders } from '../../../lib/http/forward-headers.js';
import { trustedProxyCheck } from '../../../lib/http/trusted-proxies.js';

describe('forwarder header rules (RFC 9110 §7.6.1, X-Forwarded-*)', function () {
  describe('forwardHeaders: hop-by-hop', function () {
    const cases: [string, Record<string, string | string[]>, Record<string, string | string[]>][] = [
      ['drops the headers that Connection lists', { connection: 'keep-alive, X-Secret-Hop', 'x-secret-hop': 'token', accept: '*/*' }, { accept: '*/*' }],
      ['Connection lists are case-insensitive and may repeat', { connection: ['Foo', ' bar '], foo: '1', bar: '2', baz: '3' }, { baz: '3' }],
      ['drops Expect (this hop answers 100-continue)', { expect: '100-continue', 'content-type': 'application/json' }, { 'content-type': 'application/json' }],
      ["drops the client's own X-Forwarded-* (forwardedHeaders decides them)", { 'x-forwarded-for': '6.6.6.6', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'evil', accept: 'x' }, { accept: 'x' }],
    ];
    for (const [name, input, expected] of cases) {
      it(name, function () {
        expect(forwardHeaders(input)).to.deep.equal(expected);
      });
    }
  });

  describe('forwardedHeaders', function () {
    const cases: [string, Parameters<typeof forwardedHeaders>[0], Record<string, string>][] = [
      ['an untrusted client: its X-Forwarded-For is replaced by its address', { headers: { 'x-forwarded-for': '6.6.6.6', host: 'gw:8080' }, remoteAddress: '192.0.2.7', encrypted: false, trusted: false }, { 'x-forwarded-for': '192.0.2.7', 'x-forwarded-proto': 'http', 'x-forwarded-host': 'gw:8080' }],
      ['an untrusted client cannot claim https or another host', { headers: { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'bank', host: 'gw' }, remoteAddress: '192.0.2.7', encrypted: false, trusted: false }, { 'x-forwarded-for': '192.0.2.7', 'x-forwarded-proto': 'http', 'x-forwarded-host': 'gw' }],
      ['a trusted proxy: the chain is kept and the proxy appended', { headers: { 'x-forwarded-for': '198.51.100.1', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'api.example', host: 'gw' }, remoteAddress: '10.0.0.2', encrypted: false, trusted: true }, { 'x-forwarded-for': '198.51.100.1, 10.0.0.2', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'api.example' }],
      ['a trusted proxy that sends none: its own values', { headers: { host: 'gw' }, remoteAddress: '10.0.0.2', encrypted: true, trusted: true }, { 'x-forwarded-for': '10.0.0.2', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'gw' }],
      ['IPv4-mapped IPv6 addresses are shown as IPv4', { headers: {}, remoteAddress: '::ffff:127.0.0.1', encrypted: false, trusted: false }, { 'x-forwarded-for': '127.0.0.1', 'x-forwarded-proto': 'http' }],
    ];
    for (const [name, hop, expected] of cases) {
      it(name, function () {
        expect(forwardedHeaders(hop)).to.deep.equal(expected);
      });
    }
  });

  describe('trustedProxyCheck', function () {
    const check = trustedProxyCheck(['127.0.0.1', '10.0.0.0/8', 'fd00::/8']);
    const cases: [string, boolean][] = [
      ['127.0.0.1', true],
      ['::ffff:127.0.0.1', true],
      ['127.0.0.2', false],
      ['10.200.3.4', true],
      ['11.0.0.1', false],
      ['fd12::1', true],
      ['fe80::1', false],
      ['not an address', false],
    ];
    for (const [address, expected] of cases) {
      it(`${address} → ${String(expected)}`, function () {
        expect(check(address)).to.equal(expected);
      });
    }
    it('no entries trusts nobody', function () {
      expect(trustedProxyCheck([])('127.0.0.1')).to.equal(false);
    });
  });
});

/** -listen parsing and the warning for a listener beyond loopback, as tables. */
import { expect } from 'chai';
import { exposureWarning, parseListen, type ListenAddress } from '../../../lib/cli/listen.js';

describe('parseListen', function () {
  const cases: [string | undefined, boolean, ListenAddress][] = [
    [undefined, false, { host: '127.0.0.1', port: 8080 }],
    [undefined, true, { host: '127.0.0.1', port: 8443 }],
    [':8080', false, { host: undefined, port: 8080 }],
    [':9000', true, { host: undefined, port: 9000 }],
    ['0.0.0.0:8080', false, { host: '0.0.0.0', port: 8080 }],
    ['127.0.0.1:0', false, { host: '127.0.0.1', port: 0 }],
    ['localhost:8080', false, { host: 'localhost', port: 8080 }],
    ['[::1]:8080', false, { host: '::1', port: 8080 }],
    ['[::]:8080', false, { host: '::', port: 8080 }],
    ['8081', false, { host: '127.0.0.1', port: 8081 }],
  ];
  for (const [listen, tls, expected] of cases) {
    it(`${listen ?? '(none)'}${tls ? ' with TLS' : ''} → ${expected.host ?? 'every interface'}:${expected.port}`, function () {
      expect(parseListen(listen, { tls })).to.deep.equal(expected);
    });
  }

  for (const bad of ['', 'host', 'host:', ':http', '::1:8080', 'a:70000', '[::1]']) {
    it(`refuses "${bad}"`, function () {
      expect(() => parseListen(bad)).to.throw(/-listen/);
    });
  }
});

describe('exposureWarning', function () {
  const cases: [string, { address: string; apiKeys: number; adminKeys: number }, RegExp | undefined][] = [
    ['loopback IPv4', { address: '127.0.0.1', apiKeys: 0, adminKeys: 0 }, undefined],
    ['loopback IPv6', { address: '::1', apiKeys: 0, adminKeys: 0 }, undefined],
    ['every interface with apiKeys', { address: '::', apiKeys: 1, adminKeys: 0 }, undefined],
    ['every interface (::) without keys', { address: '::', apiKeys: 0, adminKeys: 0 }, /every interface .*refuse clients on other machines/s],
    ['every interface (0.0.0.0) without keys', { address: '0.0.0.0', apiKeys: 0, adminKeys: 0 }, /every interface/],
    ['one address, adminKeys only', { address: '192.168.1.5', apiKeys: 0, adminKeys: 2 }, /listens on 192\.168\.1\.5 .*ask for one of the adminKeys/s],
  ];
  for (const [name, exposure, expected] of cases) {
    it(`${name} → ${expected ? 'warns' : 'nothing'}`, function () {
      const warning = exposureWarning({ ...exposure, port: 8080 });
      if (expected === undefined) {
        expect(warning).to.equal(undefined);
        return;
      }
      expect(warning).to.match(expected);
      expect(warning).to.include('/v1/chat/completions').and.to.include('without a key');
      expect(warning).to.include('set apiKeys').and.to.include('-listen 127.0.0.1:8080');
    });
  }
});

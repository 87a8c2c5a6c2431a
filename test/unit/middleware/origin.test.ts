/**
 * middleware/origin.ts: one origin comparison for CORS and the admin cross-site rule (issue 12).
 * The same variants of an allowed origin (case, the default port, a trailing slash) are let in by
 * both rules, and the same near misses are kept out by both.
 */
import { expect } from 'chai';
import { adminRequestVerdict, type AdminRequestFacts } from '../../../middleware/admin-auth.js';
import { corsDecision } from '../../../middleware/cors.js';
import { normaliseOrigin, originAllowed, originIsHost } from '../../../middleware/origin.js';

describe('origin: one comparison for CORS and admin', function () {
  const normalised: readonly (readonly [string, string])[] = [
    ['https://app.example', 'https://app.example'],
    ['HTTPS://App.Example', 'https://app.example'],
    ['https://app.example/', 'https://app.example'],
    ['https://app.example:443', 'https://app.example'],
    ['http://app.example:80/', 'http://app.example'],
    ['http://app.example:8080', 'http://app.example:8080'],
    ['https://app.example:80', 'https://app.example:80'],
    [' http://127.0.0.1:5173 ', 'http://127.0.0.1:5173'],
    ['http://[::1]:80', 'http://[::1]'],
    ['null', 'null'],
    ['chrome-extension://ABC/', 'chrome-extension://abc'],
    ['https://app.example/path', 'https://app.example/path'],
  ];
  for (const [origin, expected] of normalised) {
    it(`normaliseOrigin(${JSON.stringify(origin)}) → ${expected}`, function () {
      expect(normaliseOrigin(origin)).to.equal(expected);
    });
  }

  const allowed = ['https://ops.example', 'http://127.0.0.1:5173'];
  const admitted: readonly (readonly [string, boolean])[] = [
    ['https://ops.example', true],
    ['HTTPS://OPS.example', true],
    ['https://ops.example/', true],
    ['https://ops.example:443', true],
    ['http://127.0.0.1:5173/', true],
    ['http://ops.example', false],
    ['https://ops.example:8443', false],
    ['https://ops.example.evil', false],
    ['http://127.0.0.1:5174', false],
    ['https://ops.example/path', false],
    ['null', false],
  ];
  const base: AdminRequestFacts = { method: 'POST', changesStateOnGet: false, host: 'gpu-box.lan:8080', origin: undefined, secFetchSite: undefined, keyless: false };
  for (const [origin, expected] of admitted) {
    it(`${origin}: ${expected ? 'allowed' : 'refused'} by CORS and by the admin rule alike`, function () {
      expect(originAllowed(allowed, origin), 'originAllowed').to.equal(expected);
      expect(corsDecision(allowed, { method: 'GET', origin, requestHeaders: undefined }).kind, 'CORS').to.equal(expected ? 'pass' : 'strip');
      expect(adminRequestVerdict({ ...base, origin }, [], allowed), 'admin').to.equal(expected ? 'allow' : 'cross-site');
    });
  }

  it('a * in the admin list allows no origin (CORS "*" means something else)', function () {
    expect(adminRequestVerdict({ ...base, origin: 'https://evil.example' }, [], ['*'])).to.equal('cross-site');
  });

  const ownHost: readonly (readonly [string, string | undefined, boolean])[] = [
    ['http://127.0.0.1:8080', '127.0.0.1:8080', true],
    ['HTTP://LOCALHOST:8080/', 'localhost:8080', true],
    ['http://localhost', 'localhost:80', true],
    ['https://gpu-box.lan', 'GPU-box.lan:443', true],
    ['http://[::1]:8080', '[::1]:8080', true],
    ['http://localhost:8081', 'localhost:8080', false],
    ['https://localhost', 'localhost:80', false],
    ['http://evil.example', 'localhost', false],
    ['http://localhost', undefined, false],
    ['null', 'localhost', false],
    ['chrome-extension://localhost', 'localhost', false],
  ];
  for (const [origin, host, expected] of ownHost) {
    it(`originIsHost(${origin}, ${String(host)}) → ${expected}, and the admin rule agrees`, function () {
      expect(originIsHost(origin, host)).to.equal(expected);
      expect(adminRequestVerdict({ ...base, host, origin }, [], [])).to.equal(expected ? 'allow' : 'cross-site');
    });
  }
});

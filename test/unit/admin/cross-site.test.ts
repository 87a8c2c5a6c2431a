import { expect } from 'chai';
import express from 'express';
import request from 'supertest';
import { adminRequestVerdict, createAdminAuthMiddleware, type AdminRequestFacts } from '../../../middleware/admin-auth.js';
import { createErrorHandler } from '../../../middleware/error-handler.js';

// Issue 11 defects 5 and 6: admin actions refuse cross-site requests, keyless admin access refuses foreign Host names.
describe('admin: cross-site and DNS-rebinding rules', function () {
  const base: AdminRequestFacts = { method: 'POST', changesStateOnGet: false, host: '127.0.0.1:8080', origin: undefined, secFetchSite: undefined, keyless: true };
  const cases: [string, Partial<AdminRequestFacts>, string[], string[], string][] = [
    ['curl (no Origin) on a loopback Host', {}, [], [], 'allow'],
    ['the status page itself (same origin)', { origin: 'http://127.0.0.1:8080', secFetchSite: 'same-origin' }, [], [], 'allow'],
    ['a page of another site, text/plain form post', { origin: 'http://evil.example' }, [], [], 'cross-site'],
    ['Sec-Fetch-Site: cross-site without Origin', { secFetchSite: 'cross-site' }, [], [], 'cross-site'],
    ['an opaque origin (sandboxed frame, file://)', { origin: 'null' }, [], [], 'cross-site'],
    ['an allowed origin (cors.origins)', { origin: 'https://ops.example' }, [], ['https://ops.example'], 'allow'],
    ['a GET that only reads, from anywhere', { method: 'GET', origin: 'http://evil.example', secFetchSite: 'cross-site' }, [], [], 'allow'],
    ['GET /unload from another site', { method: 'GET', changesStateOnGet: true, origin: 'http://evil.example' }, [], [], 'cross-site'],
    ['DNS rebinding: keyless, foreign Host', { method: 'GET', host: 'rebind.evil.example:8080' }, [], [], 'foreign-host'],
    ['keyless, localhost', { method: 'GET', host: 'localhost:8080' }, [], [], 'allow'],
    ['keyless, a *.localhost name', { method: 'GET', host: 'siesta.localhost' }, [], [], 'allow'],
    ['keyless, [::1]', { method: 'GET', host: '[::1]:8080' }, [], [], 'allow'],
    ['keyless, a name listed in allowedHosts', { method: 'GET', host: 'gpu-box.lan:8080' }, ['gpu-box.lan'], [], 'allow'],
    ['keyless, no Host at all', { method: 'GET', host: undefined }, [], [], 'foreign-host'],
    ['with keys, any Host (the key protects it)', { method: 'GET', host: 'gpu-box.lan', keyless: false }, [], [], 'allow'],
    ['with keys, still no cross-site state changes', { host: 'gpu-box.lan', keyless: false, origin: 'http://evil.example' }, [], [], 'cross-site'],
  ];
  for (const [name, facts, hosts, origins, expected] of cases) {
    it(`${name} → ${expected}`, function () {
      expect(adminRequestVerdict({ ...base, ...facts }, hosts, origins)).to.equal(expected);
    });
  }

  describe('the middleware', function () {
    const app = express();
    app.use(createAdminAuthMiddleware({ adminKeys: [], apiKeys: [] }), (_req, res) => {
      res.json({ ok: true });
    });
    app.use(createErrorHandler({ log: { debug() {}, info() {}, warn() {}, error() {} } }));
    it('a cross-site unload with Content-Type text/plain is refused with 403', async function () {
      const response = await request(app).post('/api/models/m/unload').set('Origin', 'http://evil.example').set('Content-Type', 'text/plain').send('x').expect(403);
      expect(response.body.error.code).to.equal('forbidden_origin');
    });
    it('a rebinding Host reading /logs is refused with 403', async function () {
      const response = await request(app).get('/logs').set('Host', 'rebind.evil.example').expect(403);
      expect(response.body.error.code).to.equal('forbidden_host');
    });
    it('a local client on a loopback Host passes', async function () {
      await request(app).post('/api/models/m/unload').expect(200);
    });
  });
});

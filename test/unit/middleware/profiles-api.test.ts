/**
 * GET /api/profiles and PUT /api/profiles/active against llama-swap's handleAPIProfiles and
 * handleAPIActiveProfile (internal/server/apigroup.go) and TestServer_ProfileAPI
 * (profiles_test.go): the listing, activation, deactivation, a 404 for an unknown profile, and the
 * 400 messages llama-swap gives each kind of bad body, as a table.
 */
import { expect } from 'chai';
import express, { type Express } from 'express';
import request from 'supertest';
import type { GatewayConfig } from '../../../lib/config/types.js';
import { loadConfigText } from '../../../lib/config/index.js';
import { ProfileSwitch } from '../../../lib/gateway/name-router.js';
import { createErrorHandler } from '../../../middleware/error-handler.js';
import { createProfilesApi, profileNameOf } from '../../../middleware/profiles-api.js';

const silent = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

// llama-swap's profileTestConfig, plus a second profile written before the first (ids are listed sorted).
const config: GatewayConfig = loadConfigText(
  `
models:
  real:
    cmd: echo \${PORT}
    filters:
      setParamsByID:
        variant:
          thinking: true
  hidden:
    cmd: echo hidden
    proxy: http://localhost:1234
peers:
  remote:
    proxy: http://example.com
    models: [remote-model]
profiles:
  zeta:
    pins:
      z: real
  coding:
    description: Coding profile
    pins:
      public: variant
      disabled: ~
      real: hidden
      expose: hidden
      remote-model: hidden
`,
  { env: {}, baseDir: '/srv/siesta' },
).config;

function harness(): { app: Express; profiles: ProfileSwitch; logged: { message: string; fields?: Record<string, unknown> }[] } {
  const profiles = new ProfileSwitch();
  const logged: { message: string; fields?: Record<string, unknown> }[] = [];
  const log = { ...silent, info: (message: string, fields?: Record<string, unknown>) => logged.push({ message, ...(fields ? { fields } : {}) }) };
  const app = express();
  app.use('/api', createProfilesApi({ config, profiles, log }));
  app.use(createErrorHandler({ log: silent }));
  return { app, profiles, logged };
}

describe('profiles-api: GET /api/profiles, PUT /api/profiles/active', function () {
  it('GET lists every profile, ids sorted, with description and pins (an empty pin as ""), active null', async function () {
    const { app } = harness();
    const response = await request(app).get('/api/profiles').expect(200).expect('content-type', /application\/json/);
    expect(response.body).to.deep.equal({
      active: null,
      profiles: [
        { id: 'coding', description: 'Coding profile', pins: { public: 'variant', disabled: '', real: 'hidden', expose: 'hidden', 'remote-model': 'hidden' } },
        { id: 'zeta', description: '', pins: { z: 'real' } },
      ],
    });
  });

  it('TestServer_ProfileAPI: activate, an unknown name is a 404 that keeps it, null deactivates', async function () {
    const { app, profiles, logged } = harness();
    expect((await request(app).put('/api/profiles/active').send({ name: 'coding' }).expect(200)).body).to.deep.equal({ active: 'coding' });
    expect(profiles.active).to.equal('coding');
    expect((await request(app).get('/api/profiles').expect(200)).body.active).to.equal('coding');
    expect(logged).to.deep.equal([{ message: 'active profile changed', fields: { profile: 'coding' } }]);

    const missing = await request(app).put('/api/profiles/active').send({ name: 'missing' }).expect(404);
    expect(missing.body.error.message).to.equal('profile "missing" not found');
    expect(profiles.active).to.equal('coding');

    expect((await request(app).put('/api/profiles/active').send({ name: null }).expect(200)).body).to.deep.equal({ active: null });
    expect(profiles.active).to.equal(null);
  });

  it('"" deactivates too; setting the active profile again answers it and logs nothing', async function () {
    const { app, profiles, logged } = harness();
    await request(app).put('/api/profiles/active').send({ name: 'zeta' }).expect(200);
    await request(app).put('/api/profiles/active').send({ name: 'zeta' }).expect(200, { active: 'zeta' });
    expect(logged).to.have.length(1);
    await request(app).put('/api/profiles/active').send({ name: '' }).expect(200, { active: null });
    expect(profiles.active).to.equal(null);
  });

  it('any content type is read as JSON (llama-swap decodes the body whatever its type)', async function () {
    const { app } = harness();
    await request(app).put('/api/profiles/active').set('content-type', 'text/plain').send('{"name":"coding"}').expect(200, { active: 'coding' });
  });

  describe('bad bodies: 400 with llama-swap’s message, OpenAI-shaped, the active profile kept', function () {
    const cases: [body: string, message: string][] = [
      ['not json', 'invalid profile request'],
      ['', 'invalid profile request'],
      ['[]', 'invalid profile request'],
      ['"coding"', 'invalid profile request'],
      ['5', 'invalid profile request'],
      // Go decodes null into a nil map without error: then the name is missing.
      ['null', 'profile name is required'],
      ['{}', 'profile name is required'],
      ['{"profile":"coding"}', 'profile name is required'],
      ['{"name":5}', 'profile name must be a string or null'],
      ['{"name":true}', 'profile name must be a string or null'],
      ['{"name":["coding"]}', 'profile name must be a string or null'],
      ['{"name":{"id":"coding"}}', 'profile name must be a string or null'],
    ];
    for (const [body, message] of cases) {
      it(`${body === '' ? '(empty)' : body} → ${message}`, async function () {
        const { app, profiles } = harness();
        profiles.set('zeta', config);
        const response = await request(app).put('/api/profiles/active').set('content-type', 'application/json').send(body).expect(400);
        expect(response.body).to.have.nested.property('error.message', message);
        expect(response.body.error.type).to.be.a('string');
        expect(profiles.active).to.equal('zeta');
      });
    }
  });

  describe('profileNameOf (pure, on the body text)', function () {
    const cases: [text: string, expected: string | null | RegExp][] = [
      ['{"name":"coding"}', 'coding'],
      ['{"name":null}', null],
      ['{"name":""}', null],
      ['{"name":"x","extra":1}', 'x'],
      ['[]', /invalid profile request/],
      ['', /invalid profile request/],
      ['{not json', /invalid profile request/],
      ['null', /profile name is required/],
      ['{}', /profile name is required/],
      ['{"name":1}', /must be a string or null/],
    ];
    for (const [text, expected] of cases) {
      it(`${JSON.stringify(text)} → ${String(expected)}`, function () {
        if (expected instanceof RegExp) expect(() => profileNameOf(text)).to.throw(expected);
        else expect(profileNameOf(text)).to.equal(expected);
      });
    }
  });
});

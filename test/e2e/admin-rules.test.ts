/**
 * Issue 11 defect 5: `/unload` (llama-swap's) stops every model, so it follows the admin rule:
 * with adminKeys set, an API key alone is refused.
 */
import { expect } from 'chai';
import request from 'supertest';
import { assertNoChildren, pollUntil } from '../helpers/wait.js';
import { chat, cleanup, configYaml, genericCmd, openGateway } from './support.js';

describe('e2e: lifecycle routes follow the admin rule', function () {
  afterEach(async function () {
    await cleanup();
    await assertNoChildren();
  });

  it('GET /unload with a plain API key is refused when adminKeys are set; the admin key works', async function () {
    const h = await openGateway(await configYaml({ m: { cmd: genericCmd('m') } }, { apiKeys: ['user-key'], adminKeys: ['admin-key'] }));
    await request(h.app).post('/v1/chat/completions').set('Authorization', 'Bearer user-key').send(chat('m')).expect(200);
    const refused = await request(h.app).get('/unload').set('Authorization', 'Bearer user-key').expect(401);
    expect(refused.body.error.code).to.equal('unauthorized');
    expect(h.gateway.manager.state('m'), 'nothing was stopped').to.equal('ready');
    await request(h.app).get('/unload').set('Authorization', 'Bearer admin-key').expect(200);
    await pollUntil(() => h.gateway.manager.state('m') === 'stopped', { what: 'm stopped' });
  });

  it('GET /unload from a page of another site is refused', async function () {
    const h = await openGateway(await configYaml({ m: { cmd: genericCmd('m') } }));
    await request(h.app).post('/v1/chat/completions').send(chat('m')).expect(200);
    const refused = await request(h.app).get('/unload').set('Origin', 'http://evil.example').set('Sec-Fetch-Site', 'cross-site').expect(403);
    expect(refused.body.error.code).to.equal('forbidden_origin');
    expect(h.gateway.manager.state('m')).to.equal('ready');
  });
});

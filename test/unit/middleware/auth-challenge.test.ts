/**
 * A 401 of the API keys carries `WWW-Authenticate: Basic`, as llama-swap's CreateAuthMiddleware
 * (auth_test.go "invalid key": the header is present), and keeps siesta's OpenAI error body.
 */
import { expect } from 'chai';
import express from 'express';
import request from 'supertest';
import { silentLogger } from '../../../lib/logger.js';
import { API_CHALLENGE, createAuthMiddleware } from '../../../middleware/auth.js';
import { createErrorHandler } from '../../../middleware/error-handler.js';

function app(keys: readonly string[]) {
  const server = express();
  server.use(createAuthMiddleware({ keys }));
  server.get('/v1/models', function ok(_req, res) {
    res.json({ ok: true });
  });
  server.use(createErrorHandler({ log: silentLogger }));
  return server;
}

describe('auth: WWW-Authenticate on 401', function () {
  it('a missing or wrong key: 401, Basic challenge, OpenAI error body', async function () {
    for (const header of [undefined, 'Bearer wrong', `Basic ${Buffer.from('user:wrong').toString('base64')}`]) {
      const call = request(app(['secret'])).get('/v1/models');
      const response = await (header ? call.set('Authorization', header) : call).expect(401);
      expect(response.headers['www-authenticate'], String(header)).to.equal(API_CHALLENGE);
      expect(API_CHALLENGE).to.match(/^Basic realm="[^"]+"/);
      expect(response.body).to.deep.equal({ error: { message: 'Invalid or missing API key', type: 'authentication_error', code: 'unauthorized' } });
    }
  });

  it('a right key, or no keys configured: passed on, no challenge', async function () {
    const ok = await request(app(['secret'])).get('/v1/models').set('Authorization', 'Bearer secret').expect(200);
    expect(ok.headers['www-authenticate']).to.equal(undefined);
    await request(app(['secret'])).get('/v1/models').set('Authorization', `Basic ${Buffer.from('any:secret').toString('base64')}`).expect(200);
    await request(app([])).get('/v1/models').expect(200);
  });
});

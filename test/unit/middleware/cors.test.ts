/**
 * CORS as llama-swap (internal/server/auth.go, auth_test.go, server_test.go
 * `TestServer_CORSPreflight`) plus `cors.origins`: the decision as a table, the sanitiser with
 * llama-swap's own cases, and the middleware in front of routes that set CORS headers themselves.
 */
import { expect } from 'chai';
import express from 'express';
import request from 'supertest';
import { silentLogger } from '../../../lib/logger.js';
import { GatewayError } from '../../../lib/errors.js';
import { createErrorHandler } from '../../../middleware/error-handler.js';
import { originAllowed } from '../../../middleware/origin.js';
import { corsDecision, createCorsMiddleware, sanitizeRequestHeaders, type CorsDecision, type CorsRequest } from '../../../middleware/cors.js';

const METHODS = 'GET, POST, PUT, PATCH, DELETE, OPTIONS';
const DEFAULT_HEADERS = 'Content-Type, Authorization, Accept, X-Requested-With';
const ANY = ['*'] as const;
const LIST = ['https://app.example', 'http://127.0.0.1:5173/'] as const;

describe('cors', function () {
  it("sanitizeRequestHeaders: llama-swap's cases (auth_test.go) and token characters", function () {
    const table: readonly (readonly [string, string])[] = [
      ['Content-Type, Authorization', 'Content-Type, Authorization'],
      ['  X-Custom ,  Accept ', 'X-Custom, Accept'],
      ['Valid, Bad Header', 'Valid'],
      ['Bad@Header', ''],
      ['', ''],
      ["abcXYZ0129!#$%&'*+-.^_`|~", "abcXYZ0129!#$%&'*+-.^_`|~"],
      ['a(b, c/d, e"f, g\th, ok', 'ok'],
      [',,authorization,,', 'authorization'],
    ];
    for (const [input, expected] of table) expect(sanitizeRequestHeaders(input), JSON.stringify(input)).to.equal(expected);
  });

  it('originAllowed: exact origins, case and a trailing slash aside; * allows all', function () {
    expect(originAllowed(LIST, 'https://app.example')).to.equal(true);
    expect(originAllowed(LIST, 'HTTPS://App.Example')).to.equal(true);
    expect(originAllowed(LIST, 'http://127.0.0.1:5173')).to.equal(true);
    expect(originAllowed(LIST, 'http://127.0.0.1:5174')).to.equal(false);
    expect(originAllowed(LIST, 'https://app.example.evil')).to.equal(false);
    expect(originAllowed(LIST, 'null')).to.equal(false);
    expect(originAllowed(['https://a.example', '*'], 'https://b.example')).to.equal(true);
  });

  it('corsDecision as a table', function () {
    const preflight = (origin: string, headers = DEFAULT_HEADERS, extra: Record<string, string> = {}): CorsDecision => ({
      kind: 'preflight',
      headers: { 'Access-Control-Allow-Origin': origin, 'Access-Control-Allow-Methods': METHODS, 'Access-Control-Allow-Headers': headers, 'Access-Control-Max-Age': '86400', ...extra },
    });
    const echo = (origin: string): CorsDecision => ({ kind: 'pass', headers: { 'Access-Control-Allow-Origin': origin, Vary: 'Origin' } });
    const req = (method: string, origin?: string, requestHeaders?: string): CorsRequest => ({ method, origin, requestHeaders });
    const table: readonly (readonly [string, readonly string[], CorsRequest, CorsDecision])[] = [
      // llama-swap: every OPTIONS is a preflight answered with *, with or without an Origin.
      ['any: preflight without origin', ANY, req('OPTIONS'), preflight('*')],
      ['any: preflight', ANY, req('OPTIONS', 'http://x.example'), preflight('*')],
      ['any: requested headers sanitised', ANY, req('OPTIONS', 'http://x.example', 'authorization, content-type, bad header'), preflight('*', 'authorization, content-type')],
      ['any: requested headers all invalid → empty list, as llama-swap', ANY, req('OPTIONS', 'http://x.example', 'Bad@Header'), preflight('*', '')],
      ['any: empty request headers → the default list', ANY, req('OPTIONS', 'http://x.example', ''), preflight('*')],
      ['any: GET with origin is echoed', ANY, req('GET', 'http://x.example'), echo('http://x.example')],
      ['any: POST with origin "null" (a file: page) is echoed', ANY, req('POST', 'null'), echo('null')],
      ['any: no origin, nothing', ANY, req('POST'), { kind: 'pass', headers: {} }],
      ['any: empty origin header, nothing', ANY, req('POST', ''), { kind: 'pass', headers: {} }],
      ['list: allowed preflight echoes the origin', LIST, req('OPTIONS', 'https://app.example', 'authorization'), preflight('https://app.example', 'authorization', { Vary: 'Origin' })],
      ['list: disallowed preflight gets no allow header', LIST, req('OPTIONS', 'https://evil.example', 'authorization'), { kind: 'preflight', headers: { Vary: 'Origin' } }],
      ['list: preflight without origin gets no allow header', LIST, req('OPTIONS'), { kind: 'preflight', headers: { Vary: 'Origin' } }],
      ['list: allowed GET is echoed as sent', LIST, req('GET', 'HTTP://127.0.0.1:5173'), echo('HTTP://127.0.0.1:5173')],
      ['list: disallowed POST: strip', LIST, req('POST', 'https://evil.example'), { kind: 'strip', headers: { Vary: 'Origin' } }],
      ['list: no origin: pass, varying', LIST, req('GET'), { kind: 'pass', headers: { Vary: 'Origin' } }],
    ];
    for (const [name, origins, request, expected] of table) expect(corsDecision(origins, request), name).to.deep.equal(expected);
  });

  it('createCorsMiddleware refuses an empty list and says what to give', function () {
    expect(() => createCorsMiddleware({ origins: [] })).to.throw(/origins is empty; give \["\*"\]/);
  });

  function app(origins: readonly string[]) {
    const server = express();
    server.use(createCorsMiddleware({ origins }));
    server.get('/v1/models', function echoingList(req, res) {
      // As the model list (llama-swap's): echoes any Origin itself.
      const origin = req.get('origin');
      if (origin) res.set('Access-Control-Allow-Origin', origin);
      res.json({ object: 'list', data: [] });
    });
    server.post('/proxied', function proxiedAnswer(_req, res) {
      // As the proxy: the model server's headers handed to writeHead (vLLM answers *).
      res.writeHead(200, { 'content-type': 'application/json', 'access-control-allow-origin': '*', 'Access-Control-Expose-Headers': 'x-request-id' });
      res.end('{}');
    });
    server.post('/raw-array', function rawArrayAnswer(_req, res) {
      res.writeHead(200, ['Content-Type', 'text/plain', 'Access-Control-Allow-Origin', '*']);
      res.end('ok');
    });
    server.post('/denied', function denied(_req, _res, next) {
      next(new GatewayError('unauthorized', undefined, { headers: { 'WWW-Authenticate': 'Basic realm="siesta"' } }));
    });
    server.use(createErrorHandler({ log: silentLogger }));
    return server;
  }

  it("a preflight is answered with 204 before any route, as llama-swap's TestServer_CORSPreflight", async function () {
    const response = await request(app(ANY)).options('/v1/chat/completions').expect(204);
    expect(response.headers['access-control-allow-origin']).to.equal('*');
    expect(response.headers['access-control-allow-methods']).to.equal(METHODS);
    expect(response.headers['access-control-allow-headers']).to.equal(DEFAULT_HEADERS);
    expect(response.headers['access-control-max-age']).to.equal('86400');
    expect(response.text).to.equal('');
  });

  it('an allowed origin reads every response, errors included', async function () {
    const origin = 'https://app.example';
    const denied = await request(app(LIST)).post('/denied').set('Origin', origin).expect(401);
    expect(denied.headers['access-control-allow-origin']).to.equal(origin);
    expect(denied.headers['vary']).to.equal('Origin');
    expect(denied.headers['www-authenticate']).to.equal('Basic realm="siesta"');
    expect(denied.body.error.code).to.equal('unauthorized');
    const missing = await request(app(ANY)).get('/nowhere').set('Origin', 'http://x.example').expect(404);
    expect(missing.headers['access-control-allow-origin']).to.equal('http://x.example');
  });

  it('a disallowed origin gets no Access-Control-* header, whoever set it (route, setHeader, writeHead object or array)', async function () {
    const evil = 'https://evil.example';
    for (const [what, response] of [
      ['route', await request(app(LIST)).get('/v1/models').set('Origin', evil).expect(200)],
      ['writeHead object', await request(app(LIST)).post('/proxied').set('Origin', evil).expect(200)],
      ['writeHead array', await request(app(LIST)).post('/raw-array').set('Origin', evil).expect(200)],
      ['preflight', await request(app(LIST)).options('/v1/models').set('Origin', evil).set('Access-Control-Request-Method', 'GET').expect(204)],
    ] as const) {
      expect(Object.keys(response.headers).filter((name) => name.startsWith('access-control-')), what).to.deep.equal([]);
      expect(response.headers['vary']).to.equal('Origin');
    }
    // The body still arrives: only the headers go (the browser then refuses to hand it to the page).
    expect((await request(app(LIST)).post('/raw-array').set('Origin', evil)).text).to.equal('ok');
  });

  it('an allowed origin keeps the headers routes and model servers set', async function () {
    const response = await request(app(LIST)).post('/proxied').set('Origin', 'https://app.example').expect(200);
    expect(response.headers['access-control-allow-origin']).to.equal('*');
    expect(response.headers['access-control-expose-headers']).to.equal('x-request-id');
  });
});

/** The request log reads the model and its wait through the request context's accessor. */
import { expect } from 'chai';
import express, { type Express } from 'express';
import request from 'supertest';
import { RequestJournal } from '../../../lib/gateway/request-journal.js';
import { setRequestContext, type ModelAccess } from '../../../lib/gateway/types.js';
import { createRequestLogMiddleware, type RequestLogEntry } from '../../../middleware/request-log.js';
import { makeModel } from '../../helpers/model-config.js';

const silent = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

function harness(): { app: Express; next: () => Promise<RequestLogEntry> } {
  const waiting: ((entry: RequestLogEntry) => void)[] = [];
  const done: RequestLogEntry[] = [];
  const app = express();
  app.use(createRequestLogMiddleware({ log: silent, journal: new RequestJournal(), onDone: (entry) => (waiting.shift()?.(entry) ?? done.push(entry)) }));
  app.get('/model', function modelRoute(_req, res) {
    setRequestContext(res, {
      model: makeModel({ id: 'm1', cmd: ['true'] }),
      requestedName: 'alias',
      body: undefined,
      stream: false,
      access: { waitedMs: 12.345 } as ModelAccess,
    });
    res.send('ok');
  });
  app.get('/plain', function plainRoute(_req, res) {
    res.send('ok');
  });
  const next = (): Promise<RequestLogEntry> => {
    const entry = done.shift();
    return entry ? Promise.resolve(entry) : new Promise((resolve) => waiting.push(resolve));
  };
  return { app, next };
}

describe('request log', function () {
  it('a model request: the model id and the wait, rounded to 0.01 ms', async function () {
    const { app, next } = harness();
    await request(app).get('/model?x=1').expect(200);
    const entry = await next();
    expect({ ...entry, ms: 0, bytes: 0 }).to.deep.equal({ method: 'GET', path: '/model', model: 'm1', status: 200, bytes: 0, ms: 0, waitMs: 12.35 });
    expect(entry.bytes).to.be.greaterThan(0);
  });

  it('any other request: no model, no wait', async function () {
    const { app, next } = harness();
    await request(app).get('/plain').expect(200);
    const entry = await next();
    expect({ ...entry, ms: 0, bytes: 0 }).to.deep.equal({ method: 'GET', path: '/plain', model: null, status: 200, bytes: 0, ms: 0 });
  });
});

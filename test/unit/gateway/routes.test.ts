/** The model route table: the upstream path rewrite as a table, and the exact chain of each kind of route. */
import { expect } from 'chai';
import type { RequestHandler } from 'express';
import { MODEL_ROUTE_TABLE, modelRouteChain, registerModelRoutes, rewriteUpstreamPath, upstreamPath, type ModelRouteSteps } from '../../../lib/gateway/routes.js';

function step(name: string): RequestHandler {
  const handler: RequestHandler = (_req, _res, next) => next();
  Object.defineProperty(handler, 'name', { value: name });
  return handler;
}
const STEPS: ModelRouteSteps = {
  auth: step('auth'),
  readBody: step('readBody'),
  readUpload: step('readUpload'),
  resolveModel: step('resolveModel'),
  peerProxy: step('peerProxy'),
  concurrencyLimit: step('concurrencyLimit'),
  makeReady: step('makeReady'),
  proxy: step('proxy'),
};
const names = (chain: readonly RequestHandler[]): string[] => chain.map((handler) => handler.name);

describe('model routes', function () {
  it('upstreamPath as a table (llama-swap stripVersionPrefix, stripAudioAPIPrefix)', function () {
    const cases: [string, string][] = [
      ['/v/chat/completions', '/chat/completions'],
      ['/v/messages/count_tokens', '/messages/count_tokens'],
      ['/audioapi/v1/tasks/run', '/v1/tasks/run'],
      ['/v1/chat/completions', '/v1/chat/completions'],
      ['/v', '/v'],
      ['/props', '/props'],
    ];
    for (const [path, expected] of cases) expect(upstreamPath(path), path).to.equal(expected);
  });

  it('the chain of each kind of route, in order', function () {
    const route = (path: string, method: 'GET' | 'POST') => MODEL_ROUTE_TABLE.find((entry) => entry.path === path && entry.method === method)!;
    expect(names(modelRouteChain(route('/v1/chat/completions', 'POST'), STEPS))).to.deep.equal(['auth', 'readBody', 'readUpload', 'resolveModel', 'peerProxy', 'concurrencyLimit', 'makeReady', 'proxy']);
    expect(names(modelRouteChain(route('/v/chat/completions', 'POST'), STEPS))).to.deep.equal(['auth', 'readBody', 'readUpload', 'rewriteUpstreamPath', 'resolveModel', 'peerProxy', 'concurrencyLimit', 'makeReady', 'proxy']);
    expect(names(modelRouteChain(route('/props', 'GET'), STEPS))).to.deep.equal(['auth', 'resolveModel', 'peerProxy', 'concurrencyLimit', 'makeReady', 'proxy']);
  });

  it('registers every entry once, grouped by chain', function () {
    const registered: string[] = [];
    const record = (method: string) => (paths: string[]) => void registered.push(...paths.map((path) => `${method} ${path}`));
    registerModelRoutes({ post: record('POST'), get: record('GET') }, STEPS);
    expect(registered).to.have.members(MODEL_ROUTE_TABLE.map((entry) => `${entry.method} ${entry.path}`));
    expect(registered).to.have.length(MODEL_ROUTE_TABLE.length);
  });

  it('rewriteUpstreamPath keeps the query', function () {
    const req = { url: '/v/chat/completions?a=1&model=x' };
    rewriteUpstreamPath(req as never, {} as never, () => undefined);
    expect(req.url).to.equal('/chat/completions?a=1&model=x');
  });
});

/** The requests waiting for a grant (lib/gateway/waiters.ts): settling, the client going away, moving on. */
import { expect } from 'chai';
import { GatewayError } from '../../../lib/errors.js';
import type { LoadProgress, ModelAccess } from '../../../lib/gateway/types.js';
import { Waiters } from '../../../lib/gateway/waiters.js';

const access: ModelAccess = { lease: { release: () => undefined }, outcome: { action: 'none', ms: 0 }, waitedMs: 0 };

describe('Waiters', function () {
  it('a waiter settles through whoever takes it; it is gone after', async function () {
    const waiters = new Waiters();
    const waiting = waiters.add('r1', 'a', { signal: new AbortController().signal }, () => expect.fail('not cancelled'));
    expect(waiters.has('r1')).to.equal(true);
    const waiter = waiters.take('r1');
    expect(waiter).to.include({ requestId: 'r1', model: 'a', position: null, outcome: null });
    expect(waiters.has('r1')).to.equal(false);
    waiter!.resolve(access);
    expect(await waiting).to.equal(access);
    expect(waiters.take('r1')).to.equal(undefined);
  });

  it('the client going away while waiting: it leaves, onCancel runs, it rejects with client_gone', async function () {
    const waiters = new Waiters();
    const controller = new AbortController();
    let cancelled = 0;
    const waiting = waiters.add('r1', 'a', { signal: controller.signal }, () => cancelled++);
    controller.abort();
    const error = await waiting.then(() => null, (failure: unknown) => failure);
    expect(error).to.be.instanceOf(GatewayError).and.to.include({ code: 'client_gone' });
    expect(cancelled).to.equal(1);
    expect(waiters.has('r1')).to.equal(false);
  });

  it('a signal aborted already: gone at once (the scheduler is never told of it)', async function () {
    const waiters = new Waiters();
    const controller = new AbortController();
    controller.abort();
    let cancelled = 0;
    const waiting = waiters.add('r1', 'a', { signal: controller.signal }, () => cancelled++);
    expect(waiters.has('r1')).to.equal(false);
    expect(cancelled).to.equal(1);
    expect(await waiting.then(() => 'granted', (error: GatewayError) => error.code)).to.equal('client_gone');
  });

  it('an abort after the waiter was taken (granted) changes nothing', async function () {
    const waiters = new Waiters();
    const controller = new AbortController();
    const waiting = waiters.add('r1', 'a', { signal: controller.signal }, () => expect.fail('not cancelled'));
    const waiter = waiters.take('r1')!;
    controller.abort();
    waiter.resolve(access);
    expect(await waiting).to.equal(access);
  });

  it('takeAll empties it; a detached waiter no longer hears its client', async function () {
    const waiters = new Waiters();
    const controller = new AbortController();
    const waiting = waiters.add('r1', 'a', { signal: controller.signal }, () => expect.fail('not cancelled'));
    void waiters.add('r2', 'b', { signal: new AbortController().signal }, () => undefined);
    const all = waiters.takeAll();
    expect(all.map((waiter) => waiter.requestId)).to.deep.equal(['r1', 'r2']);
    expect(waiters.has('r1') || waiters.has('r2')).to.equal(false);
    all[0]!.detach();
    controller.abort();
    all[0]!.reject(new GatewayError('shutting_down'));
    expect(await waiting.then(() => 'granted', (error: GatewayError) => error.code)).to.equal('shutting_down');
  });

  it('tells the waiters of one model their progress, each with its own position', function () {
    const waiters = new Waiters();
    const heard: string[] = [];
    const listen = (id: string) => (progress: LoadProgress): void => void heard.push(`${id} ${progress.state} ${progress.position}`);
    void waiters.add('r1', 'a', { signal: new AbortController().signal, onProgress: listen('r1') }, () => undefined);
    void waiters.add('r2', 'b', { signal: new AbortController().signal, onProgress: listen('r2') }, () => undefined);
    void waiters.add('r3', 'a', { signal: new AbortController().signal }, () => undefined);
    void waiters.add('r4', 'a', { signal: new AbortController().signal, onProgress: listen('r4') }, () => undefined);
    waiters.get('r4')!.position = 2;
    waiters.tell('a', (waiter) => ({ state: 'starting', position: waiter.position }));
    expect(heard).to.deep.equal(['r1 starting null', 'r4 starting 2']);
    expect([...waiters.ofModel('a')].map((waiter) => waiter.requestId)).to.deep.equal(['r1', 'r3', 'r4']);
  });
});

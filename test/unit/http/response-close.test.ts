import { EventEmitter } from 'node:events';
import type { ServerResponse } from 'node:http';
import { expect } from 'chai';
import { onResponseClose } from '../../../lib/http/response-close.js';

/** What onResponseClose uses of a response: `once('close')` and a property of its own. */
const fakeResponse = (): ServerResponse & EventEmitter => new EventEmitter() as ServerResponse & EventEmitter;

describe('onResponseClose', () => {
  it('runs every callback once, in registration order, from one close listener', () => {
    const res = fakeResponse();
    const calls: string[] = [];
    onResponseClose(res, () => calls.push('log'));
    onResponseClose(res, () => calls.push('slot'));
    onResponseClose(res, () => calls.push('lease'));
    expect(res.listenerCount('close')).to.equal(1);
    res.emit('close');
    res.emit('close');
    expect(calls).to.deep.equal(['log', 'slot', 'lease']);
  });

  it('keeps its place among other close listeners: callbacks run where the first was registered', () => {
    const res = fakeResponse();
    const calls: string[] = [];
    onResponseClose(res, () => calls.push('first'));
    res.once('close', () => calls.push('other'));
    onResponseClose(res, () => calls.push('second'));
    res.emit('close');
    expect(calls).to.deep.equal(['first', 'second', 'other']);
  });

  it('runs a callback registered by another callback in the same pass', () => {
    const res = fakeResponse();
    const calls: string[] = [];
    onResponseClose(res, () => {
      calls.push('outer');
      onResponseClose(res, () => calls.push('inner'));
    });
    res.emit('close');
    expect(calls).to.deep.equal(['outer', 'inner']);
  });

  it('never runs a callback registered after the response closed (as a late close listener)', () => {
    const res = fakeResponse();
    const calls: string[] = [];
    onResponseClose(res, () => calls.push('early'));
    res.emit('close');
    onResponseClose(res, () => calls.push('late'));
    res.emit('close');
    expect(calls).to.deep.equal(['early']);
  });

  it('an Express response keeps the list in res.locals, adding no property to the response itself', () => {
    const res = Object.assign(fakeResponse(), { locals: Object.create(null) as Record<PropertyKey, unknown> });
    const keysBefore = Reflect.ownKeys(res).length;
    const calls: string[] = [];
    onResponseClose(res, () => calls.push('a'));
    onResponseClose(res, () => calls.push('b'));
    expect(Reflect.ownKeys(res).length).to.equal(keysBefore);
    expect(Object.getOwnPropertySymbols(res.locals)).to.have.length(1);
    expect(res.listenerCount('close')).to.equal(1);
    res.emit('close');
    expect(calls).to.deep.equal(['a', 'b']);
  });
});

/**
 * One `close` listener per response for the whole request chain.
 *
 * Each step that holds something for the length of a response (the request log's entry, the
 * body deadline, a concurrency slot, the model's lease, the request to the model server) used to
 * add a `close` listener of its own: five listeners, five `once` wrappers and a growing listener
 * array per request, which the profile showed as a visible share of the events code siesta adds
 * above a bare proxy. Callbacks registered here run in registration order when the response
 * closes, from one listener, exactly as separate listeners registered in the same order would.
 * Like a `close` listener, a callback registered after the response closed never runs: a caller
 * that may register that late checks `res.closed` itself.
 */
import type { ServerResponse } from 'node:http';

const CALLBACKS = Symbol('siesta.responseClose');

/** Express's `res.locals` (a dictionary object made for every request) holds the list when there is one. */
type WithLocals = ServerResponse & { locals?: { [CALLBACKS]?: (() => void)[] } };

/**
 * Responses without `res.locals` (a plain node:http server). Not a property on the response: a
 * new property on a ServerResponse grows its property store, which the allocation profile showed
 * as 1.5 KB per request.
 */
const withoutLocals = new WeakMap<ServerResponse, (() => void)[]>();

/** Call `callback` once `res` closes (finished or cut off). */
export function onResponseClose(res: ServerResponse, callback: () => void): void {
  const locals = (res as WithLocals).locals;
  const callbacks = locals ? locals[CALLBACKS] : withoutLocals.get(res);
  if (callbacks !== undefined) {
    callbacks.push(callback);
    return;
  }
  const list = [callback];
  if (locals) locals[CALLBACKS] = list;
  else withoutLocals.set(res, list);
  res.once('close', () => {
    // By index: a callback may register another, which then runs in the same pass.
    for (let index = 0; index < list.length; index += 1) list[index]!();
  });
}

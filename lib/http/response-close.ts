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

type WithCallbacks = ServerResponse & { [CALLBACKS]?: (() => void)[] };

/** Call `callback` once `res` closes (finished or cut off). */
export function onResponseClose(res: ServerResponse, callback: () => void): void {
  const holder = res as WithCallbacks;
  const callbacks = holder[CALLBACKS];
  if (callbacks !== undefined) {
    callbacks.push(callback);
    return;
  }
  const list = [callback];
  holder[CALLBACKS] = list;
  res.once('close', () => {
    // By index: a callback may register another, which then runs in the same pass.
    for (let index = 0; index < list.length; index += 1) list[index]!();
  });
}

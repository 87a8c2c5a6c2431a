/**
 * An HTTP server for an Express app whose requests and responses are born with the app's
 * prototypes.
 *
 * Express moves every request and response onto its own prototypes (`Object.setPrototypeOf` in
 * `app.handle`). V8 pays for that on every property access of the moved objects afterwards: on the
 * reference machine a bare node:http proxy goes from 0.34 to 0.48 ms of CPU per request with only
 * that call added (docs/performance.md has the figures). Here node:http creates them from
 * subclasses whose prototypes Express then finds already in place, so its call changes nothing.
 * Express's own request and response methods stay on the chain, so the app sees no difference.
 *
 * This rewires prototypes behind TypeScript's back (`app.request` is typed as Express's request
 * object, not a class prototype), which house style avoids; the measured gain is the reason.
 *
 * Opt-in: the CLI calls it (lib/cli/serve.ts); an embedding app calls it instead of `app.listen()`
 * if it wants the gain. Only the app it is given changes; importing siesta changes no prototype.
 */
import { createServer, IncomingMessage, ServerResponse, type Server } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { Express } from 'express';

interface Classes {
  readonly Request: typeof IncomingMessage;
  readonly Response: typeof ServerResponse;
}

/** One pair per app: a second server for the same app must not move the first one's prototypes. */
const classesOfApp = new WeakMap<Express, Classes>();

function classesFor(app: Express): Classes {
  let classes = classesOfApp.get(app);
  if (!classes) {
    class ExpressRequest extends IncomingMessage {}
    class ExpressResponse<Request extends IncomingMessage = IncomingMessage> extends ServerResponse<Request> {}
    // Request → app.request → Express's request methods → IncomingMessage (and the same for responses).
    Object.setPrototypeOf(ExpressRequest.prototype, app.request);
    Object.setPrototypeOf(ExpressResponse.prototype, app.response);
    app.request = ExpressRequest.prototype as unknown as Express['request'];
    app.response = ExpressResponse.prototype as unknown as Express['response'];
    classes = { Request: ExpressRequest, Response: ExpressResponse };
    classesOfApp.set(app, classes);
  }
  return classes;
}

export interface TlsFiles {
  /** PEM certificate (chain), as read from `-tls-cert-file`. */
  readonly cert: string | Buffer;
  /** PEM private key, as read from `-tls-key-file`. */
  readonly key: string | Buffer;
}

/** `createExpressServer(app)` serves HTTP; with `{ tls: { cert, key } }` it serves HTTPS (node:https). */
export function createExpressServer(app: Express): Server;
export function createExpressServer(app: Express, options: { readonly tls: TlsFiles }): HttpsServer;
export function createExpressServer(app: Express, options: { readonly tls?: TlsFiles | undefined }): Server | HttpsServer;
export function createExpressServer(app: Express, options: { readonly tls?: TlsFiles | undefined } = {}): Server | HttpsServer {
  const { Request, Response } = classesFor(app);
  const classes = { IncomingMessage: Request, ServerResponse: Response };
  if (options.tls) return createHttpsServer({ ...classes, cert: options.tls.cert, key: options.tls.key }, app);
  return createServer(classes, app);
}

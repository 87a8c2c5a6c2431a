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
 */
import { createServer, IncomingMessage, ServerResponse, type Server } from 'node:http';
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

export function createExpressServer(app: Express): Server {
  const { Request, Response } = classesFor(app);
  return createServer({ IncomingMessage: Request, ServerResponse: Response }, app);
}

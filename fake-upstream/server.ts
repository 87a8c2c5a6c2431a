/**
 * The fake upstream: one node:http server whose behaviour the chosen backend shapes. Built without
 * listening; `start()` listens (for vLLM only once the model is "loaded") and `close()` ends it.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { handleUpgrade } from './websocket.js';
import { createBackend } from './backends/index.js';
import type { Backend, FakeContext } from './context.js';
import { GENERATION_ROUTES, handleGeneration } from './generation.js';
import { writeReply, type Reply } from './http-util.js';
import { ECHO_ROUTES, echoReply } from './echo.js';
import { receive, receivedModel } from './received.js';
import { ModelState } from './model-state.js';
import type { FakeOptions } from './options.js';
import { CallRecorder, type RecordedCall } from './recorder.js';

export interface FakeUpstreamDeps {
  readonly pid: number;
  readonly log: (line: string) => void;
  readonly exit: (code: number, message: string) => void;
}

export interface FakeUpstream {
  readonly context: FakeContext;
  readonly backend: Backend;
  readonly server: Server;
  /** Resolves once the port is bound (for vLLM: once the model is loaded). */
  start(): Promise<void>;
  /** End the start delay now (tests: a long `--start-delay` plus this makes "still loading" deterministic). */
  finishLoading(): void;
  close(): Promise<void>;
}

/** Requests not worth recording: probes and the test hooks. */
const UNRECORDED = new Set(['GET /health', 'GET /v1/models', 'GET /metrics', 'GET /favicon.ico']);

function stateSnapshot(ctx: FakeContext): Record<string, unknown> {
  const { state, options } = ctx;
  return {
    backend: options.backend,
    model: options.model,
    loaded: state.loaded,
    asleep: state.asleep,
    level: state.level,
    inFlight: state.inFlight,
    pid: ctx.pid,
    active: state.active.size,
    served: state.served,
    weightsAsleep: state.weightsAsleep,
    kvCacheAsleep: state.kvCacheAsleep,
    weightsStale: state.weightsStale,
  };
}

function testHook(ctx: FakeContext, method: string, path: string): Reply | undefined {
  if (path === '/__state' && method === 'GET') return { status: 200, body: stateSnapshot(ctx) };
  if (path === '/__calls' && method === 'GET') return { status: 200, body: { calls: ctx.recorder.list() } };
  if (path === '/__calls' && method === 'DELETE') {
    ctx.recorder.clear();
    return { status: 200, body: { calls: [] } };
  }
  return undefined;
}

export function createFakeUpstream(options: FakeOptions, deps: FakeUpstreamDeps): FakeUpstream {
  const context: FakeContext = { options, state: new ModelState(), recorder: new CallRecorder(), ...deps };
  const backend = createBackend(context);
  const { state, log } = context;
  let loadTimer: NodeJS.Timeout | undefined;
  let loadNow: (() => void) | undefined;

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const startedAt = Date.now();
    const method = req.method ?? 'GET';
    const url = new URL(req.url ?? '/', 'http://fake-upstream');
    // --base-path: a server behind a path prefix; anything outside it is not this server's.
    const { basePath } = options;
    if (basePath && url.pathname !== basePath && !url.pathname.startsWith(`${basePath}/`)) {
      log(`${method} ${req.url ?? url.pathname} 404 outside --base-path ${basePath}`);
      return writeReply(res, backend.notFound(url.pathname));
    }
    const path = url.pathname.slice(basePath.length) || '/';
    const key = `${method} ${path}`;
    res.setHeader('x-fake-pid', String(context.pid));
    const controller = new AbortController();
    let call: RecordedCall | undefined;
    res.on('close', () => {
      if (!res.writableFinished) controller.abort();
      if (call) {
        call.endedAt = Date.now();
        call.status = res.headersSent ? res.statusCode : null;
      }
      const outcome = res.writableFinished ? String(res.statusCode) : 'aborted';
      log(`${method} ${req.url ?? path} ${outcome} ${Date.now() - startedAt}ms`);
    });
    const received = await receive(req);
    const body = received.text;

    const hook = testHook(context, method, path);
    if (hook) return writeReply(res, hook);

    const model = receivedModel(received, url.searchParams);
    if (!UNRECORDED.has(key)) {
      call = context.recorder.record({
        kind: GENERATION_ROUTES[key] ? 'generate' : 'lifecycle',
        method,
        path,
        query: url.search.slice(1),
        body,
        bytes: received.bytes,
        sha256: received.sha256,
        ...(model !== undefined ? { model } : {}),
        ...(received.form ? { form: received.form } : {}),
        at: startedAt,
      });
    }

    if (!state.loaded) return writeReply(res, backend.loadingReply());
    if (key === 'GET /health') return writeReply(res, backend.health());
    if (key === 'GET /v1/models') return writeReply(res, { status: 200, body: { object: 'list', data: [backend.modelEntry()] } });
    const generationKind = GENERATION_ROUTES[key];
    if (generationKind) return handleGeneration(context, backend, generationKind, body, res, controller.signal);
    const route = backend.routes[key];
    if (route) {
      return writeReply(res, await route({ method, path, query: url.searchParams, body, signal: controller.signal }));
    }
    if (ECHO_ROUTES.has(key)) return writeReply(res, echoReply({ method, path, query: url.search.slice(1), model, received, served: context.options.model }));
    return writeReply(res, backend.notFound(path));
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (error instanceof Error && error.name === 'AbortError') return;
      log(`error: ${error instanceof Error ? error.stack ?? error.message : String(error)}`);
      writeReply(res, { status: 500, body: { error: { message: 'fake upstream internal error', type: 'server_error', param: null, code: 500 } } });
    });
  });

  server.on('upgrade', (req, socket) => handleUpgrade(req, socket, context.options.model));

  function listen(): Promise<void> {
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port, options.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  }

  function markLoaded(): void {
    state.loaded = true;
    state.changed();
    log(`model ${options.model} ready on ${options.host}:${options.port} (backend ${options.backend})`);
    backend.onIdle();
  }

  /** After the start delay: fail as asked, or become loaded (vLLM binds its port only now). */
  function load(): Promise<void> {
    return new Promise((resolve, reject) => {
      const finish = (): void => {
        if (loadTimer) clearTimeout(loadTimer);
        loadTimer = undefined;
        loadNow = undefined;
        if (options.failStart) {
          deps.exit(1, `error: failed to load model '${options.model}': out of memory (--fail-start)`);
          return;
        }
        const bound = backend.listenBeforeReady ? Promise.resolve() : listen();
        bound.then(markLoaded).then(resolve, reject);
      };
      loadNow = finish;
      loadTimer = setTimeout(finish, options.startDelayMs);
    });
  }

  return {
    context,
    backend,
    server,
    async start() {
      if (!backend.listenBeforeReady) {
        log(`loading model ${options.model} (backend ${options.backend}); port ${options.port} opens once loaded`);
        return load();
      }
      await listen();
      log(`listening on ${options.host}:${options.port} (backend ${options.backend}), loading model ${options.model}`);
      // Loading continues in the background; failures end the process through deps.exit.
      load().catch((error: unknown) => deps.exit(1, `error: ${String(error)}`));
    },
    finishLoading() {
      loadNow?.();
    },
    async close() {
      if (loadTimer) clearTimeout(loadTimer);
      backend.dispose();
      if (!server.listening) return;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    },
  };
}

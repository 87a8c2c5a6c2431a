/**
 * `siesta -config FILE [-config-dir DIR] [-listen ADDR] [-tls-cert-file F -tls-key-file F]
 * [-watch-config]`: build the gateway, listen (HTTP or HTTPS), reload the configuration on SIGHUP
 * and, with -watch-config, when a source changes; stop every child process on SIGINT/SIGTERM.
 */
import type { Server } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import { resolve } from 'node:path';
import express from 'express';
import { createGateway, type Gateway } from '../gateway/create-gateway.js';
import type { Logger } from '../logger.js';
import { createExpressServer, type TlsFiles } from '../http/express-server.js';
import { DEFAULT_BODY_TIMEOUT_MS, DEFAULT_MIN_BODY_BYTES_PER_SECOND, limitBodyTime } from '../http/body-deadline.js';
import { watchSources, type SourcesWatcher } from './config-watch.js';
import { exposureWarning, listenUrl, parseListen } from './listen.js';
import { releaseYoungGeneration } from './young-generation.js';

export { parseListen } from './listen.js';

export interface ServeOptions {
  /** `-config`; at least one of configPath and configDir. */
  readonly configPath?: string;
  /** `-config-dir`: every `*.yml` / `*.yaml` in it, merged after configPath. */
  readonly configDir?: string;
  /** `host:port`, `:port` (every interface) or `port`; default 127.0.0.1:8080 (8443 with TLS). */
  readonly listen?: string;
  /** Serve HTTPS with this certificate and key. */
  readonly tls?: TlsFiles;
  readonly watchConfig?: boolean;
  /** Where the gateway logs (default: winston on stderr, per the config's logLevel/logFormat). */
  readonly logger?: Logger;
  /** fs.watch settle time and stat poll period of -watch-config (tests shorten them). */
  readonly watchSettleMs?: number;
  readonly watchPollIntervalMs?: number;
  /**
   * Time a client has to send a request body (default 60 s), plus a second per 64 KiB it sent, so
   * a slow body is cut (408) instead of holding a connection: lib/http/body-deadline.ts.
   */
  readonly bodyTimeoutMs?: number;
}

export interface Serving {
  readonly gateway: Gateway;
  readonly server: Server | HttpsServer;
  /** A URL this machine reaches the gateway at. */
  readonly url: string;
  /** The bound address (`::` or `0.0.0.0` when listening on every interface). */
  readonly address: string;
  /** Warnings for the operator (a listener beyond loopback without apiKeys). */
  readonly warnings: readonly string[];
  /** The body deadline in force (ServeOptions.bodyTimeoutMs). */
  readonly bodyTimeoutMs: number;
  /**
   * Load the sources again and restart only the changed models (SIGHUP, -watch-config). A broken
   * configuration is logged and the current one keeps serving; never throws.
   */
  reload(reason: string): Promise<void>;
  close(): Promise<void>;
}

export async function serve(options: ServeOptions): Promise<Serving> {
  const { host, port } = parseListen(options.listen, { tls: options.tls !== undefined });
  const configPath = options.configPath === undefined ? undefined : resolve(options.configPath);
  const configDir = options.configDir === undefined ? undefined : resolve(options.configDir);
  const gateway = await createGateway({
    ...(configPath !== undefined ? { configPath } : {}),
    ...(configDir !== undefined ? { configDir } : {}),
    ...(options.logger ? { logger: options.logger } : {}),
  });
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.use(gateway.handler);
  const server = createExpressServer(app, { tls: options.tls });
  server.on('upgrade', gateway.handleUpgrade); // WebSockets through /upstream/<model>/...
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      // No host: every interface, IPv6 and IPv4 (as Go's net.Listen(":8080")).
      const listening = (): void => {
        server.off('error', reject);
        resolve();
      };
      if (host === undefined) server.listen(port, listening);
      else server.listen(port, host, listening);
    });
  } catch (error) {
    await gateway.close();
    throw error;
  }
  server.keepAliveTimeout = 65_000;
  // Request timeouts: headers within headersTimeout (Node's 60 s, checked every 30 s); bodies by
  // the body deadline, which counts only while the gateway reads. Node's requestTimeout (300 s for
  // headers and body together) is off: it would cut an upload that waits for its model to start.
  server.headersTimeout = 60_000;
  server.requestTimeout = 0;
  const bodyTimeoutMs = options.bodyTimeoutMs ?? DEFAULT_BODY_TIMEOUT_MS;
  limitBodyTime(server, {
    bodyTimeoutMs,
    minBytesPerSecond: DEFAULT_MIN_BODY_BYTES_PER_SECOND,
    onTimeout: (req, receivedBytes) => gateway.log.warn('request body too slow: cut', { path: req.url ?? '', receivedBytes, bodyTimeoutMs }),
  });
  const bound = server.address();
  const address = typeof bound === 'object' && bound ? bound.address : (host ?? '::');
  const boundPort = typeof bound === 'object' && bound ? bound.port : port;
  const scheme = options.tls ? 'https' : 'http';
  const wildcard = address === '::' || address === '0.0.0.0';
  const url = listenUrl(scheme, wildcard ? '127.0.0.1' : (host ?? address), boundPort);
  gateway.log.info('listening', { url: listenUrl(scheme, address, boundPort), config: configPath ?? '', configDir: configDir ?? '', models: Object.keys(gateway.config.models).length });
  const exposure = exposureWarning({ address, port: boundPort, apiKeys: gateway.config.apiKeys.length, adminKeys: gateway.config.adminKeys.length });
  await gateway.start();
  releaseYoungGeneration();

  // One reload at a time; a request while one runs makes one more run after it (it may have seen
  // the file half-written), further requests meanwhile are folded into that one.
  let reloading: Promise<void> = Promise.resolve();
  let queued: Promise<void> | undefined;
  const reload = (reason: string): Promise<void> => {
    queued ??= reloading.then(async () => {
      queued = undefined;
      gateway.log.info('reloading configuration', { reason });
      try {
        await gateway.reload();
      } catch (error) {
        gateway.log.error('configuration reload failed; keeping the current one', { error: (error as Error).message });
      }
    });
    reloading = queued;
    return queued;
  };

  let watcher: SourcesWatcher | undefined;
  if (options.watchConfig) {
    watcher = await watchSources({
      ...(configPath !== undefined ? { configPath } : {}),
      ...(configDir !== undefined ? { configDir } : {}),
      onChange: () => void reload('watch-config'),
      onError: (error) => gateway.log.warn('watch-config: cannot watch a directory; polling it', { error: error.message }),
      ...(options.watchSettleMs !== undefined ? { settleMs: options.watchSettleMs } : {}),
      ...(options.watchPollIntervalMs !== undefined ? { pollIntervalMs: options.watchPollIntervalMs } : {}),
    });
  }

  let closing: Promise<void> | undefined;
  return {
    gateway,
    server,
    url,
    address,
    warnings: exposure === undefined ? [] : [exposure],
    bodyTimeoutMs,
    reload,
    close() {
      closing ??= (async () => {
        watcher?.close();
        await reloading;
        // Keep listening while the models drain: /health says 503 stopping (load balancers and
        // Kubernetes stop sending), new model requests get 503, requests in flight finish (up to
        // shutdownTimeout). Then the listener closes.
        await gateway.close({ drainMs: gateway.config.shutdownTimeoutMs });
        const serverClosed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeAllConnections();
        await serverClosed;
      })();
      return closing;
    },
  };
}

/**
 * SIGINT/SIGTERM stop cleanly (a second one exits at once; children are still signalled). SIGHUP
 * reloads the configuration, as -watch-config does on a change, and never stops siesta.
 */
export function stopOnSignals(serving: Serving): void {
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopping) {
      serving.gateway.manager.killAllNow();
      process.exit(130);
    }
    stopping = true;
    serving.gateway.log.info('stopping', { signal });
    serving.close().then(
      () => process.exit(0),
      (error: unknown) => {
        serving.gateway.log.error('error while stopping', { error: (error as Error).message });
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('SIGHUP', () => {
    if (!stopping) void serving.reload('SIGHUP');
  });
  // Whatever ends the process (an uncaught error included), no child outlives it.
  process.on('exit', () => serving.gateway.manager.killAllNow());
}

/**
 * `siesta --config FILE [--listen HOST:PORT] [--watch-config]`: build the gateway, listen, and stop
 * every child process on SIGINT/SIGTERM before exiting.
 */
import { watch, type FSWatcher } from 'node:fs';
import type { Server } from 'node:http';
import { basename, dirname, resolve } from 'node:path';
import express from 'express';
import { createGateway, type Gateway } from '../gateway/create-gateway.js';
import type { Logger } from '../logger.js';
import { createExpressServer } from '../http/express-server.js';
import { releaseYoungGeneration } from './young-generation.js';

export interface ServeOptions {
  readonly configPath: string;
  /** `host:port`, `:port` or `port`; default 127.0.0.1:8080. */
  readonly listen?: string;
  readonly watchConfig?: boolean;
  /** Where the gateway logs (default: winston on stderr, per the config's logLevel/logFormat). */
  readonly logger?: Logger;
}

export interface Serving {
  readonly gateway: Gateway;
  readonly server: Server;
  readonly url: string;
  close(): Promise<void>;
}

export function parseListen(listen: string | undefined): { host: string; port: number } {
  const value = listen ?? '127.0.0.1:8080';
  const match = /^(?:\[?([^\]]*?)\]?:)?(\d+)$/.exec(value);
  if (!match) throw new Error(`--listen ${value}: expected HOST:PORT, :PORT or PORT`);
  const port = Number(match[2]);
  if (port > 65535) throw new Error(`--listen ${value}: port out of range`);
  return { host: match[1] || '127.0.0.1', port };
}

/**
 * Re-read the file a short moment after it stops changing (editors write in several steps).
 * Watches the directory, not the file: a watch on the file follows its inode, so after an atomic
 * replace (write a temporary file, rename it over: vim, sed -i, most deploy tools) every later
 * change would go unseen.
 */
function watchFile(path: string, onChange: () => void): FSWatcher {
  let timer: NodeJS.Timeout | undefined;
  const name = basename(path);
  const watcher = watch(dirname(path), (_event, filename) => {
    if (filename !== null && filename !== name) return;
    clearTimeout(timer);
    timer = setTimeout(onChange, 200);
  });
  watcher.on('close', () => clearTimeout(timer));
  return watcher;
}

export async function serve(options: ServeOptions): Promise<Serving> {
  const { host, port } = parseListen(options.listen);
  const gateway = await createGateway({ configPath: options.configPath, ...(options.logger ? { logger: options.logger } : {}) });
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.use(gateway.router);
  const server = createExpressServer(app);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.keepAliveTimeout = 65_000;
  const address = server.address();
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${typeof address === 'object' && address ? address.port : port}`;
  gateway.log.info('listening', { url, config: options.configPath, models: Object.keys(gateway.config.models).length });
  await gateway.start();
  releaseYoungGeneration();

  let watcher: FSWatcher | undefined;
  if (options.watchConfig) {
    let reloading = Promise.resolve();
    watcher = watchFile(resolve(options.configPath), () => {
      reloading = reloading.then(async () => {
        try {
          await gateway.reload();
        } catch (error) {
          gateway.log.error('configuration reload failed; keeping the current one', { error: (error as Error).message });
        }
      });
    });
  }

  let closing: Promise<void> | undefined;
  return {
    gateway,
    server,
    url,
    close() {
      closing ??= (async () => {
        watcher?.close();
        const serverClosed = new Promise<void>((resolve) => server.close(() => resolve()));
        await gateway.close();
        server.closeAllConnections();
        await serverClosed;
      })();
      return closing;
    },
  };
}

/** Stop cleanly on SIGINT/SIGTERM; a second signal exits at once (children are still signalled). */
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
  // Whatever ends the process (an uncaught error included), no child outlives it.
  process.on('exit', () => serving.gateway.manager.killAllNow());
}

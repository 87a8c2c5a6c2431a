/**
 * Embedding siesta in an existing Express app: the app keeps its own routes and serves the
 * OpenAI-style API under /llm (point clients at http://127.0.0.1:3000/llm/v1).
 *
 *   npx tsx examples/embed-in-express.ts config.example.yaml
 */
import type { Server } from 'node:http';
import { pathToFileURL } from 'node:url';
import express from 'express';
import { createExpressServer, createGateway, type Gateway } from '../lib/index.js'; // in your project: from 'siesta'

export async function createApp(configPath: string): Promise<{ app: express.Express; gateway: Gateway }> {
  const gateway = await createGateway({ configPath });
  const app = express();
  app.get('/hello', (_req, res) => {
    res.json({ hello: 'from the host app' });
  });
  app.use('/llm', gateway.router);
  return { app, gateway };
}

async function main(configPath: string): Promise<void> {
  const { app, gateway } = await createApp(configPath);
  await gateway.start(); // clean up after a crashed run, preload hooks.on_startup.preload
  // Like app.listen(), without Express's per-request prototype switch, which costs about
  // 0.15 ms of CPU per request on a small machine (docs/performance.md).
  const server: Server = createExpressServer(app).listen(3000, '127.0.0.1', () => console.log('listening on http://127.0.0.1:3000 (siesta under /llm)'));
  // WebSockets through /llm/upstream/<model>/... (ComfyUI's /ws, for instance).
  server.on('upgrade', (req, socket, head) => gateway.handleUpgrade(req, socket, head, '/llm'));
  process.once('SIGINT', () => {
    server.close();
    server.closeAllConnections();
    // Stops every model server before the process exits.
    gateway.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  });
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main(process.argv[2] ?? 'config.example.yaml');
}

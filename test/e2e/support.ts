/**
 * Shared harness of the end-to-end tests: YAML configs whose models are the fake upstream (real
 * child processes), gateways built from them and closed after each test, SSE parsing, and the
 * upstream's recorded calls.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import type { IncomingMessage, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Stream } from 'node:stream';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import express, { type Express } from 'express';
import { createGateway, type Gateway, type GatewayOptions } from '../../lib/gateway/create-gateway.js';
import type { Logger } from '../../lib/logger.js';
import { fakeCommand, type Call } from '../helpers/fake-upstream.js';
import { testConfigYaml, type Models } from '../helpers/config-yaml.js';
import { PORT_RANGES } from '../helpers/ports.js';

/** `cmd` of a vLLM-style fake with sleep mode (the vllm plugin sets VLLM_SERVER_DEV_MODE=1). */
export function vllmCmd(model: string, extra: readonly string[] = []): string {
  return fakeCommand(['--port', '${PORT}', '--backend', 'vllm', '--enable-sleep-mode', '--model', model, '--start-delay', '150ms', '--wake-delay', '50ms', ...extra]);
}

/** `cmd` of a generic OpenAI fake (no sleep endpoints). */
export function genericCmd(model: string, extra: readonly string[] = []): string {
  return fakeCommand(['--port', '${PORT}', '--backend', 'generic', '--model', model, '--start-delay', '50ms', ...extra]);
}

const tempDirs: string[] = [];

/** A temporary directory removed by `cleanup()`. */
export async function tempDir(prefix = 'siesta-e2e-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  tempDirs.push(dir);
  return dir;
}

/**
 * YAML text of a config: fresh `startPort`, a temporary `stateDir`, an empty `pluginDir` and a
 * short `healthCheckTimeout`; `global` adds or overrides top-level keys.
 */
export async function configYaml(models: Models, global: Record<string, unknown> = {}): Promise<string> {
  return testConfigYaml(await tempDir(), PORT_RANGES.e2e, models, global);
}

/** A logger that keeps every line (for asserting what the gateway said). */
export function memoryLogger(): Logger & { lines: { level: string; message: string; fields: Record<string, unknown> }[] } {
  const lines: { level: string; message: string; fields: Record<string, unknown> }[] = [];
  const at = (level: string) => (message: string, fields: Record<string, unknown> = {}) => {
    lines.push({ level, message, fields });
  };
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

const open = new Set<{ close(): Promise<void> }>();

export interface Harness {
  readonly gateway: Gateway;
  /** An Express app with the gateway mounted at `/` (hand it to supertest). */
  readonly app: Express;
}

/** Build a gateway from YAML text and mount it in a fresh Express app; closed by `cleanup()`. */
export async function openGateway(configText: string, options: Omit<GatewayOptions, 'configText'> = {}): Promise<Harness> {
  const gateway = await createGateway({ configText, logger: memoryLogger(), loadingTickMs: 50, ...options });
  open.add(gateway);
  const app = express();
  app.use(gateway.router);
  return { gateway, app };
}

/** Listen on a free loopback port and close (cutting open connections) at `cleanup()`; the base URL. */
export async function listenOnLoopback(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  track({
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** Remember anything with `close()` so `cleanup()` closes it. */
export function track<T extends { close(): Promise<void> }>(closable: T): T {
  open.add(closable);
  return closable;
}

/** Close every gateway and server the test opened and remove its temporary directories (afterEach). */
export async function cleanup(): Promise<void> {
  const closing = [...open].map((closable) => closable.close());
  open.clear();
  await Promise.all(closing);
  await Promise.all(tempDirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
}

/** The calls a model's fake upstream recorded (its URL is the model's `proxy`). */
export async function upstreamCalls(gateway: Gateway, model: string): Promise<Call[]> {
  const proxy = gateway.config.models[model]?.proxy;
  if (!proxy) throw new Error(`no model ${model}`);
  const response = await fetch(`${proxy}/__calls`);
  return ((await response.json()) as { calls: Call[] }).calls;
}

/** `METHOD path?query` of each recorded call, for asserting exact sequences. */
export function describeCalls(calls: readonly Call[]): string[] {
  return calls.map((call) => `${call.method} ${call.path}${call.query ? `?${call.query}` : ''}`);
}

/** The `data:` payloads of an SSE body, `[DONE]` kept as a string. */
export function sseEvents(text: string): (Record<string, unknown> | '[DONE]')[] {
  const events: (Record<string, unknown> | '[DONE]')[] = [];
  for (const block of text.split(/\n\n/)) {
    const data = block
      .split('\n')
      .filter((line) => line.startsWith('data:'))
      .map((line) => line.slice(5).trim())
      .join('\n');
    if (!data) continue;
    events.push(data === '[DONE]' ? '[DONE]' : (JSON.parse(data) as Record<string, unknown>));
  }
  return events;
}

/** A chat body. */
export function chat(model: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { model, messages: [{ role: 'user', content: 'hello' }], ...extra };
}

/** supertest parser that keeps the body as text (SSE): `.buffer(true).parse(textParser)`. */
export function textParser(res: Stream & Pick<IncomingMessage, 'setEncoding'>, callback: (error: Error | null, body: string) => void): void {
  let text = '';
  res.setEncoding('utf8');
  res.on('data', (chunk: string) => (text += chunk));
  res.on('end', () => callback(null, text));
}

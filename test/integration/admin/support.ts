/**
 * Harness of the admin tests: gateways built from YAML text whose models are the fake upstream
 * (real child processes), served by a real HTTP server (SSE needs one), an SSE client that records
 * events, and the clean-up every test needs (close gateways and servers, then no child left).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { request, type ClientRequest, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import express, { type Express } from 'express';
import { createGateway, type Gateway, type GatewayOptions } from '../../../lib/gateway/create-gateway.js';
import { silentLogger } from '../../../lib/logger.js';
import { fakeCommand } from '../../helpers/fake-upstream.js';
import { assertNoChildren, pollUntil } from '../../helpers/wait.js';
import { testConfigYaml, type Models } from '../../helpers/config-yaml.js';
import { PORT_RANGES } from '../../helpers/ports.js';

/** A vLLM-style fake with sleep mode and short delays. */
export function vllmCmd(model: string, extra: readonly string[] = []): string {
  return fakeCommand(['--port', '${PORT}', '--backend', 'vllm', '--enable-sleep-mode', '--model', model, '--start-delay', '100ms', '--sleep-delay', '50ms', '--wake-delay', '100ms', ...extra]);
}

/** A generic OpenAI fake: no sleep endpoints, so it cannot sleep. */
export function genericCmd(model: string): string {
  return fakeCommand(['--port', '${PORT}', '--backend', 'generic', '--model', model, '--start-delay', '50ms']);
}

/** Two vLLM-style models that may run together, and one generic model. */
export function threeModels(): Record<string, Record<string, unknown>> {
  return {
    'qwen-small': { name: 'Qwen small', backend: 'vllm', cmd: vllmCmd('qwen-small'), sleep: { level: 1 }, resources: { vram: '6GiB', ram: '1GiB', asleep: { vram: '1GiB', ram: '6GiB' } } },
    'qwen-large': { name: 'Qwen large', backend: 'vllm', cmd: vllmCmd('qwen-large'), sleep: { level: 2 }, resources: { vram: '18GiB' } },
    'tiny-echo': { name: 'Tiny echo', backend: 'generic', cmd: genericCmd('tiny-echo'), aliases: ['echo'] },
  };
}

const tempDirs: string[] = [];



export async function configYaml(models: Models, global: Record<string, unknown> = {}): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'siesta-admin-'));
  tempDirs.push(dir);
  // Every model may run at once unless a test says otherwise.
  return testConfigYaml(dir, PORT_RANGES.admin, models, { groups: { all: { swap: false, exclusive: false, members: Object.keys(models) } }, ...global });
}

export interface Served {
  readonly gateway: Gateway;
  readonly app: Express;
  readonly server: Server;
  /** `http://127.0.0.1:<port>` plus the mount prefix. */
  readonly url: string;
}

const opened: Served[] = [];

/** A gateway mounted at `prefix` of a fresh app, listening on a free loopback port. */
export async function serve(configText: string, options: Omit<GatewayOptions, 'configText'> & { prefix?: string } = {}): Promise<Served> {
  const { prefix = '', ...gatewayOptions } = options;
  const gateway = await createGateway({ configText, logger: silentLogger, defaultMetrics: false, ...gatewayOptions });
  const app = express();
  if (prefix) app.use(prefix, gateway.router);
  else app.use(gateway.router);
  const server = await new Promise<Server>((resolve) => {
    const listening = app.listen(0, '127.0.0.1', () => resolve(listening));
  });
  const served: Served = { gateway, app, server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}${prefix}` };
  opened.push(served);
  return served;
}

/** Close every gateway and server, remove temp dirs, and check that no child process is left. */
export async function cleanup(): Promise<void> {
  for (const served of opened.splice(0)) {
    await served.gateway.close();
    served.server.closeAllConnections();
    await new Promise<void>((resolve) => served.server.close(() => resolve()));
  }
  await Promise.all(tempDirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
  await assertNoChildren();
}

export interface SseEvent {
  readonly event: string;
  readonly data: unknown;
}

/** Parse complete SSE events out of `buffer`; returns the events and the unparsed rest. */
export function parseSse(buffer: string): { events: SseEvent[]; comments: string[]; rest: string } {
  const events: SseEvent[] = [];
  const comments: string[] = [];
  const blocks = buffer.split('\n\n');
  const rest = blocks.pop() ?? '';
  for (const block of blocks) {
    let event = 'message';
    const data: string[] = [];
    for (const line of block.split('\n')) {
      if (line.startsWith(':')) comments.push(line.slice(1).trim());
      else if (line.startsWith('event: ')) event = line.slice(7);
      else if (line.startsWith('data: ')) data.push(line.slice(6));
    }
    if (data.length > 0) events.push({ event, data: JSON.parse(data.join('\n')) as unknown });
  }
  return { events, comments, rest };
}

export interface SseClient {
  readonly response: IncomingMessage;
  readonly request: ClientRequest;
  readonly events: SseEvent[];
  readonly comments: string[];
  /** Resolves when the server ends or cuts the stream. */
  readonly ended: Promise<void>;
  waitFor(predicate: (event: SseEvent) => boolean, what: string, timeoutMs?: number): Promise<SseEvent>;
  close(): void;
}

/** Open `url` as an event stream. */
export function openSse(url: string, headers: Record<string, string> = {}): Promise<SseClient> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers: { accept: 'text/event-stream', ...headers } }, (response) => {
      const events: SseEvent[] = [];
      const comments: string[] = [];
      let buffer = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        const parsed = parseSse(buffer + chunk);
        buffer = parsed.rest;
        events.push(...parsed.events);
        comments.push(...parsed.comments);
      });
      const ended = new Promise<void>((done) => {
        response.once('close', () => done());
        response.once('error', () => done());
      });
      resolve({
        response,
        request: req,
        events,
        comments,
        ended,
        waitFor: (predicate, what, timeoutMs = 10_000) => pollUntil(() => events.find(predicate), { timeoutMs, what }),
        close: () => req.destroy(),
      });
    });
    req.on('error', reject);
    req.end();
  });
}

/** The `from→to` path of the `state` events for `model`. */
export function statePath(events: readonly SseEvent[], model: string): string[] {
  return events
    .filter((event) => event.event === 'state')
    .map((event) => (event.data as { change: { model: string; from: string; to: string } }).change)
    .filter((change) => change.model === model)
    .map((change) => `${change.from}→${change.to}`);
}

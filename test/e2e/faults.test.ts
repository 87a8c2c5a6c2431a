/**
 * The fault-injection table (issue 11, "a reliability suite that stays"). Each row names a fault,
 * what the client must see and the model's state afterwards, and runs it against real fake-upstream
 * processes (fake-upstream/ and its failure switches). A row that fails is a defect: keep it
 * failing until the code is fixed.
 *
 * The soak (`npm run soak`, bench/soak/) covers the same gateway under load; these rows pin each
 * fault on its own. The crash clean-up after a gateway SIGKILL has a longer suite of its own in
 * test/integration/cli/crash-restart.test.ts; its row here is the short version.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { request as httpRequest } from 'node:http';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { expect } from 'chai';
import request from 'supertest';
import { loadGatewayConfig } from '../../lib/gateway/load-config.js';
import { fakeCommand } from '../helpers/fake-upstream.js';
import { assertNoChildren, freePort, isAlive, pollUntil } from '../helpers/wait.js';
import { killStarted, runningPids, startCli, stopCli } from '../integration/cli/support.js';
import { chat, cleanup, configYaml, genericCmd, memoryLogger, openGateway, sseEvents, tempDir, textParser, track, upstreamCalls, vllmCmd, type Harness } from './support.js';

interface Row {
  /** The fault injected. */
  readonly fault: string;
  /** What the client that meets it must see. */
  readonly client: string;
  /** The model's state once the fault has played out. */
  readonly state: string;
  run(): Promise<void>;
}

function expectError(body: unknown, code: string): string {
  const error = (body as { error?: { code?: unknown; message?: unknown } } | null)?.error;
  expect(error, JSON.stringify(body)).to.be.an('object');
  expect(error?.code, JSON.stringify(body)).to.equal(code);
  expect(error?.message).to.be.a('string').and.not.empty;
  return String(error?.message);
}

/** A model `m` alone; `global` adds top-level keys. */
async function one(model: Record<string, unknown>, global: Record<string, unknown> = {}, logger?: ReturnType<typeof memoryLogger>): Promise<Harness> {
  return openGateway(await configYaml({ m: model }, global), logger ? { logger } : {});
}

/** The `detail` of the gateway's `request failed` lines: what admins and the log get beyond the client's short reason. */
function failureDetails(logger: ReturnType<typeof memoryLogger>): string {
  return logger.lines.filter((line) => line.message === 'request failed').map((line) => (typeof line.fields['detail'] === 'string' ? line.fields['detail'] : '')).join('\n');
}

const vllm = (extra: readonly string[] = []): Record<string, unknown> => ({ cmd: vllmCmd('m', extra), backend: 'vllm' });

async function chatOk(harness: Harness): Promise<void> {
  const response = await request(harness.app).post('/v1/chat/completions').send(chat('m'));
  expect(response.status, JSON.stringify(response.body)).to.equal(200);
  expect(response.body.system_fingerprint, 'answered by the model\'s own server').to.equal('fake-m');
}

async function admin(harness: Harness, action: string): Promise<request.Response> {
  return request(harness.app).post(`/api/models/m/${action}`);
}

const pidOf = (harness: Harness): number => {
  const pid = harness.gateway.manager.process('m').pid;
  expect(pid, 'm has a process').to.be.a('number');
  return pid!;
};

async function asleep(harness: Harness): Promise<number> {
  await chatOk(harness);
  const pid = pidOf(harness);
  const slept = await admin(harness, 'sleep');
  expect(slept.status, JSON.stringify(slept.body)).to.equal(200);
  expect(harness.gateway.manager.state('m')).to.equal('asleep');
  return pid;
}

/** A failed or hung sleep: the answer says stopped, the process is gone, the next request cold-starts. */
async function sleepFallsBackToStop(harness: Harness): Promise<void> {
  await chatOk(harness);
  const pid = pidOf(harness);
  const response = await admin(harness, 'sleep');
  expect(response.status, JSON.stringify(response.body)).to.equal(200);
  expect(response.body.result).to.equal('stopped');
  expect(harness.gateway.manager.state('m')).to.equal('stopped');
  await pollUntil(() => !isAlive(pid), { what: `the server ${pid} to be stopped` });
  await chatOk(harness);
  expect(pidOf(harness)).to.not.equal(pid);
  expect(harness.gateway.manager.state('m')).to.equal('ready');
}

/** A failed or hung wake: the waiting request is answered by a fresh server. */
async function wakeFallsBackToColdStart(harness: Harness): Promise<void> {
  const pid = await asleep(harness);
  await chatOk(harness);
  expect(pidOf(harness), 'a fresh server').to.not.equal(pid);
  expect(isAlive(pid), 'the server that could not wake is stopped').to.equal(false);
  expect(harness.gateway.manager.state('m')).to.equal('ready');
}

/** Answers every request 200 and prints `request METHOD URL` for each (test/integration/process/foreign-port.test.ts). */
const FOREIGN_SERVER = `
require('node:http').createServer((req, res) => {
  console.log('request ' + req.method + ' ' + req.url);
  req.resume();
  req.on('end', () => res.end('{"object":"chat.completion","choices":[]}'));
}).listen(Number(process.argv[1]), '127.0.0.1', () => console.log('listening'));
`;

async function startForeign(port: number): Promise<{ child: ChildProcess; output: () => string }> {
  const child = spawn(process.execPath, ['-e', FOREIGN_SERVER, String(port)], { stdio: ['ignore', 'pipe', 'inherit'] });
  let output = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  track({
    async close() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, 'exit');
      child.kill('SIGKILL');
      await exited;
    },
  });
  await pollUntil(() => output.includes('listening'), { timeoutMs: 10_000, what: 'the foreign server to listen' });
  return { child, output: () => output };
}

/** Model servers a CLI row saw: a SIGKILLed gateway's are no children of this process. */
const cliServers = new Set<number>();

const ROWS: readonly Row[] = [
  {
    fault: 'the model server crashes mid-stream',
    client: '200 stream: the model chunks sent before the crash, an OpenAI error event (upstream_failed), then [DONE]',
    state: 'stopped; the next request cold-starts it',
    async run() {
      const harness = await one({ cmd: genericCmd('m', ['--crash-mid-stream']) });
      const response = await request(harness.app).post('/v1/chat/completions').send(chat('m', { stream: true })).buffer(true).parse(textParser);
      expect(response.status).to.equal(200);
      const all = sseEvents(response.body as string);
      expect(all.at(-1), 'the stream still ends with [DONE] (issue 11, defect 8)').to.equal('[DONE]');
      const events = all.filter((event) => event !== '[DONE]');
      expect(events.filter((event) => event['system_fingerprint'] === 'fake-m').length, 'chunks before the crash').to.be.at.least(1);
      expectError(events.at(-1), 'upstream_failed');
      await pollUntil(() => harness.gateway.manager.state('m') === 'stopped', { what: 'the crash to be noticed' });
      await chatOk(harness); // plain requests do not crash this server
    },
  },
  {
    fault: 'the model server exits during its start (--fail-start)',
    client: '503 start_failed with a short reason (the model\'s log lines go to the gateway log, not the client); a second request is tried again',
    state: 'stopped, no process left',
    async run() {
      const logger = memoryLogger();
      const harness = await one({ cmd: genericCmd('m', ['--fail-start']) }, {}, logger);
      for (const attempt of [1, 2]) {
        const response = await request(harness.app).post('/v1/chat/completions').send(chat('m'));
        expect(response.status, `attempt ${attempt}`).to.equal(503);
        const message = expectError(response.body, 'start_failed');
        expect(message).to.include('could not start');
        expect(message, 'no server output for API clients').to.not.include('--fail-start');
        expect(harness.gateway.manager.state('m')).to.equal('stopped');
      }
      expect(failureDetails(logger)).to.include('out of memory (--fail-start)');
    },
  },
  {
    fault: 'the model server never becomes healthy (health-check timeout)',
    client: '503 start_failed once healthCheckTimeout has passed',
    state: 'stopped; the server that never became healthy is killed',
    async run() {
      const text = await configYaml({ m: { cmd: genericCmd('m', ['--start-delay', '60m']) } });
      // healthCheckTimeout has a 15 s floor (llama-swap's); the row lowers the resolved value to stay short.
      const { config } = await loadGatewayConfig({ configText: text });
      const model = config.models['m']!;
      const harness = await openGateway(text, { config: { ...config, models: { m: { ...model, healthCheckTimeoutMs: 1500 } } } });
      const answer = request(harness.app).post('/v1/chat/completions').send(chat('m')).then((response) => response);
      const pid = await pollUntil(() => harness.gateway.manager.process('m').pid, { what: 'the server to be spawned' });
      const response = await answer;
      expect(response.status, JSON.stringify(response.body)).to.equal(503);
      const message = expectError(response.body, 'start_failed');
      expect(message, message).to.match(/not ready after \d+s/);
      expect(harness.gateway.manager.state('m')).to.equal('stopped');
      await pollUntil(() => !isAlive(pid), { what: `the unhealthy server ${pid} to be killed` });
    },
  },
  {
    fault: 'the sleep call hangs (--hang-sleep, sleepRequestTimeout 1 s)',
    client: 'admin sleep: 200, result "stopped" (the failed sleep becomes a stop); the next chat: 200 from a fresh server',
    state: 'stopped after the sleep, ready after the chat',
    async run() {
      await sleepFallsBackToStop(await one(vllm(['--hang-sleep']), { sleepRequestTimeout: 1 }));
    },
  },
  {
    fault: 'the sleep call fails (--fail-sleep: 500)',
    client: 'admin sleep: 200, result "stopped"; the next chat: 200 from a fresh server',
    state: 'stopped after the sleep, ready after the chat',
    async run() {
      await sleepFallsBackToStop(await one(vllm(['--fail-sleep'])));
    },
  },
  {
    fault: 'the wake call hangs (--hang-wake, wakeRequestTimeout 1 s)',
    client: 'the chat that woke it: 200, answered by a fresh server (the failed wake becomes a cold start)',
    state: 'ready (new process); the old one stopped',
    async run() {
      await wakeFallsBackToColdStart(await one(vllm(['--hang-wake']), { wakeRequestTimeout: 1 }));
    },
  },
  {
    fault: 'the wake call fails (--fail-wake: 500)',
    client: 'the chat that woke it: 200, answered by a fresh server',
    state: 'ready (new process); the old one stopped',
    async run() {
      await wakeFallsBackToColdStart(await one(vllm(['--fail-wake'])));
    },
  },
  {
    fault: 'the model server is killed (SIGKILL) while asleep',
    client: 'the next chat: 200 from a fresh server (cold start, not a wake of a dead process)',
    state: 'stopped once the exit is noticed, then ready',
    async run() {
      const harness = await one(vllm());
      const pid = await asleep(harness);
      process.kill(pid, 'SIGKILL');
      await pollUntil(() => harness.gateway.manager.state('m') === 'stopped', { what: 'the exit to be noticed' });
      await chatOk(harness);
      expect(pidOf(harness)).to.not.equal(pid);
    },
  },
  {
    fault: 'the model server is killed (SIGKILL) while it wakes',
    client: 'the chat waiting for the wake: 200 from a fresh server',
    state: 'ready (new process)',
    async run() {
      const harness = await one(vllm(['--hang-wake']), { wakeRequestTimeout: 30 });
      const pid = await asleep(harness);
      const answer = request(harness.app).post('/v1/chat/completions').send(chat('m')).then((response) => response);
      await pollUntil(() => harness.gateway.manager.state('m') === 'waking', { what: 'the wake to begin' });
      process.kill(pid, 'SIGKILL');
      const response = await answer;
      expect(response.status, JSON.stringify(response.body)).to.equal(200);
      expect(response.body.system_fingerprint).to.equal('fake-m');
      expect(pidOf(harness)).to.not.equal(pid);
      expect(harness.gateway.manager.state('m')).to.equal('ready');
    },
  },
  {
    fault: 'the client leaves while its model loads',
    client: 'nothing more to answer; the request leaves the queue and never reaches the model',
    state: 'the load completes: ready, nothing in flight',
    async run() {
      const harness = await one(vllm(['--start-delay', '60s']), { sendLoadingState: true });
      const server = harness.app.listen(0, '127.0.0.1');
      await once(server, 'listening');
      track({ close: () => new Promise<void>((resolve) => server.close(() => resolve())) });
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      let streamed = '';
      const client = httpRequest({ port, host: '127.0.0.1', method: 'POST', path: '/v1/chat/completions', headers: { 'content-type': 'application/json' } }, (res) => {
        res.setEncoding('utf8').on('data', (chunk: string) => (streamed += chunk));
        res.on('error', () => undefined);
      });
      client.on('error', () => undefined);
      client.end(JSON.stringify(chat('m', { stream: true })));
      await pollUntil(() => streamed.includes('starting'), { what: 'the loading stream to begin' });
      client.destroy();
      await pollUntil(() => harness.gateway.manager.snapshot().queue.length === 0, { what: 'the request to leave the queue' });
      expect(harness.gateway.manager.state('m')).to.equal('starting');
      const pid = pidOf(harness);
      await pollUntil(() => /loading model m/.test(harness.gateway.manager.process('m').logs.tail(20)), { what: 'the fake to print its loading line' });
      process.kill(pid, 'SIGUSR2'); // end the start delay now
      await pollUntil(() => harness.gateway.manager.state('m') === 'ready', { what: 'the load to complete' });
      expect((await upstreamCalls(harness.gateway, 'm')).filter((call) => call.kind === 'generate')).to.have.length(0);
      expect(harness.gateway.manager.process('m').inFlight).to.equal(0);
    },
  },
  {
    fault: 'the gateway is killed (SIGKILL) and restarted (the siesta command)',
    client: 'a chat right after the restart: 200 from a fresh server',
    state: 'the dead gateway\'s server is reaped; SIGTERM then leaves no process',
    async run() {
      const dir = await tempDir('siesta-faults-');
      const config = join(dir, 'config.yaml');
      await writeFile(config, await configYaml({ m: { cmd: genericCmd('m') } }, { logLevel: 'info' }));
      const port = await freePort();
      const url = `http://127.0.0.1:${port}`;
      const args = ['-config', config, '-listen', `127.0.0.1:${port}`];
      const chatNow = async (): Promise<number> => {
        const response = await pollUntil(() => fetch(`${url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(chat('m')) }).catch(() => undefined), { timeoutMs: 30_000, what: 'the gateway to answer' });
        expect(response.status, await response.clone().text()).to.equal(200);
        const pid = (await runningPids(url))['m'];
        expect(pid).to.be.a('number');
        cliServers.add(pid!);
        return pid!;
      };
      const first = startCli(args);
      const before = await chatNow();
      const exited = once(first.child, 'exit');
      first.child.kill('SIGKILL');
      await exited;
      expect(isAlive(before), 'the server outlives its gateway').to.equal(true);
      const second = startCli(args);
      const after = await chatNow();
      expect(after).to.not.equal(before);
      expect(isAlive(before), 'the leftover is reaped').to.equal(false);
      expect(await stopCli(second)).to.equal(0);
      expect(isAlive(after)).to.equal(false);
    },
  },
  {
    fault: 'a foreign process holds the model\'s fixed port',
    client: '503 start_failed "port … is already in use" (the log names the holder\'s pid); the foreign server receives nothing',
    state: 'stopped; no server spawned',
    async run() {
      const port = await freePort();
      const foreign = await startForeign(port);
      const logger = memoryLogger();
      const harness = await one({ cmd: fakeCommand(['--port', String(port), '--backend', 'generic', '--model', 'm']), proxy: `http://127.0.0.1:${port}` }, {}, logger);
      const response = await request(harness.app).post('/v1/chat/completions').set('authorization', 'Bearer secret').send(chat('m'));
      expect(response.status, JSON.stringify(response.body)).to.equal(503);
      expect(expectError(response.body, 'start_failed')).to.include(`port ${port} is already in use`);
      expect(failureDetails(logger)).to.include(`port ${port} is already in use by pid ${foreign.child.pid}`);
      expect(harness.gateway.manager.state('m')).to.equal('stopped');
      expect(harness.gateway.manager.process('m').pid).to.equal(null);
      expect(foreign.output().split('\n').filter((line) => line.startsWith('request '))).to.deep.equal([]);
    },
  },
];

describe('e2e: fault injection (each row: fault → client outcome, final model state)', function () {
  this.timeout(60_000);
  afterEach(async function () {
    await killStarted();
    for (const pid of cliServers) {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    cliServers.clear();
    await cleanup();
    await assertNoChildren();
  });

  for (const row of ROWS) {
    it(`${row.fault} → client: ${row.client}; model: ${row.state}`, () => row.run());
  }
});

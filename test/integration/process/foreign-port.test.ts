/**
 * Issue 11, defect 1: a model with a fixed port (no `${PORT}`) was marked ready on a foreign server
 * that already listened there, which then received the prompts and the Authorization header. Now
 * every model whose proxy points at this machine gets the port-free check, and readiness is tied to
 * the process siesta started (alive, and on Linux owning the listening socket).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { expect } from 'chai';
import request from 'supertest';
import { GatewayError } from '../../../lib/errors.js';
import { ModelProcess } from '../../../lib/process/model-process.js';
import { procPortGuard, type PortGuard } from '../../../lib/process/port-check.js';
import { genericPlugin } from '../../../plugins/generic.js';
import { makeModel } from '../../helpers/model-config.js';
import { fakeCommand } from '../../helpers/fake-upstream.js';
import { freePort, pollUntil } from '../../helpers/wait.js';
import { chat, cleanup as closeGateways, configYaml, openGateway } from '../../e2e/support.js';
import { cleanUp, createProcess, fakeCmd, serveOne } from './harness.js';

/** Answers every HTTP request 200 (an OpenAI-ish body) and prints `request METHOD URL AUTH` for each. */
const FOREIGN_SERVER = `
const http = require('node:http');
http.createServer((req, res) => {
  console.log('request ' + req.method + ' ' + req.url + ' ' + (req.headers.authorization || '-'));
  req.resume();
  req.on('end', () => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ id: 'foreign', object: 'chat.completion', choices: [{ index: 0, message: { role: 'assistant', content: 'not your model' } }] }));
  });
}).listen(Number(process.argv[1]), '127.0.0.1', () => console.log('listening'));
`;

interface Foreign {
  readonly pid: number;
  /** The requests it received, as `METHOD URL AUTH`. */
  requests(): string[];
}

describe('ModelProcess: a foreign server on a fixed port (issue 11, defect 1)', function () {
  const foreigners: ChildProcess[] = [];
  const owners: ModelProcess[] = [];

  afterEach(async function () {
    await Promise.all(owners.splice(0).map((owner) => owner.shutdown()));
    await closeGateways();
    await Promise.all(foreigners.splice(0).map((child) => new Promise((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve(undefined);
      child.once('exit', resolve);
      child.kill('SIGKILL');
    })));
    await cleanUp();
  });

  async function startForeign(port: number): Promise<Foreign> {
    const child = spawn(process.execPath, ['-e', FOREIGN_SERVER, String(port)], { stdio: ['ignore', 'pipe', 'inherit'] });
    foreigners.push(child);
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    await pollUntil(() => output.includes('listening'), { timeoutMs: 10_000, what: 'the foreign server to listen' });
    return { pid: child.pid!, requests: () => output.split('\n').filter((line) => line.startsWith('request ')) };
  }

  async function failure(promise: Promise<unknown>): Promise<GatewayError> {
    const error = await promise.then(() => null, (caught: unknown) => caught);
    expect(error, 'expected the start to fail').to.be.instanceOf(GatewayError);
    return error as GatewayError;
  }

  it('answers 503 "port in use" naming the holder, spawns nothing, and the foreign server receives nothing', async function () {
    const port = await freePort();
    const foreign = await startForeign(port);
    const model = makeModel({ id: 'fixed', cmd: fakeCmd('generic', port, ['--model', 'fixed']), port: null, proxy: `http://127.0.0.1:${port}` });
    const owner = new ModelProcess({ model, plugin: genericPlugin, timeouts: { sleepTimeoutMs: 5000, wakeTimeoutMs: 5000 } });
    owners.push(owner);
    const error = await failure(owner.acquire());
    expect(error.code).to.equal('start_failed');
    expect(error.status).to.equal(503);
    expect(error.message).to.equal(`Model "fixed" could not start: port ${port} is already in use`);
    expect(error.detail).to.include(`port ${port} is already in use by pid ${foreign.pid} (node)`);
    expect(owner.state).to.equal('stopped');
    expect(owner.logs.lines().map((line) => line.text).join('\n')).to.not.include('started pid');
    expect(foreign.requests()).to.deep.equal([]);
  });

  it('through the gateway: a chat with an API key gets 503 and never reaches the foreign server', async function () {
    const port = await freePort();
    const foreign = await startForeign(port);
    const yaml = await configYaml({
      fixed: { cmd: fakeCommand(['--port', String(port), '--backend', 'generic', '--model', 'fixed']), proxy: `http://127.0.0.1:${port}` },
    });
    const { app } = await openGateway(yaml);
    const response = await request(app).post('/v1/chat/completions').set('authorization', 'Bearer secret-key').send(chat('fixed'));
    expect(response.status).to.equal(503);
    expect(JSON.stringify(response.body)).to.include(`port ${port} is already in use`);
    expect(foreign.requests()).to.deep.equal([]);
  });

  it('fails the start when a foreign server answers the health check while the child dies of EADDRINUSE', async function () {
    const port = await freePort();
    const foreign = await startForeign(port);
    // The foreign server binds between the port check and the spawn: let the first check pass, keep the real ownership check.
    const racingGuard: PortGuard = { holder: () => Promise.resolve(null), owner: (p, pid) => procPortGuard.owner(p, pid) };
    const model = makeModel({ id: 'raced', cmd: fakeCmd('generic', port, ['--model', 'raced']), port: null, proxy: `http://127.0.0.1:${port}` });
    const owner = new ModelProcess({ model, plugin: genericPlugin, timeouts: { sleepTimeoutMs: 5000, wakeTimeoutMs: 5000 }, portGuard: racingGuard });
    owners.push(owner);
    const error = await failure(owner.acquire());
    expect(error.code).to.equal('start_failed');
    // Either the ownership check names the stranger, or the child's exit is seen first.
    expect(error.message).to.match(new RegExp(`could not start: (another process answers on port ${port}|process exited early \\(code 1\\))$`));
    expect(error.detail).to.match(new RegExp(`port ${port} is answered by another process, pid ${foreign.pid} \\(node\\)|process exited early \\(code 1\\)`));
    expect(owner.state).to.equal('stopped');
    expect(owner.pid).to.equal(null);
    // It saw the health check only: no prompt, no key.
    expect(foreign.requests()).to.not.be.empty;
    expect(foreign.requests().filter((line) => line !== 'request GET /health -')).to.deep.equal([]);
  });

  it('still starts a model on a fixed port when the port is free (the child owns the listener)', async function () {
    const port = await freePort();
    const model = makeModel({ id: 'mine', cmd: fakeCmd('generic', port, ['--model', 'mine']), port: null, proxy: `http://127.0.0.1:${port}` });
    const tracked = createProcess(model, genericPlugin);
    await serveOne(tracked, model);
    expect(tracked.path()).to.deep.equal(['stopped→starting', 'starting→ready']);
  });

  it('starts a model whose server is a grandchild behind a shell (the listener is in the child\'s tree)', async function () {
    const port = await freePort();
    // `sh -c 'server; true'`: the shell stays the leader and the server is its child.
    const model = makeModel({ id: 'wrapped', cmd: ['sh', '-c', `${fakeCommand(['--port', String(port), '--backend', 'generic', '--model', 'wrapped'])}; true`], port: null, proxy: `http://127.0.0.1:${port}` });
    const tracked = createProcess(model, genericPlugin);
    await serveOne(tracked, model);
    expect(tracked.process.state).to.equal('ready');
  });
});

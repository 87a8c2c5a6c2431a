/**
 * What an API client is told when its model cannot start (issue 11 defect 12): the 503 says the
 * model could not start and a short reason (exit code, port in use, health check timed out), never
 * the command line or the server's output; the full detail stays in the gateway log and the model's
 * log (/logs).
 */
import { createServer, type Server } from 'node:net';
import { expect } from 'chai';
import request from 'supertest';
import { loadGatewayConfig } from '../../lib/gateway/load-config.js';
import { fakeCommand } from '../helpers/fake-upstream.js';
import { assertNoChildren, freePort } from '../helpers/wait.js';
import { chat, cleanup, configYaml, genericCmd, memoryLogger, openGateway, track } from './support.js';

function startFailed(body: unknown): string {
  expect(body).to.have.all.keys('error');
  const error = (body as { error: { code: string; type: string; message: string } }).error;
  expect(error).to.include({ code: 'start_failed', type: 'server_error' });
  return error.message;
}

/** Nothing of the command line or of the server's output. */
function expectNoDetail(message: string): void {
  expect(message).to.not.include('fake-upstream');
  expect(message).to.not.include('--port');
  expect(message).to.not.include('last log lines');
  expect(message).to.not.include('\n');
}

describe('e2e: start failures as API clients see them', function () {
  afterEach(async function () {
    await cleanup();
    await assertNoChildren();
  });

  it('the admin API shows admins the detail that API clients do not get', async function () {
    const { app } = await openGateway(await configYaml({ broken: { cmd: genericCmd('broken', ['--fail-start']) } }));
    const response = await request(app).post('/api/models/broken/load').expect(503);
    expect(response.body.error.message).to.equal('Model "broken" could not start: process exited early (code 1)');
    expect(String(response.body.error.detail)).to.include('out of memory (--fail-start)');
  });

  it('a server that exits: the exit code for the client, its stderr in the gateway log and /logs', async function () {
    const logger = memoryLogger();
    const { app } = await openGateway(await configYaml({ broken: { cmd: genericCmd('broken', ['--fail-start']) } }), { logger });
    const message = startFailed((await request(app).post('/v1/chat/completions').send(chat('broken')).expect(503)).body);
    expect(message).to.equal('Model "broken" could not start: process exited early (code 1)');
    expectNoDetail(message);
    expect(message).to.not.include('out of memory');
    const logged = logger.lines.find((line) => line.message === 'request failed');
    expect(String(logged?.fields.detail)).to.include('out of memory (--fail-start)').and.to.include('fake-upstream');
    const logs = await request(app).get('/logs').expect(200);
    expect(logs.text).to.include('out of memory (--fail-start)');
  });

  it('a port held by another program: "port N is already in use", not who holds it', async function () {
    const port = await freePort();
    const holder: Server = createServer();
    await new Promise<void>((resolve) => holder.listen(port, '127.0.0.1', resolve));
    track({ close: () => new Promise<void>((resolve) => holder.close(() => resolve())) });
    const { app } = await openGateway(await configYaml({ m: { cmd: fakeCommand(['--port', String(port), '--backend', 'generic', '--model', 'm']), proxy: `http://127.0.0.1:${port}` } }));
    const message = startFailed((await request(app).post('/v1/chat/completions').send(chat('m')).expect(503)).body);
    expect(message).to.equal(`Model "m" could not start: port ${port} is already in use`);
    expect(message).to.not.include('pid');
  });

  it('a server that never becomes healthy: "health check timed out"', async function () {
    const text = await configYaml({ slow: { cmd: genericCmd('slow', ['--start-delay', '60m']) } });
    // healthCheckTimeout has a 15 s floor: lower the resolved value to stay short.
    const { config } = await loadGatewayConfig({ configText: text });
    const model = config.models['slow']!;
    const { app } = await openGateway(text, { config: { ...config, models: { slow: { ...model, healthCheckTimeoutMs: 1000 } } } });
    const message = startFailed((await request(app).post('/v1/chat/completions').send(chat('slow')).expect(503)).body);
    expect(message).to.match(/^Model "slow" could not start: health check timed out: not ready after \d+s \(last check: [^)]+\)$/);
    expectNoDetail(message);
  });
});

/**
 * Crash clean-up with the siesta command (issue 11, defects 2 and 3; the fault-injection row
 * "gateway SIGKILL and restart"): a gateway killed with SIGKILL leaves its model server running;
 * the next gateway on the same configuration stops it before it serves (logged), a request sent at
 * once is answered by a fresh server, and SIGTERM at the end leaves no process. A live gateway's
 * servers are never touched: not by a gateway with another configuration in the same directory
 * (each configuration file has its own default state directory), not by a second gateway on the
 * same configuration (which says that another live gateway owns them).
 */
import { once } from 'node:events';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { expect } from 'chai';
import { parse, stringify } from 'yaml';
import { assertNoChildren, freePort, isAlive, pollUntil } from '../../helpers/wait.js';
import { cleanup, configYaml, genericCmd, tempDir } from '../../e2e/support.js';
import { descendants, killStarted, runningPids, startCli, stopCli, type Cli } from './support.js';

/** Model servers a test saw; a SIGKILLed gateway's are no children of this process, so they are killed here. */
const seen = new Set<number>();

function killGroup(pid: number): void {
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // gone
  }
}

/**
 * A chat sent as soon as the gateway accepts connections (connection refused is retried, nothing
 * else): the status and the body of the first answer.
 */
async function chatAtOnce(url: string, model: string): Promise<{ status: number; body: string }> {
  return pollUntil(async () => {
    let response: Response;
    try {
      response = await fetch(`${url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }] }),
      });
    } catch (error) {
      if ((error as { cause?: { code?: string } }).cause?.code === 'ECONNREFUSED') return undefined;
      throw error;
    }
    return { status: response.status, body: await response.text() };
  }, { timeoutMs: 30_000, what: `a first answer from ${url}` });
}

async function sigkill(cli: Cli): Promise<void> {
  const exited = once(cli.child, 'exit');
  cli.child.kill('SIGKILL');
  await exited;
}

/** The pid of `model`'s server, as the gateway reports it. */
async function serverPid(url: string, model: string): Promise<number> {
  const pid = (await runningPids(url))[model];
  expect(pid, `${model} runs`).to.be.a('number');
  seen.add(pid!);
  return pid!;
}

/** Config text without the harness's explicit stateDir (the default applies). */
async function configWithDefaultStateDir(models: Parameters<typeof configYaml>[0], global: Record<string, unknown> = {}): Promise<string> {
  const { stateDir: _stateDir, ...rest } = parse(await configYaml(models, { logLevel: 'info', ...global })) as Record<string, unknown>;
  return stringify(rest);
}

describe('the siesta command after a crash (SIGKILL) and with two gateways', function () {
  this.timeout(90_000);
  afterEach(async function () {
    await killStarted();
    for (const pid of seen) killGroup(pid);
    await pollUntil(() => [...seen].every((pid) => !isAlive(pid)), { what: 'model servers to be gone' });
    seen.clear();
    await cleanup();
    await assertNoChildren();
  });

  it('SIGKILL, restart, request at once (twice): a fresh server answers, the leftover is reaped; SIGTERM leaves no process', async function () {
    const dir = await tempDir('siesta-crash-');
    const config = join(dir, 'config.yaml');
    // The server ignores SIGTERM: reaping it takes the whole unloadTimeout (1 s), the window in
    // which a request used to start a second server.
    await writeFile(config, await configWithDefaultStateDir({ m: { cmd: genericCmd('m', ['--ignore-sigterm']), unloadTimeout: 1 } }));
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const args = ['-config', config, '-listen', `127.0.0.1:${port}`];

    let cli = startCli(args);
    let answer = await chatAtOnce(url, 'm');
    expect(answer.status, answer.body).to.equal(200);
    const pids = [await serverPid(url, 'm')];

    for (const round of [1, 2]) {
      await sigkill(cli);
      expect(isAlive(pids.at(-1)!), `round ${round}: the SIGKILLed gateway's server outlives it`).to.equal(true);
      cli = startCli(args);
      answer = await chatAtOnce(url, 'm');
      expect(answer.status, `round ${round}: ${answer.body}\n${cli.output()}`).to.equal(200);
      const pid = await serverPid(url, 'm');
      expect(pids, `round ${round}: a fresh server`).to.not.include(pid);
      for (const old of pids) expect(isAlive(old), `round ${round}: leftover ${old} reaped`).to.equal(false);
      expect(cli.output()).to.match(new RegExp(`stopped a model server left by a gateway that died.*model=m.*pid=${pids.at(-1)}.*ms=\\d+`));
      pids.push(pid);
    }

    const below = descendants(cli.child.pid!);
    expect(below).to.include(pids.at(-1));
    expect(await stopCli(cli)).to.equal(0);
    for (const pid of pids) expect(isAlive(pid), `server ${pid} gone`).to.equal(false);
  });

  it('two gateways, two configuration files in one directory: neither touches the other\'s servers', async function () {
    const dir = await tempDir('siesta-two-');
    const configA = join(dir, 'a.yaml');
    const configB = join(dir, 'b.yaml');
    await writeFile(configA, await configWithDefaultStateDir({ a: { cmd: genericCmd('a') } }));
    await writeFile(configB, await configWithDefaultStateDir({ b: { cmd: genericCmd('b') } }));
    const [portA, portB] = [await freePort(), await freePort()];
    const [urlA, urlB] = [`http://127.0.0.1:${portA}`, `http://127.0.0.1:${portB}`];

    const cliA = startCli(['-config', configA, '-listen', `127.0.0.1:${portA}`]);
    expect((await chatAtOnce(urlA, 'a')).status).to.equal(200);
    const pidA = await serverPid(urlA, 'a');

    const cliB = startCli(['-config', configB, '-listen', `127.0.0.1:${portB}`]);
    await cliB.waitFor('siesta: serving 1 models');
    expect((await chatAtOnce(urlB, 'b')).status).to.equal(200);
    const pidB = await serverPid(urlB, 'b');

    expect(isAlive(pidA), 'a\'s server survives b\'s start').to.equal(true);
    expect(await serverPid(urlA, 'a')).to.equal(pidA);
    expect((await chatAtOnce(urlA, 'a')).status).to.equal(200);
    expect(cliB.output()).to.not.include('left by a gateway that died');

    // And the other way round: a's gateway restarted (SIGTERM) does not touch b's server.
    expect(await stopCli(cliA)).to.equal(0);
    const cliA2 = startCli(['-config', configA, '-listen', `127.0.0.1:${portA}`]);
    await cliA2.waitFor('siesta: serving 1 models');
    expect(isAlive(pidB), 'b\'s server survives a\'s restart').to.equal(true);
    expect(await serverPid(urlB, 'b')).to.equal(pidB);
    expect(await stopCli(cliA2)).to.equal(0);
    expect(await stopCli(cliB)).to.equal(0);
  });

  it('a second gateway on the same configuration leaves the live first one\'s servers alone and says so', async function () {
    const dir = await tempDir('siesta-same-');
    const config = join(dir, 'config.yaml');
    await writeFile(config, await configWithDefaultStateDir({ m: { cmd: genericCmd('m') } }));
    const [port1, port2] = [await freePort(), await freePort()];
    const [url1, url2] = [`http://127.0.0.1:${port1}`, `http://127.0.0.1:${port2}`];

    const first = startCli(['-config', config, '-listen', `127.0.0.1:${port1}`]);
    expect((await chatAtOnce(url1, 'm')).status).to.equal(200);
    const pid = await serverPid(url1, 'm');

    const second = startCli(['-config', config, '-listen', `127.0.0.1:${port2}`]);
    await second.waitFor('siesta: serving 1 models');
    expect(second.output()).to.match(new RegExp(`model servers of another live gateway left alone.*gatewayPid=${first.child.pid}.*models=m`));
    expect(isAlive(pid), 'the first gateway\'s server survives').to.equal(true);
    expect(await serverPid(url1, 'm')).to.equal(pid);
    expect((await chatAtOnce(url1, 'm')).status).to.equal(200);
    expect(await runningPids(url2)).to.deep.equal({});

    expect(await stopCli(second)).to.equal(0);
    expect(isAlive(pid), 'the second gateway\'s exit does not stop it either').to.equal(true);
    expect(await stopCli(first)).to.equal(0);
    expect(isAlive(pid)).to.equal(false);
  });
});

/**
 * sleep.method: cuda-checkpoint against the fake binary (fake-upstream/cuda-checkpoint/): the
 * evicted fake upstream is "checkpointed" (SIGSTOP, /proc state T), a request resumes it (SIGCONT)
 * and is served by the same process; a failed checkpoint resumes the model and stops it.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import request from 'supertest';
import { assertNoChildren, isAlive, pollUntil } from '../helpers/wait.js';
import { chat, cleanup, configYaml, genericCmd, openGateway, tempDir, type Harness } from './support.js';

const FAKE_BINARY = fileURLToPath(new URL('../../fake-upstream/cuda-checkpoint/cuda-checkpoint', import.meta.url));

/** The scheduler state letter of a process (`T` = stopped by a signal). */
async function procState(pid: number): Promise<string> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0] ?? '';
}

describe('e2e: sleep.method cuda-checkpoint (fake binary)', function () {
  let stateDir: string;
  const previousDir = process.env.FAKE_CUDA_CHECKPOINT_DIR;

  beforeEach(async function () {
    stateDir = await tempDir('siesta-cuda-');
    process.env.FAKE_CUDA_CHECKPOINT_DIR = stateDir;
  });

  afterEach(async function () {
    await cleanup();
    await assertNoChildren();
    if (previousDir === undefined) delete process.env.FAKE_CUDA_CHECKPOINT_DIR;
    else process.env.FAKE_CUDA_CHECKPOINT_DIR = previousDir;
  });

  async function pair(): Promise<Harness> {
    return openGateway(
      await configYaml(
        {
          a: { cmd: genericCmd('a'), sleep: { method: 'cuda-checkpoint' } },
          b: { cmd: genericCmd('b') },
        },
        { groups: { gpu: { swap: true, members: ['a', 'b'] } }, cudaCheckpoint: { path: FAKE_BINARY } },
      ),
    );
  }

  const calls = async (): Promise<string[]> => (await readFile(join(stateDir, 'calls.log'), 'utf8')).trim().split('\n');

  it('a swap checkpoints the model (process stopped), a request restores it and is served by the same process', async function () {
    const { gateway, app } = await pair();
    await request(app).post('/v1/chat/completions').send(chat('a')).expect(200);
    const pid = gateway.manager.process('a').pid as number;

    await request(app).post('/v1/chat/completions').send(chat('b')).expect(200);
    expect(gateway.manager.state('a')).to.equal('asleep');
    expect(await procState(pid), 'checkpointed: SIGSTOP').to.equal('T');
    const slept = await calls();
    expect(slept[1]).to.match(new RegExp(`^--action lock --pid ${pid} --timeout \\d+$`));
    expect([slept[0], ...slept.slice(2)]).to.deep.equal([`--get-state --pid ${pid}`, `--action checkpoint --pid ${pid}`, `--get-state --pid ${pid}`]);

    await request(app).post('/v1/chat/completions').send(chat('a')).expect(200);
    expect(gateway.manager.state('a')).to.equal('ready');
    expect(gateway.manager.process('a').pid, 'woken, not restarted').to.equal(pid);
    expect(await procState(pid)).to.not.equal('T');
    expect((await calls()).slice(4)).to.deep.equal([`--action restore --pid ${pid}`, `--action unlock --pid ${pid}`, `--get-state --pid ${pid}`]);
  });

  it('a missing binary: one warning naming it, and the model is stopped on a swap instead of checkpointed', async function () {
    const { gateway, app } = await openGateway(
      await configYaml(
        { a: { cmd: genericCmd('a'), sleep: { method: 'cuda-checkpoint' } }, b: { cmd: genericCmd('b') } },
        { groups: { gpu: { swap: true, members: ['a', 'b'] } }, cudaCheckpoint: { path: join(stateDir, 'no-such-cuda-checkpoint') } },
      ),
    );
    const warnings = gateway.warnings.filter((warning) => warning.path === 'models.a.sleep.method');
    expect(warnings).to.have.length(1);
    expect(warnings[0]?.message).to.include('no-such-cuda-checkpoint');
    await request(app).post('/v1/chat/completions').send(chat('a')).expect(200);
    await request(app).post('/v1/chat/completions').send(chat('b')).expect(200);
    expect(gateway.manager.state('a')).to.equal('stopped');
  });

  it('a failed checkpoint resumes what was locked and falls back to stop; the model is never left suspended', async function () {
    const { gateway, app } = await pair();
    await request(app).post('/v1/chat/completions').send(chat('a')).expect(200);
    const pid = gateway.manager.process('a').pid as number;
    await writeFile(join(stateDir, 'fail'), 'checkpoint');

    await request(app).post('/v1/chat/completions').send(chat('b')).expect(200);
    expect(gateway.manager.state('a')).to.equal('stopped');
    await pollUntil(() => !isAlive(pid), { timeoutMs: 5000, what: 'the model process to exit' });
    expect((await calls()).slice(2)).to.deep.equal([`--action checkpoint --pid ${pid}`, `--action unlock --pid ${pid}`]);

    await writeFile(join(stateDir, 'fail'), '');
    await request(app).post('/v1/chat/completions').send(chat('a')).expect(200);
    expect(gateway.manager.state('a')).to.equal('ready');
  });
});

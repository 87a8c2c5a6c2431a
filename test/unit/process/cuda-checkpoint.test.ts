/**
 * The CUDA checkpoint executor (lib/process/cuda-checkpoint.ts) with a fake exec: which processes
 * are handled, in which order, and the rollback after a failure; plus the pure helpers.
 */
import { expect } from 'chai';
import { silentLogger } from '../../../lib/logger.js';
import { CudaCheckpointer, descendantsOf, parseCudaState, type ExecFn } from '../../../lib/process/cuda-checkpoint.js';
import { parseStat } from '../../../lib/process/proc-sockets.js';
import type { CudaCheckpointStep } from '../../../lib/plugins/types.js';
import { resolveRecipe } from '../../../lib/plugins/recipes.js';
import { genericPlugin } from '../../../plugins/generic.js';
import { makeModel } from '../../helpers/model-config.js';

const suspend: CudaCheckpointStep = { kind: 'cuda-checkpoint', action: 'suspend', binary: '/opt/cuda-checkpoint', timeoutMs: 5000 };
const resume: CudaCheckpointStep = { ...suspend, action: 'resume' };

/** A fake binary: pids in `cuda` have CUDA state, `failAt` names an `action pid` that fails. */
function fakeExec(cuda: number[], failAt?: string): { exec: ExecFn; calls: string[] } {
  const states = new Map<number, string>(cuda.map((pid) => [pid, 'running']));
  const calls: string[] = [];
  const exec: ExecFn = (file, args) => {
    expect(file).to.equal('/opt/cuda-checkpoint');
    const pid = Number(args[args.indexOf('--pid') + 1]);
    const action = args.includes('--get-state') ? 'get-state' : (args[args.indexOf('--action') + 1] as string);
    calls.push(`${action} ${pid}`);
    if (failAt === `${action} ${pid}`) return Promise.reject(new Error('fake failure'));
    const state = states.get(pid);
    if (state === undefined) return Promise.reject(new Error('no CUDA state'));
    if (action === 'get-state') return Promise.resolve(`${state}\n`);
    states.set(pid, { lock: 'locked', checkpoint: 'checkpointed', restore: 'locked', unlock: 'running' }[action] ?? state);
    return Promise.resolve('');
  };
  return { exec, calls };
}

const checkpointer = (exec: ExecFn, tree: number[]): CudaCheckpointer => new CudaCheckpointer({ exec, tree: () => Promise.resolve(tree), log: silentLogger, id: () => 'm' });

describe('cuda checkpoint executor (fake exec)', function () {
  it('locks every CUDA process of the tree, then checkpoints, confirms; resumes in reverse order', async function () {
    const { exec, calls } = fakeExec([10, 12]);
    const runner = checkpointer(exec, [10, 11, 12]);
    await runner.run(suspend);
    expect(calls).to.deep.equal(['get-state 10', 'get-state 11', 'get-state 12', 'lock 10', 'lock 12', 'checkpoint 10', 'checkpoint 12', 'get-state 10', 'get-state 12']);
    expect(runner.suspended).to.deep.equal([10, 12]);
    calls.length = 0;
    await runner.run(resume);
    expect(calls).to.deep.equal(['restore 12', 'restore 10', 'unlock 12', 'unlock 10', 'get-state 12', 'get-state 10']);
    expect(runner.suspended).to.deep.equal([]);
  });

  it('a failed checkpoint restores and unlocks what was done, newest first, then throws', async function () {
    const { exec, calls } = fakeExec([10, 12], 'checkpoint 12');
    const error = await checkpointer(exec, [10, 12]).run(suspend).then(() => null, (caught: Error) => caught);
    expect(error?.message).to.equal('checkpoint of process 12: fake failure');
    expect(calls.slice(4)).to.deep.equal(['checkpoint 10', 'checkpoint 12', 'restore 10', 'unlock 12', 'unlock 10']);
  });

  it('a failed lock unlocks the processes already locked', async function () {
    const { exec, calls } = fakeExec([10, 12], 'lock 12');
    const error = await checkpointer(exec, [10, 12]).run(suspend).then(() => null, (caught: Error) => caught);
    expect(error?.message).to.equal('lock of process 12: fake failure');
    expect(calls.slice(2)).to.deep.equal(['lock 10', 'lock 12', 'unlock 10']);
  });

  it('a tree without CUDA state cannot sleep', async function () {
    const { exec } = fakeExec([]);
    const error = await checkpointer(exec, [10, 11]).run(suspend).then(() => null, (caught: Error) => caught);
    expect(error?.message).to.equal('no process of the model has CUDA state (asked 10, 11)');
  });

  it('a failed restore still tries the rest, then throws', async function () {
    const { exec, calls } = fakeExec([10, 12], 'restore 12');
    const runner = checkpointer(exec, [10, 12]);
    await runner.run(suspend);
    calls.length = 0;
    const error = await runner.run(resume).then(() => null, (caught: Error) => caught);
    expect(error?.message).to.equal('restore of process 12: fake failure');
    expect(calls).to.deep.equal(['restore 12', 'restore 10', 'unlock 10']);
  });

  it('pure helpers: state words, /proc stat ppid, descendants parents first', function () {
    expect(parseCudaState('checkpointed\n')).to.equal('checkpointed');
    expect(parseCudaState('error: no such process')).to.equal(null);
    expect(parseStat('42 (my (odd) name) S 7 42 42 0')?.ppid).to.equal(7);
    expect(descendantsOf(1, new Map([[2, 1], [3, 2], [4, 1], [5, 9]]))).to.deep.equal([1, 2, 4, 3]);
  });

  it('resolveRecipe: sleep.method cuda-checkpoint gives cuda steps with the configured binary, whatever the plugin', function () {
    const model = makeModel({ id: 'm', cmd: ['server'], sleep: { enabled: true, level: 1, method: 'cuda-checkpoint', checkpointBinary: '/opt/cuda-checkpoint' } });
    const recipe = resolveRecipe(model, genericPlugin, { sleepTimeoutMs: 11_000, wakeTimeoutMs: 22_000 });
    expect(recipe).to.deep.equal({
      name: 'cuda-checkpoint',
      level: 1,
      sleep: [],
      wake: [],
      cuda: { sleep: [{ ...suspend, timeoutMs: 11_000 }], wake: [{ ...resume, timeoutMs: 22_000 }] },
    });
  });
});

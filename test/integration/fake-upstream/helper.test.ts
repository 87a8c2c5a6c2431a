import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { expect } from 'chai';
import { parse } from 'shell-quote';
import { FAKE_UPSTREAM_PATH, fakeArgv, fakeCommand } from '../../helpers/fake-upstream.js';
import { assertNoFakeChildren } from './support.js';

describe('test helper fakeCommand', function () {
  after(async function () {
    await assertNoFakeChildren();
  });

  it('builds a command line that splits back into the argv, leaving ${PORT} for siesta to expand', function () {
    const command = fakeCommand(['--backend', 'vllm', '--port', '${PORT}', '--model', "it's a model"]);
    expect(command).to.contain(' --port ${PORT} ');
    expect(command.startsWith(`${process.execPath} --import file://`)).to.equal(true);
    const words = parse(command.replace('${PORT}', '5800'));
    expect(words).to.deep.equal([process.execPath, ...fakeArgv(['--backend', 'vllm', '--port', '5800', '--model', "it's a model"])]);
    expect(words).to.include(FAKE_UPSTREAM_PATH);
  });

  it('runs from any working directory', async function () {
    const [file, ...args] = parse(fakeCommand(['--backend', 'vllm', '--port', '1', '--model', 'x', '--fail-start'])) as string[];
    const child = spawn(file ?? '', args, { cwd: tmpdir(), stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const [code] = (await once(child, 'close')) as [number | null];
    expect(code).to.equal(1);
    expect(stderr).to.match(/failed to load model 'x'/);
  });
});
